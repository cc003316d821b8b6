"""Operational tables: the file ledger (``ops.ingested_files``) and the run ledger (``ops.runs``).

The file ledger is keyed by content hash: a file is ingested once, whatever its name, so a rerun
or a duplicate delivery appends nothing to Bronze. The run ledger records one row per step of
every run with its status (:class:`StepStatus`), row counts, the table versions it produced and
its metrics, which include the fingerprint of the step's inputs: a later run of the same date
skips a step whose latest attempt succeeded with the same fingerprint.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pyspark.sql import functions as F
from pyspark.sql.types import (
    ArrayType,
    DoubleType,
    LongType,
    StringType,
    StructField,
    StructType,
    TimestampType,
)

from crm_lakehouse.delta.port import DeltaPort, Txn
from crm_lakehouse.lake import Lake

INGESTED_FILES = "ops.ingested_files"
RUNS = "ops.runs"

INGESTED_FILES_SCHEMA = StructType(
    [
        StructField("content_hash", StringType(), False),
        StructField("source_file", StringType(), False),
        StructField("source", StringType(), False),
        StructField("entity", StringType(), False),
        StructField("bronze_table", StringType(), False),
        StructField("delivery_date", StringType(), False),
        StructField("run_id", StringType(), False),
        StructField("ingested_at", TimestampType(), False),
        StructField("size_bytes", LongType(), False),
        StructField("rows_read", LongType(), False),
        StructField("rows_appended", LongType(), False),
        StructField("malformed_rows", LongType(), False),
        StructField("bad_encoding_rows", LongType(), False),
        StructField("missing_columns", ArrayType(StringType()), False),
        StructField("extra_columns", ArrayType(StringType()), False),
        StructField("status", StringType(), False),
        StructField("duplicate_of", StringType(), True),
    ]
)

RUNS_SCHEMA = StructType(
    [
        StructField("run_id", StringType(), False),
        StructField("logical_date", StringType(), False),
        StructField("step", StringType(), False),
        StructField("status", StringType(), False),
        StructField("started_at", TimestampType(), False),
        StructField("finished_at", TimestampType(), True),
        StructField("duration_s", DoubleType(), True),
        StructField("rows_in", LongType(), True),
        StructField("rows_out", LongType(), True),
        StructField("rows_dropped", LongType(), True),
        StructField("rows_quarantined", LongType(), True),
        StructField("table_versions", StringType(), True),
        StructField("metrics", StringType(), True),
        StructField("error", StringType(), True),
    ]
)


@dataclass(frozen=True)
class IngestedFile:
    content_hash: str
    source_file: str
    source: str
    entity: str
    bronze_table: str
    delivery_date: str
    run_id: str
    ingested_at: dt.datetime
    size_bytes: int
    rows_read: int
    rows_appended: int
    malformed_rows: int
    bad_encoding_rows: int
    missing_columns: list[str]
    extra_columns: list[str]
    status: str
    duplicate_of: str | None


class FileLedger:
    def __init__(self, port: DeltaPort, lake: Lake) -> None:
        self.port = port
        self.location = lake.location(INGESTED_FILES)

    def known(self) -> tuple[dict[str, str], set[str]]:
        """(content hash -> file first ingested with it, every file path already recorded)."""
        if not self.port.exists(self.location):
            return {}, set()
        rows = (
            self.port.read(self.location).select("content_hash", "source_file", "status").collect()
        )
        by_hash = {r["content_hash"]: r["source_file"] for r in rows if r["status"] == "ingested"}
        return by_hash, {r["source_file"] for r in rows}

    def record(self, entries: Sequence[IngestedFile], txn: Txn | None) -> None:
        self.port.create(
            self.location,
            INGESTED_FILES_SCHEMA,
            description="Files ingested into Bronze, by content hash",
        )
        if not entries:
            return
        rows = [dataclasses.astuple(e) for e in entries]
        self.port.append_rows(self.location, rows, INGESTED_FILES_SCHEMA, txn=txn)


class StepStatus(enum.StrEnum):
    """What became of a step in a run (``ops.runs.status``)."""

    RUNNING = "running"  # started; the row is updated when the step ends
    SUCCEEDED = "succeeded"
    FAILED = "failed"  # the error column says why
    SKIPPED = "skipped"  # succeeded before for the date with the same inputs; not run again
    ABANDONED = "abandoned"  # the run died mid-step (killed, machine lost); found by a later run


@dataclass
class StepRecord:
    run_id: str
    logical_date: str
    step: str
    status: str
    started_at: dt.datetime
    finished_at: dt.datetime | None = None
    rows_in: int | None = None
    rows_out: int | None = None
    rows_dropped: int | None = None
    rows_quarantined: int | None = None
    table_versions: Mapping[str, int] = field(default_factory=dict)
    metrics: Mapping[str, object] = field(default_factory=dict)
    error: str | None = None

    @property
    def duration_s(self) -> float | None:
        if self.finished_at is None:
            return None
        return round((self.finished_at - self.started_at).total_seconds(), 3)

    def as_row(self) -> tuple[object, ...]:
        return (
            self.run_id,
            self.logical_date,
            self.step,
            self.status,
            self.started_at,
            self.finished_at,
            self.duration_s,
            self.rows_in,
            self.rows_out,
            self.rows_dropped,
            self.rows_quarantined,
            json.dumps(dict(self.table_versions), sort_keys=True),
            json.dumps(dict(self.metrics), sort_keys=True, default=str),
            self.error,
        )

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> StepRecord:
        """A record from an ``ops.runs`` row (Spark ``Row.asDict()`` or an Arrow row dict)."""
        return cls(
            run_id=row["run_id"],
            logical_date=row["logical_date"],
            step=row["step"],
            status=row["status"],
            started_at=_utc(row["started_at"]),
            finished_at=_utc(row["finished_at"]) if row["finished_at"] else None,
            rows_in=row["rows_in"],
            rows_out=row["rows_out"],
            rows_dropped=row["rows_dropped"],
            rows_quarantined=row["rows_quarantined"],
            table_versions=json.loads(row["table_versions"] or "{}"),
            metrics=json.loads(row["metrics"] or "{}"),
            error=row["error"],
        )


def _utc(value: dt.datetime) -> dt.datetime:
    """Spark hands timestamps back as naive local times (the session runs in UTC)."""
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


@dataclass(frozen=True)
class LastOutcome:
    """The latest recorded outcome of a step for a date (skipped rows aside)."""

    run_id: str
    status: str
    input_fingerprint: str | None
    table_versions: Mapping[str, int]

    def covers(self, fingerprint: str) -> bool:
        """True when the step succeeded with these inputs and nothing ran it since."""
        return self.status == StepStatus.SUCCEEDED and self.input_fingerprint == fingerprint


class RunLedger:
    """``ops.runs``: a step's row is appended as ``running`` when it starts and updated in
    place (a MERGE on ``(run_id, step)``) when it ends, so a run that dies mid-step leaves a
    ``running`` row behind, which the next locked run marks ``abandoned``."""

    def __init__(self, port: DeltaPort, lake: Lake) -> None:
        self.port = port
        self.location = lake.location(RUNS)

    def _create(self) -> None:
        self.port.create(self.location, RUNS_SCHEMA, description="One row per pipeline step run")

    def record(self, step: StepRecord) -> None:
        """Append a row (a step that starts, or one recorded in its final state at once)."""
        self._create()
        self.port.append_rows(self.location, [step.as_row()], RUNS_SCHEMA)

    def start(self, step: StepRecord) -> None:
        self.record(step)

    def finish(self, step: StepRecord) -> None:
        """Update the step's row (inserted if its ``running`` row is missing)."""
        self._create()
        self.port.merge_rows(self.location, [step.as_row()], RUNS_SCHEMA, keys=("run_id", "step"))

    def last_outcomes(self, logical_date: str) -> dict[str, LastOutcome]:
        """Per step, its latest outcome for ``logical_date`` (succeeded, failed, abandoned or
        still running), ignoring runs that skipped it. A step whose latest attempt failed is
        not "done", even if an earlier run succeeded: that attempt may have left it half
        written."""
        if not self.port.exists(self.location):
            return {}
        rows = (
            self.port.read(self.location)
            .where(
                (F.col("logical_date") == logical_date)
                & (F.col("status") != StepStatus.SKIPPED.value)
            )
            .select("run_id", "step", "status", "started_at", "table_versions", "metrics")
            .orderBy("started_at")
            .collect()
        )
        out: dict[str, LastOutcome] = {}
        for r in rows:  # oldest first: the latest wins
            metrics = json.loads(r["metrics"] or "{}")
            out[r["step"]] = LastOutcome(
                run_id=r["run_id"],
                status=r["status"],
                input_fingerprint=metrics.get("input_fingerprint"),
                table_versions=json.loads(r["table_versions"] or "{}"),
            )
        return out

    def abandon_running(self, found_by: str) -> list[StepRecord]:
        """Mark every ``running`` row ``abandoned``; return them.

        Only call this while holding the lake's lock: then no other run is active, so a
        ``running`` row belongs to a run that died without recording its outcome.
        """
        if not self.port.exists(self.location):
            return []
        rows = (
            self.port.read(self.location)
            .where(F.col("status") == StepStatus.RUNNING.value)
            .collect()
        )
        stale = [StepRecord.from_row(r.asDict()) for r in rows]
        if not stale:
            return []
        for rec in stale:
            rec.status = StepStatus.ABANDONED.value
            rec.error = (
                "the run stopped without recording an outcome (killed, or its machine was "
                f"lost); found by run {found_by}"
            )
        self.port.merge_rows(
            self.location, [s.as_row() for s in stale], RUNS_SCHEMA, keys=("run_id", "step")
        )
        return stale
