"""gold.enrichment_coverage: how well each enrichment provider covers each attribute.

Per (provider, attribute), over the provider's records in ``silver.firmographics`` that
resolved to a live golden company: how often the provider fills the attribute, how often its
value agrees with the survived golden value, how often Silver reports a conflict on it
(``silver.provider_conflicts``), and how stale its values are (days from the record's
``as_of`` to the run's logical date; median and 95th percentile).

Provider values are compared in the form survivorship saw them: the same normalisation as
entity resolution (:func:`~crm_lakehouse.match.companies.company_candidates`), names by their
comparison key, numbers within the attribute's survivorship ``tolerance`` (relative to the
golden value) and everything else by equality.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql.types import (
    BooleanType,
    DateType,
    DoubleType,
    LongType,
    StringType,
    StructField,
    StructType,
)

from crm_lakehouse import normalise as N
from crm_lakehouse.gold.account_360 import live_companies
from crm_lakehouse.gold.table import BuildContext, GoldTable, Snapshot, conform, ratio

TABLE = "gold.enrichment_coverage"
FIRMOGRAPHICS = "silver.firmographics"
COMPANY_XREF = "silver.company_xref"
COMPANIES = "silver.companies"
COMPANY_MERGES = "silver.company_merges"
PROVIDER_CONFLICTS = "silver.provider_conflicts"

#: The attributes providers deliver, in the order the table lists them.
ATTRIBUTES = ("name", "domain", "country", "industry", "revenue_usd", "employees")
NUMERIC = frozenset({"revenue_usd", "employees"})

SCHEMA = StructType(
    [
        StructField("provider", StringType(), False),
        StructField("attribute", StringType(), False),
        StructField("logical_date", DateType(), False),
        StructField("provider_records", LongType(), False),
        StructField("filled_count", LongType(), False),
        StructField("fill_rate", DoubleType()),
        StructField("agreement_rate", DoubleType()),
        StructField("conflict_checked", BooleanType(), False),
        StructField("conflict_rate", DoubleType()),
        StructField("median_staleness_days", DoubleType()),
        StructField("p95_staleness_days", DoubleType()),
    ]
)


def _survivorship(rules_dir: Path | None) -> tuple[dict[str, float | None], frozenset[str]]:
    """Tolerance per attribute and the attributes Silver checks for conflicts."""
    from crm_lakehouse.silver.resolution import load_rules

    spec = load_rules(rules_dir).survivorship.company
    return (
        {a.name: a.tolerance for a in spec.attributes},
        frozenset(a.name for a in spec.attributes if a.conflicts),
    )


def _agrees(attribute: str, tolerance: float | None) -> Column:
    """The record's value of ``attribute`` against the golden one (``_g_<attribute>``)."""
    if attribute == "name":
        return F.col("name_key") == F.col("_g_name_key")
    value, golden = F.col(attribute), F.col(f"_g_{attribute}")
    if attribute in NUMERIC and tolerance is not None:
        v, g = value.cast("double"), golden.cast("double")
        return F.abs(v - g) <= F.abs(g) * F.lit(tolerance)
    return value.cast("string") == golden.cast("string")


def _conflicted_attributes(conflicts: DataFrame) -> DataFrame:
    """Per provider record and golden company: the attributes Silver reported it in conflict
    on (``provider``, ``source_id``, ``company_id``, ``_conflicts``)."""
    return (
        conflicts.select("company_id", "attribute", F.explode("candidates").alias("c"))
        .groupBy(
            F.col("c.source").alias("provider"),
            F.col("c.source_id").alias("source_id"),
            "company_id",
        )
        .agg(F.collect_set("attribute").alias("_conflicts"))
    )


def coverage_facts(snapshot: Snapshot, ctx: BuildContext) -> DataFrame:
    """One row per (provider record, attribute): filled, agrees, in conflict, staleness.

    Names are compared by their comparison key: the one Silver stored with the record
    (``name_key``) against the golden name's, derived once per golden company. Conflicts are
    attached per provider record, as the set of its attributes in conflict, before the rows are
    exploded by attribute (one join of records instead of one of six rows per record).
    """
    from crm_lakehouse.match.companies import company_candidates
    from crm_lakehouse.silver.resolution import load_rules

    tolerances, checked = _survivorship(ctx.resolution_rules_dir)
    firmo = snapshot.require(FIRMOGRAPHICS)
    cands = company_candidates(None, firmo, load_rules(ctx.resolution_rules_dir).industries)
    xref = snapshot.require(COMPANY_XREF).select("source_system", "source_id", "company_id")
    live = live_companies(snapshot.require(COMPANIES), snapshot.get(COMPANY_MERGES))
    golden = live.select(
        "company_id",
        *[F.col(a).alias(f"_g_{a}") for a in ATTRIBUTES if a != "name"],
        N.company_name_key(F.col("name")).alias("_g_name_key"),
    )
    records = (
        cands.join(xref, ["source_system", "source_id"])
        .join(golden, "company_id")
        .withColumnRenamed("source_system", "provider")
    )
    conflicts = snapshot.get(PROVIDER_CONFLICTS)
    if conflicts is not None:
        on = ["provider", "source_id", "company_id"]
        records = records.join(_conflicted_attributes(conflicts), on, "left")
    else:
        records = records.withColumn("_conflicts", F.lit(None).cast("array<string>"))
    logical = dt.date.fromisoformat(snapshot.date)
    staleness = F.datediff(F.lit(logical), F.to_date("as_of"))
    long = records.select(
        "provider",
        "source_id",
        "company_id",
        staleness.alias("staleness_days"),
        F.explode(
            F.array(
                *[
                    F.struct(
                        F.lit(a).alias("attribute"),
                        F.col(a).isNotNull().alias("filled"),
                        _agrees(a, tolerances.get(a)).alias("agrees"),
                        F.coalesce(F.array_contains("_conflicts", a), F.lit(False)).alias(
                            "conflict"
                        ),
                    )
                    for a in ATTRIBUTES
                ]
            )
        ).alias("a"),
    ).select("provider", "source_id", "company_id", "staleness_days", "a.*")
    return long.select(
        "provider",
        "attribute",
        "source_id",
        "company_id",
        "filled",
        F.when(F.col("filled"), F.coalesce(F.col("agrees"), F.lit(False))).alias("agrees"),
        F.col("attribute").isin(sorted(checked)).alias("conflict_checked"),
        F.when(F.col("filled"), F.col("conflict")).alias("conflict"),
        F.when(F.col("filled"), F.col("staleness_days")).alias("staleness_days"),
        F.lit(logical).alias("logical_date"),
    )


def summarise(facts: DataFrame) -> DataFrame:
    records = F.count(F.lit(1))
    filled = F.count(F.when(F.col("filled"), 1))
    checked = F.bool_or("conflict_checked")
    out = facts.groupBy("provider", "attribute", "logical_date").agg(
        records.alias("provider_records"),
        filled.alias("filled_count"),
        ratio(filled, records).alias("fill_rate"),
        ratio(F.count(F.when(F.col("agrees"), 1)), filled).alias("agreement_rate"),
        checked.alias("conflict_checked"),
        F.when(checked, ratio(F.count(F.when(F.col("conflict"), 1)), filled)).alias(
            "conflict_rate"
        ),
        F.round(F.median("staleness_days"), 2).alias("median_staleness_days"),
        F.round(F.percentile("staleness_days", 0.95), 2).alias("p95_staleness_days"),
    )
    return conform(out, SCHEMA)


def enrichment_coverage(snapshot: Snapshot, ctx: BuildContext) -> DataFrame:
    return summarise(coverage_facts(snapshot, ctx))


SPEC = GoldTable(
    table=TABLE,
    key="provider",
    schema=SCHEMA,
    description="gold.enrichment_coverage: provider fill, agreement, conflicts and staleness",
    inputs=(FIRMOGRAPHICS, COMPANY_XREF, COMPANIES, COMPANY_MERGES, PROVIDER_CONFLICTS),
    required=(FIRMOGRAPHICS, COMPANY_XREF, COMPANIES),
    build=enrichment_coverage,
)

__all__ = ["ATTRIBUTES", "SCHEMA", "SPEC", "TABLE", "coverage_facts", "enrichment_coverage"]
