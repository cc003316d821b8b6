"""gold.account_360 on inline Silver frames."""

from __future__ import annotations

import datetime as dt

import pytest
from chispa import assert_df_equality
from pyspark.sql import SparkSession

from crm_lakehouse.gold import account_360 as A
from crm_lakehouse.gold.refresh import changed_keys
from crm_lakehouse.gold.rules import load_gold_rules
from crm_lakehouse.gold.table import BuildContext, Snapshot

from ._support import KEY, T0, UTC, columns, companies, company, opportunities, people, person

DATE = "2026-11-20"
NOV, OLD = dt.date(2026, 11, 5), dt.date(2025, 11, 20)  # OLD: exactly 12 months: outside


@pytest.fixture(scope="module")
def snapshot(spark: SparkSession) -> Snapshot:
    later = dt.datetime(2026, 11, 1, tzinfo=UTC)
    comps = companies(
        spark,
        [
            company(
                "CO-1", name="Acme GmbH", domain="acme.de", phone="+4930123456", street="Hauptstr 1",
                country="DE", industry="51", revenue_usd=50_000_000.0, employees=300,
                city="Berlin", postal_code="10115",
            ),
            company("CO-2", name="Gone Inc", country="US", employees=10, is_deleted=True),
            company("CO-3", name="Merged Ltd", country="GB"),
            company("CO-4", name="Bare", as_of=later),
        ],
    )  # fmt: skip
    merges = spark.createDataFrame(
        [("CO-3", "CO-1", dt.date(2026, 11, 20), 1)],
        "merged_id string, merged_into string, merged_on date, records long",
    )
    ppl = people(
        spark,
        [
            person("PE-1", "CO-1", ["contact"]),
            person("PE-2", "CO-1", ["contact", "lead"], changed=later),
            person("PE-3", "CO-1", ["lead"], is_deleted=True),
            person("PE-4", "CO-4", ["lead"]),
        ],
    )
    opps = opportunities(
        spark,
        [
            ("O1", "CO-1", "Prospecting", 1000.0, "EUR", 50.0, NOV, False, False, False),
            ("O2", "CO-1", "Negotiation", 500.0, "USD", 10.0, NOV, False, False, False),
            ("O3", "CO-1", "Closed Won", 2000.0, "GBP", 100.0, NOV, True, True, False),
            ("O4", "CO-1", "Closed Won", 7000.0, "USD", 100.0, OLD, True, True, False),
            ("O5", "CO-1", "Prospecting", 9999.0, "USD", 90.0, NOV, False, False, True),
            ("O6", "CO-4", "Closed Lost", 300.0, None, 0.0, NOV, True, False, False),
        ],
    )
    return Snapshot(
        {A.COMPANIES: comps, A.COMPANY_MERGES: merges, A.PEOPLE: ppl, A.OPPORTUNITIES: opps},
        DATE,
    )


def test_one_row_per_live_unmerged_company_with_people_and_pipeline(
    spark: SparkSession, snapshot: Snapshot
) -> None:
    out = A.account_360(snapshot, BuildContext(load_gold_rules(), KEY))
    assert columns(out.schema) == columns(A.SCHEMA)
    got = out.select(
        "company_id", "segment", "size_band", "region", "industry_name", "contact_count",
        "lead_count", "open_opportunity_count", "open_pipeline_usd", "weighted_pipeline_usd",
        "won_opportunity_count_trailing", "won_revenue_usd_trailing", "enrichment_completeness",
    )  # fmt: skip
    expected = spark.createDataFrame(
        [
            # open: 1000 EUR x 1.08 + 500 USD; weighted 540 + 50; won in window: 2000 GBP x 1.27
            ("CO-1", "Mid-Market", "250-999", "EMEA", "Information", 2, 1, 2, 1580.0, 590.0, 1,
             2540.0, 1.0),
            ("CO-4", "Unclassified", "unknown", "Unknown", None, 0, 1, 0, 0.0, 0.0, 0, 0.0, 0.125),
        ],
        "company_id string, segment string, size_band string, region string, "
        "industry_name string, contact_count long, lead_count long, open_opportunity_count long, "
        "open_pipeline_usd double, weighted_pipeline_usd double, "
        "won_opportunity_count_trailing long, won_revenue_usd_trailing double, "
        "enrichment_completeness double",
    )  # fmt: skip
    assert_df_equality(got, expected, ignore_row_order=True, ignore_nullable=True)


def test_lineage_freshness_and_hashed_phone(snapshot: Snapshot) -> None:
    rows = {
        r["company_id"]: r
        for r in A.account_360(snapshot, BuildContext(load_gold_rules(), KEY)).collect()
    }
    acme = rows["CO-1"]
    assert (acme["company_name"], acme["company_name_source"], acme["company_name_as_of"]) == (
        "Acme GmbH", "salesforce", T0.replace(tzinfo=None),
    )  # fmt: skip
    assert acme["phone_hmac"] == KEY.digest("+4930123456")
    assert "street" not in rows["CO-1"].asDict() and "phone" not in rows["CO-1"].asDict()
    assert acme["last_activity_at"] == dt.datetime(2026, 11, 1)  # PE-2 changed last
    assert acme["newest_value_as_of"] == acme["oldest_value_as_of"] == dt.datetime(2026, 10, 1)
    assert rows["CO-4"]["phone_hmac"] is None and rows["CO-4"]["last_activity_at"] == T0.replace(
        tzinfo=None
    )


def test_a_moving_revenue_window_changes_only_the_companies_it_affects(
    spark: SparkSession, snapshot: Snapshot
) -> None:
    ctx = BuildContext(load_gold_rules(), KEY)
    before = A.account_360(snapshot, ctx)
    assert changed_keys(A.SPEC, A.account_360(snapshot, ctx), before) == []
    # A year later the won deal O3 leaves the window: only CO-1's row changes.
    later = A.account_360(Snapshot(snapshot.frames, "2027-11-06"), ctx)
    assert changed_keys(A.SPEC, later, before) == ["CO-1"]
