"""The Chinese catalog is complete and compiled: every string marked for translation (templates,
admin/web, and the services', schedule checks' and alarms' `_t` texts, extracted here with babel's
own extractor and babel.cfg) has a zh entry
with the same placeholders, and the committed .mo says exactly what the .po says."""

from __future__ import annotations

import gettext
import re
from configparser import ConfigParser
from pathlib import Path

from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from shardcron.admin.i18n import SUPPORTED_LOCALES, TRANSLATIONS_DIR

ROOT = Path(__file__).resolve().parents[3]
#: The marker functions, as babel's keyword specifications: the console's (Flask-Babel) and
#: admin/texts.py's, which the services, the schedule checks and the alarms use.
KEYWORDS = {"_": None, "gettext": None, "ngettext": (1, 2), "_l": None, "lazy_gettext": None, "_t": None, "_nt": (1, 2), "N_": None}
PLACEHOLDER = re.compile(r"%\([a-z_]+\)[sd]|\{[a-z_]+\}")


def _method_map() -> list[tuple[str, str]]:
    config = ConfigParser()
    config.read(ROOT / "babel.cfg")
    pairs = []
    for section in config.sections():
        method, _, pattern = section.partition(":")
        pairs.append((pattern.strip(), method.strip()))
    return pairs


def marked_messages() -> dict[str, str]:
    """msgid (the singular for a plural) -> where it is marked, extracted from the sources."""
    found: dict[str, str] = {}
    for filename, _lineno, message, _comments, _context in extract_from_dir(ROOT, _method_map(), keywords=KEYWORDS):
        msgid = message[0] if isinstance(message, tuple) else message
        if msgid:
            found.setdefault(msgid, filename)
    return found


def _catalog(locale: str):
    with open(TRANSLATIONS_DIR / locale / "LC_MESSAGES" / "messages.po", "rb") as handle:
        return read_po(handle, locale=locale)


def test_extraction_finds_the_console_strings() -> None:
    marked = marked_messages()
    # Templates, Python views, lazily marked labels and plurals all reach the extractor.
    assert {"Executor groups", "Job %(name)s saved.", "SHARDING_BROADCAST", "live executors in %(num)d group"} <= set(marked)
    # ... and the services' messages, the cron syntax errors and the NotFound table (N_).
    assert {"unknown field", "%(field)s range '%(range)s' runs backwards", "job %(id)s not found", "must be between %(low)s and %(high)s"} <= set(marked)
    assert len(marked) > 300


def test_every_marked_string_has_a_chinese_entry_with_the_same_placeholders() -> None:
    catalog = _catalog("zh")
    missing, fuzzy, wrong_placeholders = [], [], []
    for msgid, where in sorted(marked_messages().items()):
        message = catalog.get(msgid)
        strings = [s for s in (message.string if message and isinstance(message.string, tuple) else [message.string if message else ""])]
        if message is None or not all(strings):
            missing.append(f"{where}: {msgid}")
            continue
        if message.fuzzy:
            fuzzy.append(msgid)
        for text in strings:
            if sorted(set(PLACEHOLDER.findall(text))) != sorted(set(PLACEHOLDER.findall(msgid))):
                wrong_placeholders.append(msgid)
    assert missing == [], "no zh translation (run pybabel update, see babel.cfg)"
    assert fuzzy == [] and wrong_placeholders == []


def test_the_committed_mo_is_compiled_from_the_po() -> None:
    for locale in SUPPORTED_LOCALES:
        po_path = TRANSLATIONS_DIR / locale / "LC_MESSAGES" / "messages.po"
        if locale == "en":
            assert not po_path.exists()  # English is the source language: the msgids themselves
            continue
        with open(po_path.with_suffix(".mo"), "rb") as handle:
            compiled = gettext.GNUTranslations(handle)
        for message in _catalog(locale):
            if not message.id:
                continue
            if isinstance(message.id, tuple):
                assert compiled.ngettext(message.id[0], message.id[1], 1) == message.string[0], f"stale .mo: {message.id[0]!r}"
            else:
                assert compiled.gettext(message.id) == message.string, f"stale .mo: {message.id!r} (run pybabel compile)"
        # and nothing compiled that the .po no longer has
        assert set(compiled._catalog) - {""} <= {m.id if isinstance(m.id, str) else (m.id[0], 0) for m in _catalog(locale)}
