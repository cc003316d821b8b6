"""gold.pipeline_summary: opportunities by stage, close month and currency."""

from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

TABLE = "gold.pipeline_summary"


def pipeline_summary(opportunities: DataFrame) -> DataFrame:
    """Aggregate live (not deleted) opportunities.

    ``weighted_amount`` is amount x probability; ``win_rate`` is won / closed (null when
    nothing in the group is closed).
    """
    live = opportunities.where(~F.col("is_deleted"))
    return (
        live.groupBy(
            F.coalesce(F.col("stage"), F.lit("(unknown)")).alias("stage"),
            F.coalesce(F.date_format("close_date", "yyyy-MM"), F.lit("(none)")).alias(
                "close_month"
            ),
            F.coalesce(F.col("currency"), F.lit("USD")).alias("currency"),
        )
        .agg(
            F.count(F.lit(1)).alias("opportunity_count"),
            F.round(F.sum(F.coalesce("amount", F.lit(0.0))), 2).alias("amount"),
            F.round(
                F.sum(
                    F.coalesce("amount", F.lit(0.0)) * F.coalesce("probability", F.lit(0.0)) / 100
                ),
                2,
            ).alias("weighted_amount"),
            F.count(F.when(F.col("is_won"), 1)).alias("won_count"),
            F.count(F.when(F.col("is_closed"), 1)).alias("closed_count"),
        )
        .withColumn(
            "win_rate",
            F.when(
                F.col("closed_count") > 0, F.round(F.col("won_count") / F.col("closed_count"), 4)
            ),
        )
    )
