"""The run ledger on a real Delta table: running -> outcome updates in place, the latest
attempt decides what a resumed run skips, and rows left running are marked abandoned."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from pyspark.sql import SparkSession

from crm_lakehouse.config import DeltaAdapterKind
from crm_lakehouse.delta import open_port
from crm_lakehouse.lake import Lake
from crm_lakehouse.ops.ledger import RunLedger, StepRecord, StepStatus
from crm_lakehouse.ops.status import read_runs

T0 = dt.datetime(2026, 11, 21, 2, 0, tzinfo=dt.UTC)
DAY = "2026-11-20"


def _rec(run_id: str, step: str, minute: int, fingerprint: str = "fp1") -> StepRecord:
    return StepRecord(
        run_id=run_id,
        logical_date=DAY,
        step=step,
        status=StepStatus.RUNNING.value,
        started_at=T0 + dt.timedelta(minutes=minute),
        metrics={"input_fingerprint": fingerprint},
    )


def _end(rec: StepRecord, status: StepStatus, **kw: object) -> StepRecord:
    rec.status = status.value
    rec.finished_at = rec.started_at + dt.timedelta(seconds=30)
    for key, value in kw.items():
        setattr(rec, key, value)
    return rec


@pytest.fixture
def ledger(spark: SparkSession, tmp_path: Path) -> tuple[RunLedger, Lake]:
    lake = Lake(tmp_path / "lake")
    return RunLedger(open_port(spark, DeltaAdapterKind.DELTA_RS), lake), lake


def test_a_step_is_one_row_updated_from_running_to_its_outcome(
    ledger: tuple[RunLedger, Lake],
) -> None:
    runs, lake = ledger
    rec = _rec("r1", "bronze", 0)
    runs.start(rec)
    (row,) = read_runs(lake)
    assert (row.status, row.finished_at) == ("running", None)
    runs.finish(_end(rec, StepStatus.SUCCEEDED, rows_in=10, rows_out=9, table_versions={"b.t": 1}))
    (row,) = read_runs(lake)
    assert (row.status, row.rows_in, row.rows_out, row.duration_s) == ("succeeded", 10, 9, 30.0)
    assert dict(row.table_versions) == {"b.t": 1}


def test_the_latest_attempt_decides_what_is_skipped(ledger: tuple[RunLedger, Lake]) -> None:
    runs, _ = ledger
    # r1: all good. r2 (a full refresh) failed in silver. r3 skipped bronze.
    for step, minute in (("bronze", 0), ("silver", 1), ("gold", 2)):
        rec = _rec("r1", step, minute)
        runs.start(rec)
        runs.finish(_end(rec, StepStatus.SUCCEEDED, table_versions={f"{step}.t": minute}))
    failed = _rec("r2", "silver", 10)
    runs.start(failed)
    runs.finish(_end(failed, StepStatus.FAILED, error="RuntimeError: boom"))
    skipped = _end(_rec("r3", "bronze", 20), StepStatus.SKIPPED)
    runs.record(skipped)
    last = runs.last_outcomes(DAY)
    assert {s: (o.run_id, o.status) for s, o in last.items()} == {
        "bronze": ("r1", "succeeded"),  # the skip in r3 does not count as an attempt
        "silver": ("r2", "failed"),
        "gold": ("r1", "succeeded"),
    }
    assert last["bronze"].covers("fp1") and dict(last["bronze"].table_versions) == {"bronze.t": 0}
    assert not last["bronze"].covers("fp2")  # a late file: run again
    assert not last["silver"].covers("fp1")  # failed last time: run again
    assert runs.last_outcomes("2026-11-19") == {}


def test_rows_left_running_are_marked_abandoned(ledger: tuple[RunLedger, Lake]) -> None:
    runs, lake = ledger
    done = _rec("dead", "bronze", 0)
    runs.start(done)
    runs.finish(_end(done, StepStatus.SUCCEEDED))
    runs.start(_rec("dead", "silver", 1))  # then the process was killed
    marked = runs.abandon_running(found_by="next-run")
    assert [(r.run_id, r.step) for r in marked] == [("dead", "silver")]
    rows = {r.step: r for r in read_runs(lake)}
    assert rows["silver"].status == "abandoned" and "found by run next-run" in rows["silver"].error  # type: ignore[operator]
    assert rows["bronze"].status == "succeeded"
    assert runs.last_outcomes(DAY)["silver"].status == "abandoned"
    assert runs.abandon_running(found_by="again") == []
