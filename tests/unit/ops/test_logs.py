"""Structured logs, the live progress line and Spark's log level."""

from __future__ import annotations

import json
import logging
import warnings
from collections.abc import Iterator

import pytest

from crm_lakehouse.config import load_settings
from crm_lakehouse.errors import ConfigError
from crm_lakehouse.ops.logs import (
    ConsoleHandler,
    LogFormat,
    configure_logging,
    remove_logging,
    run_context,
)
from crm_lakehouse.session import builder, spark_log_level

from ...conftest import CONF

log = logging.getLogger("crm_lakehouse.pipeline")


class Stderr:
    """What the code under test wrote to ``sys.stderr`` (pytest's capsys underneath: pytest
    re-installs its own ``sys.stderr`` between setup and call, so it cannot be patched)."""

    def __init__(self, capsys: pytest.CaptureFixture[str]) -> None:
        self.capsys = capsys
        self.seen = ""

    def getvalue(self) -> str:
        self.seen += self.capsys.readouterr().err
        return self.seen


@pytest.fixture
def stderr(capsys: pytest.CaptureFixture[str]) -> Stderr:
    return Stderr(capsys)


@pytest.fixture
def json_logs(stderr: Stderr) -> Iterator[Stderr]:
    handler = configure_logging(LogFormat.JSON, live=False)
    yield stderr
    remove_logging(handler)


def _lines(buffer: Stderr) -> list[dict[str, object]]:
    return [json.loads(line) for line in buffer.getvalue().splitlines()]


def test_json_lines_carry_the_run_context_and_the_event_fields(json_logs: Stderr) -> None:
    log.info("before any run")
    with run_context(run_id="2026-11-20_x", date="2026-11-20"):
        log.info(
            "step %s started",
            "silver",
            extra={"event": "step_started", "fields": {"step": "silver", "step_index": 2}},
        )
        with run_context(run_id="2026-11-21_y"):
            log.warning("nested")
    log.info("after the run")
    first, started, nested, after = _lines(json_logs)
    assert "run_id" not in first and first["event"] == "log"
    assert started["msg"] == "step silver started"
    assert (started["run_id"], started["date"], started["event"]) == (
        "2026-11-20_x",
        "2026-11-20",
        "step_started",
    )
    assert (started["step"], started["step_index"], started["level"]) == ("silver", 2, "INFO")
    assert started["ts"].endswith("+00:00")  # type: ignore[union-attr]
    assert (nested["run_id"], nested["date"], nested["level"]) == (
        "2026-11-21_y",
        "2026-11-20",
        "WARNING",
    )
    assert "run_id" not in after


def test_exceptions_are_logged_with_error_and_traceback_on_one_line(
    json_logs: Stderr,
) -> None:
    try:
        raise ValueError("bad row in silver.companies")
    except ValueError:
        log.exception("step failed")
    (line,) = json_logs.getvalue().splitlines()
    record = json.loads(line)
    assert record["error"] == "ValueError: bad row in silver.companies"
    assert "Traceback" in record["traceback"] and record["level"] == "ERROR"


def test_python_warnings_become_json_lines_too(json_logs: Stderr) -> None:
    warnings.warn("pandas 3 is not supported", UserWarning, stacklevel=1)
    (record,) = _lines(json_logs)
    assert record["logger"] == "py.warnings" and record["level"] == "WARNING"
    assert "pandas 3 is not supported" in record["msg"]  # type: ignore[operator]


def test_library_chatter_below_warning_is_left_out(json_logs: Stderr) -> None:
    logging.getLogger("py4j.clientserver").warning("py4j warns")
    other = logging.getLogger("some.library")
    other.setLevel(logging.INFO)
    other.info("library info")
    logging.getLogger("crm_lakehouse.ingest").info("package info")
    assert [r["msg"] for r in _lines(json_logs)] == ["py4j warns", "package info"]


def test_text_format_names_the_run(stderr: Stderr) -> None:
    handler = configure_logging(LogFormat.TEXT, live=False)
    try:
        with run_context(run_id="r1"):
            log.info("hello")
    finally:
        remove_logging(handler)
    line = stderr.getvalue().strip()
    assert line.endswith("INFO crm_lakehouse.pipeline: hello [run r1]")


def test_configure_twice_keeps_one_handler(stderr: Stderr) -> None:
    first = configure_logging(LogFormat.TEXT, live=False)
    second = configure_logging(LogFormat.JSON, live=False)
    try:
        ours = [h for h in logging.getLogger().handlers if isinstance(h, ConsoleHandler)]
        assert ours == [second] and first not in logging.getLogger().handlers
    finally:
        remove_logging(second)
    assert not [h for h in logging.getLogger().handlers if isinstance(h, ConsoleHandler)]


def test_live_progress_line_is_cleared_around_log_lines(stderr: Stderr) -> None:
    handler = configure_logging(LogFormat.TEXT, live=True)
    try:
        with run_context(run_id="r1", date="2026-11-20"):
            log.info(
                "step silver started",
                extra={
                    "event": "step_started",
                    "fields": {"step": "silver", "step_index": 2, "step_count": 3},
                },
            )
            log.warning("a warning while silver runs")
            log.info("step silver succeeded", extra={"event": "step_finished"})
            log.info("no step running now")
    finally:
        remove_logging(handler)
    out = stderr.getvalue()
    status = "[2/3] 2026-11-20 silver  00:0"
    assert status in out
    # The status line is erased before the next log line is written...
    warning_at = out.index("a warning while silver runs")
    assert out.rfind("\r\x1b[K", 0, warning_at) > out.index(status)
    # ...and is not redrawn once the step has finished.
    tail = out[out.index("step silver succeeded") :]
    assert "[2/3]" not in tail
    assert out.endswith("no step running now [run r1]\n")


def test_not_live_means_log_lines_only(stderr: Stderr) -> None:
    handler = configure_logging(LogFormat.TEXT, live=False)
    try:
        log.info("go", extra={"event": "step_started", "fields": {"step": "bronze"}})
    finally:
        remove_logging(handler)
    assert "\r" not in stderr.getvalue() and "[?/?]" not in stderr.getvalue()


@pytest.mark.parametrize(("given", "level"), [("WARN", "WARN"), ("error", "ERROR")])
def test_spark_log_level_is_set_at_startup(given: str, level: str) -> None:
    settings = load_settings("local", CONF, overrides={"spark": {"log_level": given}})
    options = dict(builder(settings)._options)  # type: ignore[attr-defined]
    assert options["spark.log.level"] == level


def test_default_spark_log_level_is_warn() -> None:
    options = dict(builder(load_settings("local", CONF))._options)  # type: ignore[attr-defined]
    assert options["spark.log.level"] == "WARN"


def test_unknown_spark_log_level_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="'LOUD' is not one of"):
        spark_log_level("LOUD")
