"""gold.lead_funnel: leads by lead source and month of creation: created, matched to an
account, converted, and how long matching took.

A lead is one live Salesforce lead record (``silver.person_records`` with ``record_kind =
'lead'``). It is *matched* when its golden person (``silver.person_xref``) belongs to a live
golden company (``silver.people.company_id``). *Days to match* runs from the lead's creation in
the CRM to the first delivery that brought it into the lakehouse (``person_xref.first_seen``),
where entity resolution linked it; Silver keeps no history of links, so a lead linked only on a
later delivery is counted from its first delivery.
"""

from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql.types import DoubleType, LongType, StringType, StructField, StructType

from crm_lakehouse.gold.account_360 import live_companies
from crm_lakehouse.gold.table import BuildContext, GoldTable, Snapshot, conform, ratio

TABLE = "gold.lead_funnel"
PERSON_RECORDS = "silver.person_records"
PERSON_XREF = "silver.person_xref"
PEOPLE = "silver.people"
COMPANIES = "silver.companies"
COMPANY_MERGES = "silver.company_merges"
NO_SOURCE = "(none)"
NO_MONTH = "(none)"

SCHEMA = StructType(
    [
        StructField("lead_source", StringType(), False),
        StructField("created_month", StringType(), False),
        StructField("leads_created", LongType(), False),
        StructField("leads_matched", LongType(), False),
        StructField("leads_converted", LongType(), False),
        StructField("match_rate", DoubleType()),
        StructField("conversion_rate", DoubleType()),
        StructField("avg_days_to_match", DoubleType()),
        StructField("median_days_to_match", DoubleType()),
        StructField("max_days_to_match", LongType()),
    ]
)


def lead_facts(snapshot: Snapshot) -> DataFrame:
    """One row per live lead record: source, month, matched, converted, days to match."""
    records = snapshot.require(PERSON_RECORDS)
    leads = records.where((F.col("record_kind") == "lead") & ~F.col("is_deleted")).select(
        "source_system",
        "source_id",
        F.coalesce(F.col("lead_source"), F.lit(NO_SOURCE)).alias("lead_source"),
        F.coalesce(F.date_format("created_at", "yyyy-MM"), F.lit(NO_MONTH)).alias("created_month"),
        F.to_date("created_at").alias("created_on"),
        F.coalesce(F.col("is_converted"), F.lit(False)).alias("is_converted"),
    )
    xref, people, companies = (
        snapshot.get(PERSON_XREF),
        snapshot.get(PEOPLE),
        snapshot.get(COMPANIES),
    )
    if xref is None or people is None or companies is None:
        return leads.select(
            "source_system", "source_id", "lead_source", "created_month", "is_converted",
            F.lit(False).alias("is_matched"), F.lit(None).cast("int").alias("days_to_match"),
        )  # fmt: skip
    live = live_companies(companies, snapshot.get(COMPANY_MERGES)).select(
        "company_id", F.lit(True).alias("_live")
    )
    linked = (
        xref.select("source_system", "source_id", "person_id", "first_seen")
        .join(people.select("person_id", "company_id"), "person_id", "left")
        .join(live, "company_id", "left")
    )
    joined = leads.join(linked, ["source_system", "source_id"], "left")
    matched = F.coalesce(F.col("_live"), F.lit(False))
    # greatest() skips nulls, so guard it: no creation date, no duration.
    days = F.when(
        F.col("created_on").isNotNull() & F.col("first_seen").isNotNull(),
        F.greatest(F.datediff("first_seen", "created_on"), F.lit(0)),
    )
    return joined.select(
        "source_system",
        "source_id",
        "lead_source",
        "created_month",
        "is_converted",
        matched.alias("is_matched"),
        F.when(matched, days).alias("days_to_match"),
    )


def summarise(facts: DataFrame) -> DataFrame:
    created = F.count(F.lit(1))
    matched = F.count(F.when(F.col("is_matched"), 1))
    converted = F.count(F.when(F.col("is_converted"), 1))
    out = facts.groupBy("lead_source", "created_month").agg(
        created.alias("leads_created"),
        matched.alias("leads_matched"),
        converted.alias("leads_converted"),
        ratio(matched, created).alias("match_rate"),
        ratio(converted, created).alias("conversion_rate"),
        F.round(F.avg("days_to_match"), 2).alias("avg_days_to_match"),
        F.median("days_to_match").alias("median_days_to_match"),
        F.max("days_to_match").alias("max_days_to_match"),
    )
    return conform(out, SCHEMA)


def lead_funnel(snapshot: Snapshot, ctx: BuildContext) -> DataFrame:
    return summarise(lead_facts(snapshot))


SPEC = GoldTable(
    table=TABLE,
    key="created_month",
    schema=SCHEMA,
    description="gold.lead_funnel: leads by source and month of creation",
    inputs=(PERSON_RECORDS, PERSON_XREF, PEOPLE, COMPANIES, COMPANY_MERGES),
    required=(PERSON_RECORDS,),
    build=lead_funnel,
)

__all__ = ["SCHEMA", "SPEC", "TABLE", "lead_facts", "lead_funnel", "summarise"]
