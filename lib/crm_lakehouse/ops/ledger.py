"""Operational tables: the file ledger (``ops.ingested_files``) and the run ledger (``ops.runs``).

The file ledger is keyed by content hash: a file is ingested once, whatever its name, so a rerun
or a duplicate delivery appends nothing to Bronze. The run ledger records one row per step of
every run with its status, row counts and the table versions it produced.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

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
        spark = self.port.spark
        df = spark.createDataFrame([dataclasses.astuple(e) for e in entries], INGESTED_FILES_SCHEMA)
        self.port.append(self.location, df, txn=txn)


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

    def as_row(self) -> tuple[object, ...]:
        duration = (
            round((self.finished_at - self.started_at).total_seconds(), 3)
            if self.finished_at
            else None
        )
        return (
            self.run_id,
            self.logical_date,
            self.step,
            self.status,
            self.started_at,
            self.finished_at,
            duration,
            self.rows_in,
            self.rows_out,
            self.rows_dropped,
            self.rows_quarantined,
            json.dumps(dict(self.table_versions), sort_keys=True),
            json.dumps(dict(self.metrics), sort_keys=True, default=str),
            self.error,
        )


class RunLedger:
    def __init__(self, port: DeltaPort, lake: Lake) -> None:
        self.port = port
        self.location = lake.location(RUNS)

    def record(self, step: StepRecord) -> None:
        self.port.create(self.location, RUNS_SCHEMA, description="One row per pipeline step run")
        df = self.port.spark.createDataFrame([step.as_row()], RUNS_SCHEMA)
        self.port.append(self.location, df)

    def completed_steps(self, logical_date: str) -> set[str]:
        """Steps that have succeeded for ``logical_date`` in any run."""
        if not self.port.exists(self.location):
            return set()
        rows = (
            self.port.read(self.location)
            .where((F.col("logical_date") == logical_date) & (F.col("status") == "succeeded"))
            .select("step")
            .distinct()
            .collect()
        )
        return {r["step"] for r in rows}
