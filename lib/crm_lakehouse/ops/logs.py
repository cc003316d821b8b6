"""Structured logs for the scheduler, a live progress line for people.

Every record can carry an ``event`` name and a ``fields`` mapping (pass them with
``extra={"event": ..., "fields": {...}}``), and picks up the active run's context (``run_id``,
``date``) from :func:`run_context`, a :mod:`contextvars` scope the pipeline opens around each
run. Two formats:

* ``json``: one JSON object per line: ``ts`` (UTC, ISO 8601), ``level``, ``logger``,
  ``event``, ``msg``, the run context and the fields; exceptions add ``error`` and
  ``traceback``. Log shippers and ``jq`` read it as is.
* ``text``: ``<time> <LEVEL> <logger>: <message> [run <id>]`` for a terminal.

:class:`ConsoleHandler` writes to whatever ``sys.stderr`` is at the time (so redirection and
test capture work). On a terminal it also keeps one status line at the bottom, redrawn every
second while a step runs (``[2/3] 2026-11-20 silver  01:07``): it is cleared before each log
line and redrawn after it, so the two never interleave. Not on a terminal, nothing but the log
lines is written.
"""

from __future__ import annotations

import contextlib
import contextvars
import datetime as dt
import enum
import json
import logging
import sys
import threading
import time
import types
from collections.abc import Iterator, Mapping
from typing import Any, TextIO

PACKAGE_LOGGER = "crm_lakehouse"
CONTEXT_KEYS = ("run_id", "date", "step")

_context: contextvars.ContextVar[Mapping[str, str]] = contextvars.ContextVar(
    "lakehouse_log_context", default=types.MappingProxyType({})
)


class LogFormat(enum.StrEnum):
    JSON = "json"
    TEXT = "text"


@contextlib.contextmanager
def run_context(**fields: str) -> Iterator[None]:
    """Attach ``fields`` (e.g. ``run_id``, ``date``) to every record logged inside the block."""
    token = _context.set({**_context.get(), **fields})
    try:
        yield
    finally:
        _context.reset(token)


def current_context() -> Mapping[str, str]:
    return _context.get()


class _ContextFilter(logging.Filter):
    """Copies the run context onto the record when it is created in the logging thread."""

    def filter(self, record: logging.LogRecord) -> bool:
        for key, value in _context.get().items():
            if not hasattr(record, key):
                setattr(record, key, value)
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per record, on one line."""

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "ts": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(
                timespec="milliseconds"
            ),
            "level": record.levelname,
            "logger": record.name,
            "event": getattr(record, "event", None) or "log",
            "msg": record.getMessage(),
        }
        for key in CONTEXT_KEYS:
            value = getattr(record, key, None)
            if value is not None:
                out[key] = value
        for key, value in (getattr(record, "fields", None) or {}).items():
            out.setdefault(key, value)
        if record.exc_info and record.exc_info[1] is not None:
            exc = record.exc_info[1]
            out.setdefault("error", f"{type(exc).__name__}: {exc}")
            out["traceback"] = self.formatException(record.exc_info)
        return json.dumps(out, default=str, ensure_ascii=False)


class TextFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        run_id = getattr(record, "run_id", None)
        return f"{text} [run {run_id}]" if run_id else text


class ConsoleHandler(logging.Handler):
    """Log lines to the current ``sys.stderr``; with ``live``, a redrawn progress line too.

    Package records (``crm_lakehouse.*``) pass from INFO, everything else from WARNING, so
    libraries' chatter (py4j, Great Expectations) stays out of the way.
    """

    def __init__(self, fmt: LogFormat, *, live: bool) -> None:
        super().__init__(logging.INFO)
        self.setFormatter(JsonFormatter() if fmt is LogFormat.JSON else TextFormatter())
        self.addFilter(_ContextFilter())
        self.live = live
        self._shown = False
        self._step: tuple[str, float] | None = None  # (label, monotonic start)
        self._stop = threading.Event()
        self._ticker: threading.Thread | None = None

    @property
    def stream(self) -> TextIO:
        return sys.stderr

    def filter(self, record: logging.LogRecord) -> bool:
        package = record.name == PACKAGE_LOGGER or record.name.startswith(PACKAGE_LOGGER + ".")
        if not package and record.levelno < logging.WARNING:
            return False
        return bool(super().filter(record))

    def emit(self, record: logging.LogRecord) -> None:
        try:
            text = self.format(record)
            self._clear()
            self.stream.write(text + "\n")
            if self.live:
                self._follow(record)
                self._draw()
            self.stream.flush()
        except Exception:  # pragma: no cover - logging must never raise
            self.handleError(record)

    def close(self) -> None:
        self._stop.set()
        if self._ticker is not None:
            self._ticker.join(timeout=2)
            self._ticker = None
        self.acquire()
        try:
            self._clear()
        finally:
            self.release()
        super().close()

    # ------------------------------------------------------------------ live progress line

    def _follow(self, record: logging.LogRecord) -> None:
        event = getattr(record, "event", None)
        fields = getattr(record, "fields", None) or {}
        if event == "step_started":
            label = (
                f"[{fields.get('step_index', '?')}/{fields.get('step_count', '?')}] "
                f"{getattr(record, 'date', '')} {fields.get('step', '')}"
            )
            if fields.get("date_count", 1) > 1:
                label = f"date {fields['date_index']}/{fields['date_count']} {label}"
            self._step = (label, time.monotonic())
            self._start_ticker()
        elif event in ("step_finished", "step_failed", "step_skipped", "run_finished"):
            self._step = None

    def _start_ticker(self) -> None:
        if self._ticker is not None:
            return
        self._stop.clear()
        self._ticker = threading.Thread(target=self._tick, name="lakehouse-progress", daemon=True)
        self._ticker.start()

    def _tick(self) -> None:
        while not self._stop.wait(1.0):
            self.acquire()
            try:
                self._clear()
                self._draw()
                self.stream.flush()
            except Exception:  # pragma: no cover - the stream went away
                return
            finally:
                self.release()

    def _draw(self) -> None:
        if self._step is None:
            return
        label, started = self._step
        elapsed = int(time.monotonic() - started)
        self.stream.write(f"{label}  {elapsed // 60:02d}:{elapsed % 60:02d} ")
        self._shown = True

    def _clear(self) -> None:
        if self._shown:
            self.stream.write("\r\x1b[K")
            self._shown = False


def configure_logging(fmt: LogFormat | str, *, live: bool | None = None) -> ConsoleHandler:
    """Route logs to a :class:`ConsoleHandler` on the root logger (replacing an earlier one).

    ``live`` defaults to whether stderr is a terminal. Returns the handler; pass it to
    :func:`remove_logging` when done (the CLI does, so repeated in-process calls stay clean).
    """
    root = logging.getLogger()
    for old in [h for h in root.handlers if isinstance(h, ConsoleHandler)]:
        remove_logging(old)
    handler = ConsoleHandler(LogFormat(fmt), live=sys.stderr.isatty() if live is None else live)
    root.addHandler(handler)
    logging.captureWarnings(True)  # Python warnings become records too: stderr stays one format
    logging.getLogger(PACKAGE_LOGGER).setLevel(logging.INFO)
    for noisy in ("py4j", "great_expectations"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    return handler


def remove_logging(handler: ConsoleHandler) -> None:
    logging.getLogger().removeHandler(handler)
    logging.captureWarnings(False)
    handler.close()
