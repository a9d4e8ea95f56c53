"""Reading an import document: JSON or YAML text, bounded in size, into plain Python values.

The format is the one asked for, else the file name's extension, else the content (a document
whose first character is `{` is JSON). Anything that is not one well-formed object is refused
with one line that says where (`DocumentError`, HTTP 400), before any of it is checked.
"""

from __future__ import annotations

import json
from typing import Any

import yaml

from ..services.errors import ServiceError
from ..texts import _t

FORMATS = ("json", "yaml")


class DocumentError(ServiceError):
    """The bytes are not a readable export document (too large, not UTF-8, not JSON/YAML, not an object)."""


def guess_format(text: str, filename: str | None = None) -> str:
    """`json` or `yaml`: by the file name's extension, else by the content."""
    lowered = (filename or "").lower()
    if lowered.endswith(".json"):
        return "json"
    if lowered.endswith((".yaml", ".yml")):
        return "yaml"
    return "json" if text.lstrip().startswith("{") else "yaml"


def _json(text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise DocumentError(_t("not a JSON document: line %(line)s, column %(column)s: %(problem)s", line=exc.lineno, column=exc.colno, problem=exc.msg)) from None
    except RecursionError:
        raise DocumentError(_t("the document nests too deeply")) from None


def _yaml(text: str) -> Any:
    try:
        return yaml.safe_load(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        where = _t("line %(line)s, column %(column)s", line=mark.line + 1, column=mark.column + 1) if mark is not None else _t("somewhere")
        raise DocumentError(_t("not a YAML document: %(where)s: %(problem)s", where=where, problem=exc.problem or str(exc))) from None
    except yaml.YAMLError as exc:
        raise DocumentError(_t("not a YAML document: %(problem)s", problem=str(exc).splitlines()[0] if str(exc) else type(exc).__name__)) from None
    except RecursionError:
        raise DocumentError(_t("the document nests too deeply")) from None


def read_document(raw: bytes | str, *, max_bytes: int, fmt: str | None = None, filename: str | None = None) -> dict[str, Any]:
    """The document in `raw` as a dict; a DocumentError (one line) when it cannot be read."""
    size = len(raw.encode("utf-8")) if isinstance(raw, str) else len(raw)
    if size > max_bytes:
        raise DocumentError(_t("the document is %(size)s bytes; at most %(limit)s are read (setting import_max_bytes)", size=size, limit=max_bytes), status=413)
    if isinstance(raw, bytes):
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise DocumentError(_t("the document is not UTF-8 text (byte %(offset)s)", offset=exc.start)) from None
    else:
        text = raw
    if not text.strip():
        raise DocumentError(_t("the document is empty"))
    if fmt is not None and fmt not in FORMATS:
        raise DocumentError(_t("format must be json or yaml"), field_errors={"format": _t("must be json or yaml")})
    chosen = fmt or guess_format(text, filename)
    document = _json(text) if chosen == "json" else _yaml(text)
    if not isinstance(document, dict):
        raise DocumentError(_t("the document must be an object with shardcron_export, groups and jobs"))
    _check_values(document, budget=max_bytes)
    return document


def _check_values(document: dict[str, Any], *, budget: int) -> None:
    """Refuse a NUL character anywhere (no field holds one, and PostgreSQL refuses them in any
    query), and a document that YAML aliases expand past `budget` values (each value written out
    takes at least a byte, so only aliases get there)."""
    stack: list[tuple[str, Any]] = [("", document)]
    seen = 0
    while stack:
        place, value = stack.pop()
        seen += 1
        if seen > budget:
            raise DocumentError(_t("the document repeats itself too often (YAML aliases); write it out in full"))
        if isinstance(value, str):
            if "\x00" in value:
                raise DocumentError(_t("NUL characters are not accepted (at %(place)s)", place=place or "/"))
        elif isinstance(value, dict):
            for key, item in value.items():
                name = str(key)
                if "\x00" in name:
                    raise DocumentError(_t("NUL characters are not accepted (at %(place)s)", place=place or "/"))
                stack.append((f"{place}.{name}" if place else name, item))
        elif isinstance(value, list):
            stack.extend((f"{place}[{index}]", item) for index, item in enumerate(value))


def write_document(document: dict[str, Any], fmt: str) -> str:
    """The document as text: JSON indented by two, or YAML in the document's own key order."""
    if fmt == "yaml":
        return yaml.safe_dump(document, sort_keys=False, allow_unicode=True)
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"
