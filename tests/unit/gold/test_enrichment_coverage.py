"""gold.enrichment_coverage on inline Silver frames."""

from __future__ import annotations

import datetime as dt

from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from crm_lakehouse.gold import enrichment_coverage as E
from crm_lakehouse.gold.rules import load_gold_rules
from crm_lakehouse.gold.table import BuildContext, Snapshot
from crm_lakehouse.silver.records import name_keys

from ._support import columns, companies, company

FIRMO = (
    "source_system string, source_id string, name string, registrable_domain string, "
    "country_code string, industry string, revenue_usd double, employees long, as_of date, "
    "confidence double, first_seen date, _delivery_date string"
)
CONFLICTS = (
    "company_id string, attribute string, golden_value string, golden_source string, "
    "spread double, distinct_values long, "
    "candidates array<struct<source:string,source_id:string,value:string,as_of:timestamp>>"
)


def test_fill_agreement_conflicts_and_staleness(spark: SparkSession) -> None:
    d = dt.date
    seen = d(2026, 11, 20)
    firmo = spark.createDataFrame(
        [
            # provider_a: 3 records; revenue within 25% agrees, 2x does not; one has no revenue.
            ("provider_a", "A1", "ACME GMBH", "acme.de", "DE", "518210", 110.0, 300, d(2026, 11, 10), 0.9, seen, "2026-11-20"),
            ("provider_a", "A2", "Beta SA", "beta.fr", "FR", "52", 400.0, 10, d(2026, 11, 20), 0.9, seen, "2026-11-20"),
            ("provider_a", "A3", "Gamma", None, "US", None, None, None, d(2026, 1, 20), 0.9, seen, "2026-11-20"),
            # provider_b: resolves to a deleted company only: not counted.
            ("provider_b", "B1", "Gone", None, "US", None, 1.0, 1, d(2026, 11, 1), None, seen, "2026-11-20"),
        ],
        FIRMO,
    )  # fmt: skip
    firmo = firmo.select("*", *name_keys(F.col("name")))  # as the Silver table stores them
    xref = spark.createDataFrame(
        [("provider_a", "A1", "CO-1"), ("provider_a", "A2", "CO-2"), ("provider_a", "A3", "CO-3"),
         ("provider_b", "B1", "CO-9")],
        "source_system string, source_id string, company_id string",
    )  # fmt: skip
    comps = companies(
        spark,
        [
            company("CO-1", name="Acme GmbH", domain="acme.de", country="DE", industry="51",
                    revenue_usd=100.0, employees=300),
            company("CO-2", name="Beta", domain="beta.fr", country="FR", industry="52",
                    revenue_usd=200.0, employees=12),
            company("CO-3", name="Gamma", country="US"),
            company("CO-9", name="Gone", is_deleted=True),
        ],
    )  # fmt: skip
    t = dt.datetime(2026, 11, 20, tzinfo=dt.UTC)
    conflicts = spark.createDataFrame(
        [("CO-2", "revenue_usd", "200.0", "salesforce", 1.0, 2,
          [("salesforce", "S2", "200.0", t), ("provider_a", "A2", "400.0", t)])],
        CONFLICTS,
    )  # fmt: skip
    snap = Snapshot(
        {E.FIRMOGRAPHICS: firmo, E.COMPANY_XREF: xref, E.COMPANIES: comps,
         E.PROVIDER_CONFLICTS: conflicts},
        "2026-11-20",
    )  # fmt: skip
    out = E.enrichment_coverage(snap, BuildContext(load_gold_rules()))
    assert columns(out.schema) == columns(E.SCHEMA)
    rows = {(r["provider"], r["attribute"]): r.asDict() for r in out.collect()}
    assert {p for p, _ in rows} == {"provider_a"}
    revenue = rows[("provider_a", "revenue_usd")]
    assert (revenue["provider_records"], revenue["filled_count"], revenue["fill_rate"]) == (
        3,
        2,
        0.6667,
    )
    assert revenue["agreement_rate"] == 0.5  # 110 vs 100 agrees, 400 vs 200 does not
    assert revenue["conflict_checked"] is True and revenue["conflict_rate"] == 0.5
    assert (revenue["median_staleness_days"], revenue["p95_staleness_days"]) == (5.0, 9.5)
    name = rows[("provider_a", "name")]
    # "ACME GMBH" = "Acme GmbH" by comparison key; "Beta SA" vs "Beta" keeps its legal form.
    assert name["filled_count"] == 3 and name["conflict_checked"] is False
    assert name["conflict_rate"] is None
    industry = rows[("provider_a", "industry")]
    assert (industry["filled_count"], industry["agreement_rate"]) == (2, 1.0)  # 518210 -> 51
    assert industry["median_staleness_days"] == 5.0
    assert rows[("provider_a", "domain")]["agreement_rate"] == 1.0
    assert rows[("provider_a", "country")]["logical_date"] == dt.date(2026, 11, 20)

    # Without a provider_conflicts table nothing counts as in conflict; the rest is the same.
    bare = Snapshot({**snap.frames, E.PROVIDER_CONFLICTS: None}, snap.date)
    out = E.enrichment_coverage(bare, BuildContext(load_gold_rules()))
    alone = {(r["provider"], r["attribute"]): r.asDict() for r in out.collect()}
    assert alone[("provider_a", "revenue_usd")]["conflict_rate"] == 0.0
    assert {k: {**v, "conflict_rate": None} for k, v in alone.items()} == {
        k: {**v, "conflict_rate": None} for k, v in rows.items()
    }
