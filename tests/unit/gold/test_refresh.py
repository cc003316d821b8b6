"""The incremental refresh on real Delta tables: first build, rerun, changed keys only,
recovery from an unrecorded write, and a full refresh giving the same table."""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path

import pytest
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import ArrayType, StringType, StructField, StructType

from crm_lakehouse.config import DeltaAdapterKind, Settings
from crm_lakehouse.delta import open_port
from crm_lakehouse.delta._common import in_predicate, sql_string
from crm_lakehouse.delta.port import DeltaPort
from crm_lakehouse.gold import pipeline_summary as P
from crm_lakehouse.gold import refresh
from crm_lakehouse.gold.refresh import refresh_table
from crm_lakehouse.gold.rules import load_gold_rules
from crm_lakehouse.gold.state import BUILDS, last_build
from crm_lakehouse.gold.table import BuildContext, Snapshot
from crm_lakehouse.steps import StepContext

from ._support import KEY, companies, company, opportunities

NOV, DEC, JAN = dt.date(2026, 11, 5), dt.date(2026, 12, 7), dt.date(2027, 1, 9)


def _opps(spark: SparkSession, o1_amount: float) -> DataFrame:
    return opportunities(
        spark,
        [
            ("O1", "CO-1", "Prospecting", o1_amount, "USD", 10.0, NOV, False, False, False),
            ("O2", "CO-1", "Prospecting", 200.0, "USD", 10.0, DEC, False, False, False),
            ("O3", "CO-2", "Closed Won", 300.0, "EUR", 100.0, JAN, True, True, False),
        ],
    )


def _table(ctx: StepContext, table: str) -> list[tuple[object, ...]]:
    return sorted(tuple(r) for r in ctx.port.read(ctx.location(table)).collect())


def _silver(spark: SparkSession, settings: Settings) -> tuple[StepContext, DeltaPort, str, str]:
    port = open_port(spark, DeltaAdapterKind.DELTA_RS)
    ctx = StepContext(spark=spark, port=port, settings=settings, date="2026-11-20", run_id="r1")
    opps_loc, comps_loc = ctx.location(P.OPPORTUNITIES), ctx.location(P.COMPANIES)
    first = _opps(spark, 100.0)
    port.create(opps_loc, first.schema)
    port.overwrite(opps_loc, first)
    comps = companies(spark, [company("CO-1", country="US"), company("CO-2", country="DE")])
    port.create(comps_loc, comps.schema)
    port.overwrite(comps_loc, comps)
    return ctx, port, opps_loc, comps_loc


def test_incremental_refresh_replaces_only_changed_keys(
    spark: SparkSession, settings: Settings
) -> None:
    ctx, port, opps_loc, comps_loc = _silver(spark, settings)
    bctx = BuildContext(load_gold_rules(), KEY)

    built = refresh_table(ctx, P.SPEC, bctx)
    gold = ctx.location(P.TABLE)
    assert (built.mode, built.reason, built.version) == ("full", "new table", 1)
    recorded = last_build(port, ctx.lake, P.TABLE)
    assert recorded is not None and recorded.gold_version == 1
    assert dict(recorded.inputs) == {P.OPPORTUNITIES: 1, P.COMPANIES: 1}

    again = refresh_table(ctx, P.SPEC, bctx)
    assert (again.mode, port.version(gold)) == ("unchanged", 1)

    # One deal changes: only its close month is recomputed and replaced.
    port.overwrite(opps_loc, _opps(spark, 150.0))
    december = [r for r in _table(ctx, P.TABLE) if r[4] == "2026-12"]
    ctx2 = StepContext(spark=spark, port=port, settings=settings, date="2026-11-21", run_id="r2")
    inc = refresh_table(ctx2, P.SPEC, bctx)
    assert (inc.mode, inc.keys_written, inc.rows_written, inc.version) == ("incremental", 1, 1, 2)
    assert (
        port.history(gold, limit=1)[0].parameters.get("predicate") == "`close_month` IN ('2026-11')"
    )
    assert [r for r in _table(ctx2, P.TABLE) if r[4] == "2026-12"] == december
    november = port.read(gold).where(F.col("close_month") == "2026-11").first()
    assert november is not None and november["amount"] == 150.0
    full = P.pipeline_summary(
        Snapshot({P.OPPORTUNITIES: port.read(opps_loc), P.COMPANIES: port.read(comps_loc)}, ctx2.date),
        bctx,
    )  # fmt: skip
    assert sorted(tuple(r) for r in full.collect()) == _table(ctx2, P.TABLE)

    # A write nobody recorded: no trustworthy baseline, so the table is rebuilt in full.
    port.overwrite(gold, port.read(gold).where(F.col("close_month") != "2027-01"))
    rebuilt = refresh_table(ctx2, P.SPEC, bctx)
    assert rebuilt.mode == "full" and "last recorded build produced version 2" in rebuilt.reason
    assert _table(ctx2, P.TABLE) == sorted(tuple(r) for r in full.collect())

    forced = refresh_table(ctx2, P.SPEC, bctx, full_refresh=True)
    assert (forced.mode, forced.reason) == ("full", "full refresh requested")
    assert _table(ctx2, P.TABLE) == sorted(tuple(r) for r in full.collect())
    modes = [r["mode"] for r in port.read(ctx.location(BUILDS)).orderBy("gold_version").collect()]
    assert modes == ["full", "incremental", "full", "full"]


def test_key_predicates_quote_values() -> None:
    assert sql_string("it's") == "'it\\'s'"
    assert in_predicate("k", ["a", "b\\c"]) == "`k` IN ('a', 'b\\\\c')"


def test_a_small_gold_table_is_written_as_one_file(
    spark: SparkSession, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    ctx = _silver(spark, settings)[0]
    # Keep the aggregation's shuffle partitions apart, as on a larger table: three close
    # months land in different partitions, which would each be a file.
    key = "spark.sql.adaptive.coalescePartitions.enabled"
    spark.conf.set(key, "false")
    try:
        built = refresh_table(ctx, P.SPEC, BuildContext(load_gold_rules(), KEY))
        assert built.rows_written == 3
        assert len(list(Path(ctx.location(P.TABLE)).glob("*.parquet"))) == 1
        # Above the limit, the rows keep the aggregation's partitions: several files.
        monkeypatch.setattr(refresh, "ONE_FILE_ROWS", 2)
        refresh_table(ctx, P.SPEC, BuildContext(load_gold_rules(), KEY), full_refresh=True)
        assert len(list(Path(ctx.location(P.TABLE)).glob("*.parquet"))) > 2
    finally:
        spark.conf.set(key, "true")


def test_more_changed_keys_than_allowed_per_write_rebuild_the_table(
    spark: SparkSession, settings: Settings
) -> None:
    ctx, port, opps_loc, comps_loc = _silver(spark, settings)
    bctx = BuildContext(dataclasses.replace(load_gold_rules(), max_keys_per_write=1), KEY)
    assert refresh_table(ctx, P.SPEC, bctx).mode == "full"
    # Two close months change (2026-11 and 2027-01): more than one key per write allowed.
    moved = _opps(spark, 150.0).withColumn(
        "amount", F.when(F.col("source_id") == "O3", 999.0).otherwise(F.col("amount"))
    )
    port.overwrite(opps_loc, moved)
    ctx2 = StepContext(spark=spark, port=port, settings=settings, date="2026-11-21", run_id="r2")
    rebuilt = refresh_table(ctx2, P.SPEC, bctx)
    assert (rebuilt.mode, rebuilt.reason) == (
        "full",
        "2 keys changed (more than max_keys_per_write)",
    )
    assert rebuilt.rows_written == 3
    full = P.pipeline_summary(
        Snapshot({P.OPPORTUNITIES: port.read(opps_loc), P.COMPANIES: port.read(comps_loc)}, ctx2.date),
        bctx,
    )  # fmt: skip
    assert _table(ctx2, P.TABLE) == sorted(tuple(r) for r in full.collect())


def test_changed_keys_sees_moved_nulls_and_array_elements(spark: SparkSession) -> None:
    """The digest tells apart rows that differ only in where a null sits, at the top level or
    inside an array (``xxhash64`` alone skips nulls in both places)."""
    spec = dataclasses.replace(
        P.SPEC,
        key="k",
        schema=StructType(
            [
                StructField("k", StringType(), False),
                StructField("a", StringType()),
                StructField("b", StringType()),
                StructField("xs", ArrayType(StringType())),
            ]
        ),
    )
    ddl = "k string, a string, b string, xs array<string>"
    stored = spark.createDataFrame(
        [("same", "x", None, ["p"]), ("swap", "x", None, ["p"]), ("arr", "x", "y", ["p", None]),
         ("gone", "x", "y", None), ("dup", "x", "y", None)],
        ddl,
    )  # fmt: skip
    rows = spark.createDataFrame(
        [("same", "x", None, ["p"]), ("swap", None, "x", ["p"]), ("arr", "x", "y", [None, "p"]),
         ("dup", "x", "y", None), ("dup", "x", "y", None), ("new", None, None, [])],
        ddl,
    )  # fmt: skip
    assert refresh.changed_keys(spec, rows, stored) == ["arr", "dup", "gone", "new", "swap"]
