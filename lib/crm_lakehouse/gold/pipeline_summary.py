"""gold.pipeline_summary: live opportunities by segment, industry, region, stage, close month
and currency: counts, amounts (in the deal currency and in USD), weighted amounts, win rate.

Segment, industry and region are those of the deal's golden company (``conf/rules/gold.yaml``);
a deal without a known company gets the rules' unknown labels and industry ``(unknown)``.
"""

from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql.types import DoubleType, LongType, StringType, StructField, StructType

from crm_lakehouse.gold.opportunities import opportunity_facts
from crm_lakehouse.gold.rules import GoldRules, company_dimensions
from crm_lakehouse.gold.table import (
    BuildContext,
    GoldTable,
    Snapshot,
    cents,
    conform,
    ratio,
)

TABLE = "gold.pipeline_summary"
OPPORTUNITIES = "silver.opportunities"
COMPANIES = "silver.companies"
UNKNOWN_INDUSTRY = "(unknown)"

GROUP = ("segment", "industry", "region", "stage", "close_month", "currency")

SCHEMA = StructType(
    [
        StructField("segment", StringType(), False),
        StructField("industry", StringType(), False),
        StructField("industry_name", StringType()),
        StructField("region", StringType(), False),
        StructField("stage", StringType(), False),
        StructField("close_month", StringType(), False),
        StructField("currency", StringType(), False),
        StructField("opportunity_count", LongType(), False),
        StructField("open_count", LongType(), False),
        StructField("closed_count", LongType(), False),
        StructField("won_count", LongType(), False),
        StructField("amount", DoubleType(), False),
        StructField("weighted_amount", DoubleType(), False),
        StructField("won_amount", DoubleType(), False),
        StructField("amount_usd", DoubleType(), False),
        StructField("weighted_amount_usd", DoubleType(), False),
        StructField("win_rate", DoubleType()),
    ]
)


def deal_facts(
    opportunities: DataFrame, companies: DataFrame | None, rules: GoldRules, date: str
) -> DataFrame:
    """Live opportunities with the dimensions of their golden company."""
    facts = opportunity_facts(opportunities, rules, date).drop("won_in_window")
    if companies is None:
        dims = opportunities.sparkSession.createDataFrame(
            [],
            "company_id string, segment string, size_band string, region string, "
            "industry string, industry_name string",
        )
    else:
        dims = company_dimensions(companies, rules)
    joined = facts.join(dims, "company_id", "left")
    return joined.select(
        *[c for c in facts.columns],
        F.coalesce(F.col("segment"), F.lit(rules.unknown_segment)).alias("segment"),
        F.coalesce(F.col("industry"), F.lit(UNKNOWN_INDUSTRY)).alias("industry"),
        "industry_name",
        F.coalesce(F.col("region"), F.lit(rules.unknown_region)).alias("region"),
    )


def summarise(facts: DataFrame) -> DataFrame:
    zero = F.lit(0).cast("decimal(38,6)")
    closed = F.count(F.when(F.col("is_closed"), 1))
    won = F.count(F.when(F.col("is_won"), 1))
    out = facts.groupBy(*GROUP).agg(
        F.first("industry_name").alias("industry_name"),
        F.count(F.lit(1)).alias("opportunity_count"),
        F.count(F.when(~F.col("is_closed"), 1)).alias("open_count"),
        closed.alias("closed_count"),
        won.alias("won_count"),
        cents(F.sum("amount")).alias("amount"),
        cents(F.sum("weighted")).alias("weighted_amount"),
        cents(F.coalesce(F.sum(F.when(F.col("is_won"), F.col("amount"))), zero)).alias(
            "won_amount"
        ),
        cents(F.sum("amount_usd")).alias("amount_usd"),
        cents(F.sum("weighted_usd")).alias("weighted_amount_usd"),
        ratio(won, closed).alias("win_rate"),
    )
    return conform(out, SCHEMA)


def pipeline_summary(snapshot: Snapshot, ctx: BuildContext) -> DataFrame:
    facts = deal_facts(
        snapshot.require(OPPORTUNITIES), snapshot.get(COMPANIES), ctx.rules, snapshot.date
    )
    return summarise(facts)


SPEC = GoldTable(
    table=TABLE,
    key="close_month",
    schema=SCHEMA,
    description="gold.pipeline_summary: pipeline by segment, industry, region, stage, month",
    inputs=(OPPORTUNITIES, COMPANIES),
    required=(OPPORTUNITIES,),
    build=pipeline_summary,
)

__all__ = ["GROUP", "SCHEMA", "SPEC", "TABLE", "deal_facts", "pipeline_summary", "summarise"]
