"""gold.data_quality: a data-quality scorecard, one row per (run, table) that was validated.

Built from ``ops.dq_results`` (one row per contract rule per validation), ``ops.runs`` (the
run's logical date) and the ``<table>__quarantine`` tables (rows a run held back). The
scorecard does not score itself: ``gold.data_quality`` is validated after it is computed, so
its own results are only in ``ops.dq_results``.
"""

from __future__ import annotations

from functools import reduce

from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql.types import (
    BooleanType,
    DateType,
    DoubleType,
    LongType,
    StringType,
    StructField,
    StructType,
    TimestampType,
)

from crm_lakehouse.gold.table import BuildContext, GoldTable, Snapshot, conform

TABLE = "gold.data_quality"
DQ_RESULTS = "ops.dq_results"
RUNS = "ops.runs"
QUARANTINE_SUFFIX = "__quarantine"
FRESHNESS = "freshness"
AGE = r"([0-9]+(?:\.[0-9]+)?)h old"  # as describe_freshness() states a value's age

SCHEMA = StructType(
    [
        StructField("run_id", StringType(), False),
        StructField("logical_date", DateType()),
        StructField("table", StringType(), False),
        StructField("tier", StringType(), False),
        StructField("validations", LongType(), False),
        StructField("rules_checked", LongType(), False),
        StructField("rules_passed", LongType(), False),
        StructField("rules_failed", LongType(), False),
        StructField("rules_failed_blocking", LongType(), False),
        StructField("rows_checked", LongType()),
        StructField("rows_quarantined", LongType(), False),
        StructField("freshness_rules", LongType(), False),
        StructField("freshness_passed", BooleanType()),
        StructField("newest_data_age_hours", DoubleType()),
        StructField("checked_at", TimestampType(), False),
    ]
)


def quarantine_inputs(tables: list[str]) -> tuple[str, ...]:
    """Every quarantine table in the lake is an input (counted per run)."""
    return tuple(t for t in tables if t.endswith(QUARANTINE_SUFFIX))


def _results(snapshot: Snapshot) -> DataFrame:
    return snapshot.require(DQ_RESULTS).where(F.col("table") != TABLE)


def _quarantined(snapshot: Snapshot) -> DataFrame | None:
    frames = [
        df.groupBy(F.col("_run_id").alias("run_id")).agg(
            F.lit(name[: -len(QUARANTINE_SUFFIX)]).alias("table"),
            F.count(F.lit(1)).alias("rows_quarantined"),
        )
        for name, df in sorted(snapshot.frames.items())
        if name.endswith(QUARANTINE_SUFFIX) and df is not None
    ]
    return reduce(DataFrame.unionByName, frames) if frames else None


def _run_dates(snapshot: Snapshot) -> DataFrame | None:
    runs = snapshot.get(RUNS)
    if runs is None:
        return None
    return runs.select("run_id", F.to_date("logical_date").alias("_ledger_date")).distinct()


def data_quality(snapshot: Snapshot, ctx: BuildContext) -> DataFrame:
    dq = _results(snapshot)
    failed = ~F.col("passed")
    is_fresh = F.col("rule_kind") == FRESHNESS
    age = F.regexp_extract("observed_value", AGE, 1)
    per = dq.groupBy("run_id", "table").agg(
        F.countDistinct("checked_at").alias("validations"),
        F.count(F.lit(1)).alias("rules_checked"),
        F.count(F.when(F.col("passed"), 1)).alias("rules_passed"),
        F.count(F.when(failed, 1)).alias("rules_failed"),
        F.count(F.when(failed & (F.col("action") == "fail"), 1)).alias("rules_failed_blocking"),
        F.max("element_count").alias("rows_checked"),
        F.count(F.when(is_fresh, 1)).alias("freshness_rules"),
        F.bool_and(F.when(is_fresh, F.col("passed"))).alias("freshness_passed"),
        F.max(F.when(is_fresh & (age != ""), age.cast("double"))).alias("newest_data_age_hours"),
        F.max("checked_at").alias("checked_at"),
    )
    quarantined = _quarantined(snapshot)
    if quarantined is not None:
        per = per.join(quarantined, ["run_id", "table"], "left")
    else:
        per = per.withColumn("rows_quarantined", F.lit(None).cast("long"))
    extracted = F.regexp_extract("run_id", r"^([0-9]{4}-[0-9]{2}-[0-9]{2})_", 1)
    logical = F.try_to_date(F.nullif(extracted, F.lit("")))  # run ids start with the date
    dates = _run_dates(snapshot)
    if dates is not None:
        per = per.join(dates, "run_id", "left")
        logical = F.coalesce(F.col("_ledger_date"), logical)
    out = (
        per.select(
            "*",
            logical.alias("logical_date"),
            F.substring_index("table", ".", 1).alias("tier"),
            F.coalesce(F.col("rows_quarantined"), F.lit(0)).alias("_rq"),
        )
        .drop("rows_quarantined")
        .withColumnRenamed("_rq", "rows_quarantined")
    )
    return conform(out, SCHEMA)


SPEC = GoldTable(
    table=TABLE,
    key="run_id",
    schema=SCHEMA,
    description="gold.data_quality: contract results per run and table",
    inputs=(DQ_RESULTS, RUNS),
    required=(DQ_RESULTS,),
    build=data_quality,
    dynamic_inputs=quarantine_inputs,
)

__all__ = ["SCHEMA", "SPEC", "TABLE", "data_quality", "quarantine_inputs"]
