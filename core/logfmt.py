"""One line per event, as key=value text or JSON; the fields travel as `extra`.

Convention for every module of shardcron:

    log = logging.getLogger("shardcron.scheduler")
    log.info("fire dispatched", extra={"job_id": 7, "log_id": 1042, "shard": "2/4", "lag_ms": 3})

The formatters print the message plus every field passed in `extra`, so scheduling events carry
job id, log id and shard in a form that `grep job_id=7` or a JSON log pipeline can use.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import datetime, UTC
from typing import Any, TextIO

#: Attributes every LogRecord has; anything else on a record came from `extra`.
_STANDARD = set(vars(logging.LogRecord("x", 0, "x", 0, "x", None, None))) | {"message", "asctime", "taskName"}


def event_fields(record: logging.LogRecord) -> dict[str, Any]:
    return {k: v for k, v in vars(record).items() if k not in _STANDARD and not k.startswith("_")}


def _timestamp(record: logging.LogRecord) -> str:
    # The record's own creation time (set by logging), not a fresh read of the clock.
    return datetime.fromtimestamp(record.created, tz=UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _text_value(value: Any) -> str:
    text = str(value)
    if text == "" or any(c.isspace() or c in '"=' for c in text):
        return json.dumps(text, ensure_ascii=False)
    return text


class KeyValueFormatter(logging.Formatter):
    """`2026-01-01T00:00:00.000Z INFO shardcron.scheduler fire dispatched job_id=7 log_id=1042`"""

    def format(self, record: logging.LogRecord) -> str:
        parts = [_timestamp(record), record.levelname, record.name, record.getMessage()]
        parts += [f"{k}={_text_value(v)}" for k, v in event_fields(record).items()]
        line = " ".join(parts)
        if record.exc_info:
            line += " exc=" + json.dumps(self.formatException(record.exc_info), ensure_ascii=False)
        return line


class JsonFormatter(logging.Formatter):
    """`{"ts": "...", "level": "INFO", "logger": "...", "msg": "...", "job_id": 7, ...}`"""

    def format(self, record: logging.LogRecord) -> str:
        body: dict[str, Any] = {"ts": _timestamp(record), "level": record.levelname, "logger": record.name, "msg": record.getMessage()}
        for key, value in event_fields(record).items():
            body[key] = value if isinstance(value, (int, float, bool, type(None))) else str(value)
        if record.exc_info:
            body["exc"] = self.formatException(record.exc_info)
        return json.dumps(body, ensure_ascii=False)


def configure_logging(level: str = "INFO", fmt: str = "text", stream: TextIO | None = None) -> None:
    """Send shardcron's (and everything else's) logs to `stream` in the chosen format."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter() if str(fmt).lower() == "json" else KeyValueFormatter())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
    # waitress logs every queue warning at WARNING; keep it, but not its per-request noise
    logging.getLogger("waitress.queue").setLevel(logging.ERROR)
    # Alembic narrates its set-up at INFO; what a schema upgrade changed is said by shardcron
    logging.getLogger("alembic").setLevel(logging.WARNING)
