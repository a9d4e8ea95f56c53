"""Every message a service, a schedule check or an API/console view raises is marked for
translation: read from the source with `ast`, the message given to an error (ServiceError,
NotFound, Forbidden, Conflict, ScheduleError, CronError, FieldError), to `errors.add(field, ...)`
and to `errors.raise_if_any(...)` is never a bare string, an f-string or a string built with `+`
or `%` — it is `_t(...)` / `_nt(...)` (or a value that holds one; mypy checks those are `Text`).
A marked message with no Chinese entry fails tests/admin/web/test_translations.py, which
extracts these folders too (babel.cfg)."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

ADMIN = Path(__file__).resolve().parents[2] / "admin"
SCANNED = ("services", "schedules", "api", "web")
#: Error class -> the positional index of its message (NotFound(kind, id, message)).
RAISERS = {"ServiceError": 0, "Forbidden": 0, "Conflict": 0, "NotFound": 2, "ScheduleError": 1, "CronError": 0, "FieldError": 0}
#: Where a `Text` may be built from a bare message id: the module that defines it and the
#: NotFound table (its ids are marked with N_).
TEXT_BUILDERS = {"texts.py", "errors.py"}


def _callee(call: ast.Call) -> str:
    func = call.func
    return func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""


def _unmarked(node: ast.expr) -> bool:
    """A message written in place and not marked: a literal, an f-string, text glued with + or %,
    or str.format; a conditional is unmarked when either branch is."""
    if isinstance(node, ast.Constant):
        return isinstance(node.value, str)
    if isinstance(node, ast.JoinedStr):
        return True
    if isinstance(node, ast.BinOp):
        return isinstance(node.op, (ast.Add, ast.Mod))
    if isinstance(node, ast.IfExp):
        return _unmarked(node.body) or _unmarked(node.orelse)
    if isinstance(node, ast.BoolOp):
        return any(_unmarked(value) for value in node.values)
    if isinstance(node, ast.Call):
        return _callee(node) in ("format", "str", "join")
    return False


def _messages(call: ast.Call) -> Iterator[ast.expr]:
    """The message arguments of one call, if it is a call that takes a message."""
    name = _callee(call)
    if name in RAISERS:
        index = RAISERS[name]
        if len(call.args) > index:
            yield call.args[index]
        for keyword in call.keywords:
            if keyword.arg == "message":
                yield keyword.value
            elif keyword.arg == "field_errors":
                if isinstance(keyword.value, ast.Dict):
                    yield from (value for value in keyword.value.values if value is not None)
                elif isinstance(keyword.value, ast.DictComp):
                    yield keyword.value.value
    elif name == "add" and isinstance(call.func, ast.Attribute) and len(call.args) == 2:
        receiver = call.func.value
        if isinstance(receiver, ast.Name) and receiver.id.endswith("errors"):
            yield call.args[1]
    elif name == "raise_if_any" and call.args:
        yield call.args[0]


def unmarked_messages(source: str, filename: str) -> list[str]:
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(source, filename)):
        if not isinstance(node, ast.Call):
            continue
        for message in _messages(node):
            if _unmarked(message):
                found.append((message.lineno, f"{filename}:{message.lineno}: {ast.unparse(message)[:90]}"))
        if _callee(node) == "Text" and Path(filename).name not in TEXT_BUILDERS:
            found.append((node.lineno, f"{filename}:{node.lineno}: Text(...) built by hand; mark it with _t"))
    return [text for _line, text in sorted(found)]


def test_the_scan_sees_each_kind_of_unmarked_message() -> None:
    source = '''
def check(errors, job, exc):
    errors.add("name", "is required")
    errors.add("name", f"is {len(job)} long")
    field_errors.add("x", "too long " + str(job))
    errors.raise_if_any("job not saved")
    raise ServiceError("nope", field_errors={"a": "bad"})
    raise NotFound("job", 7, f"job {job} is gone")
    raise ScheduleError("timezone", "zone %s" % job)
    raise Conflict(_t("fine") if job else "not fine")
    raise CronError(Text("by hand"))
    raise Forbidden("{} no".format(job))
'''
    found = unmarked_messages(source, "admin/services/example.py")
    assert [line.split(":")[1] for line in found] == ["3", "4", "5", "6", "7", "7", "8", "9", "10", "11", "12"]


def test_the_scan_accepts_marked_messages() -> None:
    source = '''
def check(errors, job, exc):
    errors.add("name", _t("is required"))
    errors.add(exc.field, exc.reason)
    errors.raise_if_any(_t("job %(id)s not saved", id=job) if job else _t("job not saved"))
    raise ServiceError(_nt("%(num)d field", "%(num)d fields", 2), field_errors={name: _t("unknown field") for name in job})
    raise NotFound("job", 7)
    seen.add("x")
'''
    assert unmarked_messages(source, "admin/services/example.py") == []


def test_every_message_the_services_raise_is_marked() -> None:
    found = []
    scanned = 0
    for folder in SCANNED:
        for path in sorted((ADMIN / folder).rglob("*.py")):
            scanned += 1
            found += unmarked_messages(path.read_text(encoding="utf-8"), str(path.relative_to(ADMIN.parent)))
    assert scanned > 50
    assert found == [], "mark these with _t / _nt (admin/texts.py) and add their zh entries"
