"""Exit codes and signals of the ``lakehouse`` command, and the input fingerprint that decides
whether a step is resumed or skipped (no Spark needed)."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest

from crm_lakehouse import cli
from crm_lakehouse.errors import RunInterrupted
from crm_lakehouse.pipeline import delivery_fingerprint

from ...conftest import CONF


def test_help_documents_the_exit_codes(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["--help"]) == 0
    text = " ".join(capsys.readouterr().out.split())
    for code in (
        "0 success",
        "1 a step failed",
        "2 bad arguments",
        "4 a data contract failed",
        "5 another run holds the lake's lock",
    ):
        assert code in text


def test_run_help_shows_backfill_and_full_refresh(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["run", "--help"]) == 0
    out = capsys.readouterr().out
    assert "--from D1" in out and "--to D2" in out and "--full-refresh" in out


def test_an_unexpected_error_exits_1_with_its_traceback(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    def broken(args: object, settings: object) -> int:
        raise ValueError("a bug in status")

    monkeypatch.setitem(cli.COMMANDS, "status", broken)
    code = cli.main(["status", "--conf-dir", str(CONF), "--lake", str(tmp_path)])
    err = capsys.readouterr().err
    assert code == 1
    assert "lakehouse status: unexpected error: a bug in status" in err
    assert "Traceback" in err and "ValueError" in err


def test_a_usage_error_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["status", "--runs", "many"]) == 2
    assert "'many' is not a whole number >= 1" in capsys.readouterr().err
    assert cli.main(["no-such-command"]) == 2


def test_sigterm_during_a_run_raises_and_the_handler_is_restored() -> None:
    before = signal.getsignal(signal.SIGTERM)
    with pytest.raises(RunInterrupted, match="SIGTERM") as err, cli._sigterm_raises():
        os.kill(os.getpid(), signal.SIGTERM)
    assert err.value.exit_code == 1
    assert signal.getsignal(signal.SIGTERM) is before


def _deliver(landing: Path, source: str, date: str, name: str, text: str) -> Path:
    folder = landing / source / date
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def test_the_delivery_fingerprint_follows_the_dates_files_only(tmp_path: Path) -> None:
    landing = tmp_path / "landing"
    empty, counts = delivery_fingerprint(landing, "2026-11-20")
    assert counts == {"files": 0, "bytes": 0}
    _deliver(landing, "salesforce", "2026-11-20", "accounts.csv", "Id\n1\n")
    first, counts = delivery_fingerprint(landing, "2026-11-20")
    assert counts == {"files": 1, "bytes": 5} and first != empty
    assert delivery_fingerprint(landing, "2026-11-20")[0] == first  # stable
    # Other dates and metadata folders do not count.
    _deliver(landing, "salesforce", "2026-11-21", "accounts.csv", "Id\n2\n")
    _deliver(landing, "_truth", "2026-11-20", "manifest.json", "{}")
    assert delivery_fingerprint(landing, "2026-11-20")[0] == first
    # A late file, or a changed one, changes it.
    late = _deliver(landing, "hubspot", "2026-11-20", "companies.jsonl", "{}\n")
    second = delivery_fingerprint(landing, "2026-11-20")[0]
    assert second != first
    late.write_text('{"id": 1}\n', encoding="utf-8")
    assert delivery_fingerprint(landing, "2026-11-20")[0] not in (first, second)
