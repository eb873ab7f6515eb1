"""JSON-lines logging on stdout, one object per line, secrets redacted."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any, BinaryIO

from .redact import Redactor


class JsonLog:
    """Writes `{"time", "level", "event", "message", "schedule", ...fields}` lines.

    Lines are written as UTF-8 bytes regardless of the locale, and flushed one by one so
    `kubectl logs` shows progress while a long workflow runs.
    """

    def __init__(self, stream: BinaryIO, redactor: Redactor, schedule: str = "") -> None:
        self._stream = stream
        self._redactor = redactor
        self._schedule = schedule

    def info(self, message: str, *, event: str, **fields: Any) -> None:
        self._write("info", event, message, fields)

    def warning(self, message: str, *, event: str, **fields: Any) -> None:
        self._write("warning", event, message, fields)

    def error(self, message: str, *, event: str, **fields: Any) -> None:
        self._write("error", event, message, fields)

    def _write(self, level: str, event: str, message: str, fields: dict[str, Any]) -> None:
        record: dict[str, Any] = {
            "time": datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "level": level,
            "event": event,
            "message": message,
        }
        if self._schedule:
            record["schedule"] = self._schedule
        record.update(fields)
        line = json.dumps(self._redactor.scrub(record), ensure_ascii=False, default=str)
        try:
            self._stream.write(line.encode("utf-8", errors="replace") + b"\n")
            self._stream.flush()
        except OSError:
            return  # a closed stdout must not turn a finished run into a crash
