"""The writes: ops.dq_results and quarantine tables, through the real delta-rs port."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from chispa import assert_df_equality
from pyspark.sql import SparkSession

from crm_lakehouse.contracts import (
    DQ_RESULTS,
    DQ_RESULTS_SCHEMA,
    enforce,
    publish_quarantine,
    quarantine_schema,
    read_results,
    record_results,
    released_rows,
)
from crm_lakehouse.contracts.spark_types import same_type
from crm_lakehouse.delta.port import DeltaPort, Txn
from crm_lakehouse.delta.rs import DeltaRsAdapter
from crm_lakehouse.lake import Lake

from ._support import REF, column, contract, lib

CONTRACT = contract(
    [
        column("_run_id", "string"),  # collides with the quarantine column, as in Bronze
        column("id", "string", lib("notNull", "quarantine")),
        column("amount", "double", lib("range", "warn", args={"min": 0})),
    ]
)
SCHEMA = "_run_id string, id string, amount double"
ROWS = [("ingest-1", "a", 1.0), ("ingest-1", None, -2.0), ("ingest-1", "c", 3.0)]
CHECKED_AT = dt.datetime(2026, 11, 20, 13, 0, tzinfo=dt.UTC)


@pytest.fixture
def port(spark: SparkSession) -> DeltaPort:
    return DeltaRsAdapter(spark)


@pytest.fixture
def lake(tmp_path: Path) -> Lake:
    return Lake(tmp_path / "lake")


def test_quarantine_is_appended_once_per_txn_and_replays_to_the_original_rows(
    spark: SparkSession, port: DeltaPort, lake: Lake
) -> None:
    df = spark.createDataFrame(ROWS, SCHEMA)
    with enforce(df, CONTRACT, run_id="run-7", reference_time=REF, checked_at=CHECKED_AT) as res:
        first = publish_quarantine(port, lake, res, txn=Txn("silver:things:2026-11-20"))
        again = publish_quarantine(port, lake, res, txn=Txn("silver:things:2026-11-20"))
    assert first is not None and not first.skipped
    assert again is not None and again.skipped
    location = lake.location("silver.things__quarantine")
    held = port.read(location)
    assert held.count() == 1
    row = held.collect()[0]
    assert row["_run_id"] == "run-7" and row["_original_run_id"] == "ingest-1"
    assert row["_rule_ids"] == ["silver.things.id.not_null", "silver.things.amount.range"]
    expected_schema = quarantine_schema(df.schema)
    assert held.schema.names == expected_schema.names
    assert all(
        same_type(a.dataType, b.dataType) for a, b in zip(held.schema, expected_schema, strict=True)
    )
    assert_df_equality(
        released_rows(held),
        spark.createDataFrame([ROWS[1]], SCHEMA),
        ignore_nullable=True,
    )


def test_nothing_quarantined_writes_nothing(
    spark: SparkSession, port: DeltaPort, lake: Lake
) -> None:
    df = spark.createDataFrame([ROWS[0]], SCHEMA)
    with enforce(df, CONTRACT, run_id="run-8", reference_time=REF) as res:
        assert publish_quarantine(port, lake, res, txn=None) is None
    assert not port.exists(lake.location("silver.things__quarantine"))


def test_results_round_trip_through_ops_dq_results(
    spark: SparkSession, port: DeltaPort, lake: Lake
) -> None:
    df = spark.createDataFrame(ROWS, SCHEMA)
    with enforce(df, CONTRACT, run_id="run-1", reference_time=REF, checked_at=CHECKED_AT) as first:
        record_results(port, lake, first.results)
    later = CHECKED_AT + dt.timedelta(hours=1)
    with enforce(df, CONTRACT, run_id="run-2", reference_time=REF, checked_at=later) as second:
        record_results(port, lake, second.results)
    assert record_results(port, lake, []) is None

    table = port.read(lake.location(DQ_RESULTS))
    assert table.schema.names == DQ_RESULTS_SCHEMA.names
    assert table.count() == 4
    latest = read_results(port, lake)
    assert [r.run_id for r in latest] == ["run-2", "run-2"]
    assert sorted(latest, key=lambda r: r.rule_id) == sorted(
        second.results, key=lambda r: r.rule_id
    )
    assert read_results(port, lake, run_id="run-1", tables=["silver.other"]) == []
    one = read_results(port, lake, run_id="run-1")
    by_rule = {r.rule_id: r for r in one}
    amount = by_rule["silver.things.amount.range"]
    assert (amount.passed, amount.unexpected_count, amount.action) == (False, 1, "warn")
    assert amount.checked_at == CHECKED_AT


def test_read_results_on_a_new_lake_is_empty(port: DeltaPort, lake: Lake) -> None:
    assert read_results(port, lake) == []
