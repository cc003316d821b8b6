"""checkpoint(): a localCheckpoint whose size estimate cannot grow without bound."""

from __future__ import annotations

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from crm_lakehouse.checkpoint import _absurd, checkpoint


def _estimate(df: DataFrame) -> str:
    return str(df._jdf.queryExecution().optimizedPlan().stats().simpleString())


def _squared(df: DataFrame) -> DataFrame:
    """A self-join: without cost-based optimisation its estimate is the square of df's."""
    return df.join(df.withColumnRenamed("v", "w"), "k").select(
        "k", (F.col("v") + F.col("w")).alias("v")
    )


def test_self_joins_over_checkpoints_keep_a_bounded_estimate_and_the_rows(
    spark: SparkSession,
) -> None:
    plain = checked = spark.range(50).select(F.col("id").alias("k"), F.lit(1).alias("v"))
    for _ in range(4):
        plain = _squared(plain).localCheckpoint()
        checked = _squared(checked).transform(checkpoint)
    # Spark's own checkpoint carries the product estimate along: past 2^60 bytes here.
    assert "E+" in _estimate(plain)
    # Reset to Spark's default for an unknown size (spark.sql.defaultSizeInBytes), every round.
    assert _estimate(checked) == "sizeInBytes=8.0 EiB"
    assert sorted(checked.collect()) == sorted(plain.collect())
    assert {r["v"] for r in checked.collect()} == {16}


def test_a_sane_estimate_is_kept(spark: SparkSession) -> None:
    df = spark.range(10).transform(checkpoint)
    assert not _absurd(_estimate(df))
    assert df.count() == 10
    assert not _absurd("sizeInBytes=82.4 MiB") and _absurd("sizeInBytes=1.20E+31 B")
