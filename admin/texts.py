"""Text the admin shows people, kept translatable: a message id with its parameters.

A `Text` is a `str` holding its English rendering, so it goes wherever a string goes (the REST
API's JSON, logs, `str(exc)`); it also keeps its message id and parameters, so the console and
the alarms render it again in the reader's language with a gettext catalog (`render`). Mark text
with `_t("job %(id)s not found", id=job_id)` or `_nt(singular, plural, n, ...)` (`num` is `n`);
babel extracts both (babel.cfg). A parameter may itself be a `Text` (translated with its
message) or a tuple of them (each translated, joined with "; "); translated fragments are never
glued together by hand.

Standard library only: admin/schedules, which stays pure, marks its syntax errors with it too.
"""

from __future__ import annotations

import gettext
from collections.abc import Mapping
from pathlib import Path
from typing import Protocol


class Catalog(Protocol):
    """What a gettext catalog offers (gettext.NullTranslations, babel.support.Translations)."""

    def gettext(self, message: str, /) -> str: ...

    def ngettext(self, msgid1: str, msgid2: str, n: int, /) -> str: ...


#: The source language: the message ids themselves.
ENGLISH: Catalog = gettext.NullTranslations()
#: The catalogs: `<language>/LC_MESSAGES/messages.po` and the compiled `.mo` beside it.
TRANSLATIONS_DIR = Path(__file__).resolve().parent / "translations"


def catalog_for(language: str) -> Catalog:
    """The compiled catalog of `language` (read with the standard library, no Flask needed: the
    alarms are written in scheduler processes); English for "en"."""
    if language == "en":
        return ENGLISH
    return gettext.translation("messages", localedir=TRANSLATIONS_DIR, languages=[language])


class Text(str):
    """A translatable message; the string value is its English rendering."""

    msgid: str
    plural: str | None
    plural_count: int | None
    params: Mapping[str, object]

    def __new__(cls, msgid: str, params: Mapping[str, object] | None = None, *, plural: str | None = None, count: int | None = None) -> Text:
        frozen = dict(params or {})
        if plural is not None and count is not None:
            frozen.setdefault("num", count)
        text = super().__new__(cls, _format(msgid, plural, count, frozen, ENGLISH))
        text.msgid, text.plural, text.plural_count, text.params = msgid, plural, count, frozen
        return text

    def __reduce__(self):  # copy/pickle keep the message, not only its English
        return (_rebuild, (self.msgid, dict(self.params), self.plural, self.plural_count))


def _rebuild(msgid: str, params: dict[str, object], plural: str | None, count: int | None) -> Text:
    return Text(msgid, params, plural=plural, count=count)


def _t(msgid: str, /, **params: object) -> Text:
    """Mark `msgid` for translation; `%(name)s` placeholders take `params`."""
    return Text(msgid, params)


def _nt(singular: str, plural: str, count: int, /, **params: object) -> Text:
    """Mark a message with a plural form; `%(num)d` is `count`."""
    return Text(singular, params, plural=plural, count=count)


def N_(msgid: str) -> str:  # noqa: N802 - gettext's own name for "mark, translate later"
    """Mark a message id kept in a table; `Text(msgid, params)` renders it later."""
    return msgid


def untranslated(text: str) -> Text:
    """Text that stays English on purpose (the command line's messages), as a `Text`."""
    return Text("%(text)s", {"text": text})


def render(value: object, catalog: Catalog) -> str:
    """`value` in the catalog's language: a `Text` translated, a tuple item by item, else `str(value)`."""
    if isinstance(value, Text):
        return _format(value.msgid, value.plural, value.plural_count, value.params, catalog)
    if isinstance(value, tuple):
        return "; ".join(render(item, catalog) for item in value)
    return str(value)


def _format(msgid: str, plural: str | None, count: int | None, params: Mapping[str, object], catalog: Catalog) -> str:
    if plural is not None and count is not None:
        pattern = catalog.ngettext(msgid, plural, count)
    else:
        pattern = catalog.gettext(msgid)
    if not params:
        return pattern
    values = {name: value if isinstance(value, int | float) else render(value, catalog) for name, value in params.items()}
    try:
        return pattern % values
    except (KeyError, ValueError, TypeError):
        if catalog is ENGLISH:
            raise  # a broken message id is a bug the tests must see
        return _format(msgid, plural, count, params, ENGLISH)  # a broken translation falls back to English
