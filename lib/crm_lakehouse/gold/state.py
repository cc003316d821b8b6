"""``ops.gold_builds``: which Silver versions each Gold table was last built from.

One row per Gold write: the Gold table version it produced, the logical date, the version of
every input table, and the parameters the values depend on besides the data (the rules' digest,
the PII key's id). The next refresh diffs the Silver snapshot at those versions with the current
one to find the keys that changed. A row is trusted only while its ``gold_version`` is the
table's current version: if anything else wrote the table since (or the write of this row was
lost), the next refresh rebuilds the table in full, so the baseline can never be wrong.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from dataclasses import dataclass

from pyspark.sql import functions as F
from pyspark.sql.types import LongType, StringType, StructField, StructType, TimestampType

from crm_lakehouse.delta.port import DeltaPort, Txn
from crm_lakehouse.lake import Lake

BUILDS = "ops.gold_builds"

BUILDS_SCHEMA = StructType(
    [
        StructField("gold_table", StringType(), False),
        StructField("gold_version", LongType(), False),
        StructField("logical_date", StringType(), False),
        StructField("run_id", StringType(), False),
        StructField("mode", StringType(), False),
        StructField("reason", StringType(), True),
        StructField("inputs", StringType(), False),
        StructField("params", StringType(), False),
        StructField("keys_written", LongType(), True),
        StructField("rows_written", LongType(), True),
        StructField("built_at", TimestampType(), False),
    ]
)


@dataclass(frozen=True)
class GoldBuild:
    """One recorded Gold write. ``mode``: ``full`` or ``incremental``."""

    gold_table: str
    gold_version: int
    logical_date: str
    run_id: str
    mode: str
    reason: str | None
    inputs: Mapping[str, int]
    params: Mapping[str, str]
    keys_written: int | None
    rows_written: int | None
    built_at: dt.datetime

    def as_row(self) -> tuple[object, ...]:
        return (
            self.gold_table,
            self.gold_version,
            self.logical_date,
            self.run_id,
            self.mode,
            self.reason,
            json.dumps(dict(self.inputs), sort_keys=True),
            json.dumps(dict(self.params), sort_keys=True),
            self.keys_written,
            self.rows_written,
            self.built_at,
        )


def last_build(port: DeltaPort, lake: Lake, gold_table: str) -> GoldBuild | None:
    """The newest recorded build of ``gold_table`` (highest Gold version), or None."""
    location = lake.location(BUILDS)
    if not port.exists(location):
        return None
    row = (
        port.read(location)
        .where(F.col("gold_table") == gold_table)
        .orderBy(F.desc("gold_version"), F.desc("built_at"))
        .first()
    )
    if row is None:
        return None
    return GoldBuild(
        gold_table=row["gold_table"],
        gold_version=row["gold_version"],
        logical_date=row["logical_date"],
        run_id=row["run_id"],
        mode=row["mode"],
        reason=row["reason"],
        inputs={str(k): int(v) for k, v in json.loads(row["inputs"]).items()},
        params={str(k): str(v) for k, v in json.loads(row["params"]).items()},
        keys_written=row["keys_written"],
        rows_written=row["rows_written"],
        built_at=row["built_at"],
    )


def record_build(port: DeltaPort, lake: Lake, build: GoldBuild, txn: Txn | None) -> None:
    location = lake.location(BUILDS)
    port.create(
        location, BUILDS_SCHEMA, description="Gold builds: the input versions of each Gold write"
    )
    port.append_rows(location, [build.as_row()], BUILDS_SCHEMA, txn=txn)


__all__ = ["BUILDS", "BUILDS_SCHEMA", "GoldBuild", "last_build", "record_build"]
