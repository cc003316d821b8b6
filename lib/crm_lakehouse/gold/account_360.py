"""gold.account_360: one row per live golden company, everything an account manager asks about.

Firmographics are the survived Silver values with the source and ``as_of`` that won them; the
company's phone (PII in Silver) only appears as an HMAC join key; its street is left out.
Dimensions (segment, size band, region, industry name) follow ``conf/rules/gold.yaml``.
People and deals are attached through their golden ``company_id``.
"""

from __future__ import annotations

from functools import reduce

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql.types import (
    ArrayType,
    DateType,
    DoubleType,
    LongType,
    StringType,
    StructField,
    StructType,
    TimestampType,
)

from crm_lakehouse.gold.opportunities import opportunity_facts
from crm_lakehouse.gold.pii import hash_column
from crm_lakehouse.gold.rules import FIRMOGRAPHIC_ATTRIBUTES, company_dimensions
from crm_lakehouse.gold.table import (
    BuildContext,
    GoldTable,
    Snapshot,
    cents,
    conform,
)

TABLE = "gold.account_360"
COMPANIES = "silver.companies"
COMPANY_MERGES = "silver.company_merges"
PEOPLE = "silver.people"
OPPORTUNITIES = "silver.opportunities"

_TYPES = {"revenue_usd": DoubleType(), "employees": LongType()}


def _out_name(attr: str) -> str:
    return "company_name" if attr == "name" else attr


def _firmographic_fields() -> list[StructField]:
    out = []
    for a in FIRMOGRAPHIC_ATTRIBUTES:
        name = _out_name(a)
        out.append(StructField(name, _TYPES.get(a, StringType())))
        if a == "industry":
            out.append(StructField("industry_name", StringType()))
        out.append(StructField(f"{name}_source", StringType()))
        out.append(StructField(f"{name}_as_of", TimestampType()))
    return out


SCHEMA = StructType(
    [
        StructField("company_id", StringType(), False),
        *_firmographic_fields(),
        StructField("phone_hmac", StringType()),
        StructField("segment", StringType(), False),
        StructField("size_band", StringType(), False),
        StructField("region", StringType(), False),
        StructField("source_systems", ArrayType(StringType())),
        StructField("record_count", LongType()),
        StructField("contact_count", LongType(), False),
        StructField("lead_count", LongType(), False),
        StructField("open_opportunity_count", LongType(), False),
        StructField("open_pipeline_usd", DoubleType(), False),
        StructField("weighted_pipeline_usd", DoubleType(), False),
        StructField("won_opportunity_count_trailing", LongType(), False),
        StructField("won_revenue_usd_trailing", DoubleType(), False),
        StructField("last_activity_at", TimestampType()),
        StructField("newest_value_as_of", TimestampType()),
        StructField("oldest_value_as_of", TimestampType()),
        StructField("last_delivered_on", DateType()),
        StructField("first_seen", DateType()),
        StructField("enrichment_completeness", DoubleType(), False),
    ]
)


def live_companies(companies: DataFrame, merges: DataFrame | None) -> DataFrame:
    """Golden companies that are neither deleted nor merged into another one."""
    live = companies.where(~F.col("is_deleted"))
    if merges is not None:
        live = live.join(
            merges.select(F.col("merged_id").alias("company_id")), "company_id", "left_anti"
        )
    return live


def _person_last_change(people: DataFrame) -> Column:
    dated = [F.col(c) for c in people.columns if c.endswith("_as_of")]
    return F.greatest(*dated) if len(dated) > 1 else (dated[0] if dated else F.lit(None))


def people_per_company(people: DataFrame | None) -> DataFrame | None:
    """Live golden people counted per company: contacts, leads, and their newest change."""
    if people is None:
        return None
    live = people.where(~F.col("is_deleted") & F.col("company_id").isNotNull())
    return live.groupBy("company_id").agg(
        F.count(F.when(F.array_contains("record_kinds", "contact"), 1)).alias("contact_count"),
        F.count(F.when(F.array_contains("record_kinds", "lead"), 1)).alias("lead_count"),
        F.max(_person_last_change(people)).alias("_people_changed_at"),
    )


def deals_per_company(
    opportunities: DataFrame | None, ctx: BuildContext, date: str
) -> DataFrame | None:
    if opportunities is None:
        return None
    facts = opportunity_facts(opportunities, ctx.rules, date).where(F.col("company_id").isNotNull())
    is_open = ~F.col("is_closed")
    zero = F.lit(0).cast("decimal(38,6)")
    return facts.groupBy("company_id").agg(
        F.count(F.when(is_open, 1)).alias("open_opportunity_count"),
        F.coalesce(F.sum(F.when(is_open, F.col("amount_usd"))), zero).alias("_open_usd"),
        F.coalesce(F.sum(F.when(is_open, F.col("weighted_usd"))), zero).alias("_weighted_usd"),
        F.count(F.when(F.col("won_in_window"), 1)).alias("won_opportunity_count_trailing"),
        F.coalesce(F.sum(F.when(F.col("won_in_window"), F.col("amount_usd"))), zero).alias(
            "_won_usd"
        ),
        F.max("modified_at").alias("_deals_changed_at"),
    )


def account_360(snapshot: Snapshot, ctx: BuildContext) -> DataFrame:
    """The whole table from a snapshot of Silver (see the contract for every column)."""
    rules = ctx.rules
    companies = live_companies(snapshot.require(COMPANIES), snapshot.get(COMPANY_MERGES))
    dims = company_dimensions(companies, rules).drop("industry")
    df = companies.join(dims, "company_id")
    people = people_per_company(snapshot.get(PEOPLE))
    deals = deals_per_company(snapshot.get(OPPORTUNITIES), ctx, snapshot.date)
    if people is not None:
        df = df.join(people, "company_id", "left")
    if deals is not None:
        df = df.join(deals, "company_id", "left")
    n = len(rules.completeness_attributes)
    filled = reduce(
        lambda acc, a: acc + F.when(F.col(a).isNotNull(), 1).otherwise(0),
        rules.completeness_attributes,
        F.lit(0),
    )
    as_of = [F.col(f"{a}_as_of") for a in FIRMOGRAPHIC_ATTRIBUTES]

    def count(name: str) -> Column:
        return F.coalesce(F.col(name), F.lit(0)) if name in df.columns else F.lit(0)

    def usd(name: str) -> Column:
        return cents(F.coalesce(F.col(name), F.lit(0))) if name in df.columns else F.lit(0.0)

    def latest(name: str) -> Column:
        return F.col(name) if name in df.columns else F.lit(None).cast("timestamp")

    renamed = []
    for a in FIRMOGRAPHIC_ATTRIBUTES:
        name = _out_name(a)
        renamed += [
            F.col(a).alias(name),
            F.col(f"{a}_source").alias(f"{name}_source"),
            F.col(f"{a}_as_of").alias(f"{name}_as_of"),
        ]
    out = df.select(
        "company_id",
        *renamed,
        "industry_name",
        hash_column(F.col("phone"), ctx.key()).alias("phone_hmac"),
        "segment",
        "size_band",
        "region",
        "source_systems",
        "record_count",
        count("contact_count").alias("contact_count"),
        count("lead_count").alias("lead_count"),
        count("open_opportunity_count").alias("open_opportunity_count"),
        usd("_open_usd").alias("open_pipeline_usd"),
        usd("_weighted_usd").alias("weighted_pipeline_usd"),
        count("won_opportunity_count_trailing").alias("won_opportunity_count_trailing"),
        usd("_won_usd").alias("won_revenue_usd_trailing"),
        F.greatest(latest("_deals_changed_at"), latest("_people_changed_at")).alias(
            "last_activity_at"
        ),
        F.greatest(*as_of).alias("newest_value_as_of"),
        F.least(*as_of).alias("oldest_value_as_of"),
        F.col("last_seen").alias("last_delivered_on"),
        "first_seen",
        F.round(filled / F.lit(n), 4).alias("enrichment_completeness"),
    )
    return conform(out, SCHEMA)


SPEC = GoldTable(
    table=TABLE,
    key="company_id",
    schema=SCHEMA,
    description="gold.account_360: one row per live golden company",
    inputs=(COMPANIES, COMPANY_MERGES, PEOPLE, OPPORTUNITIES),
    required=(COMPANIES,),
    build=account_360,
    uses_pii_key=True,
)

__all__ = ["SCHEMA", "SPEC", "TABLE", "account_360", "live_companies"]
