from __future__ import annotations

import datetime as dt

from chispa import assert_df_equality
from pyspark.sql import Row, SparkSession
from pyspark.sql.types import StructType

from crm_lakehouse.ingest.bronze import bronze_schema
from crm_lakehouse.silver import records as R
from crm_lakehouse.sources import source

META = {
    "_corrupt_record": None,
    "_rescued": None,
    "_bad_encoding": False,
    "_source_file": "f",
    "_delivery_date": "2026-11-20",
    "_run_id": "r",
    "_ingested_at": dt.datetime(2026, 11, 20),
}


def _bronze(spark: SparkSession, schema: StructType, rows: list[dict[str, object]]):  # type: ignore[no-untyped-def]
    full = []
    for i, r in enumerate(rows):
        base = {f.name: None for f in schema.fields} | META | {"_row_hash": f"h{i}"}
        full.append(Row(**(base | r)))
    return spark.createDataFrame(full, schema)


def test_salesforce_accounts_typed_and_malformed_rows_not_promoted(spark: SparkSession) -> None:
    schema = bronze_schema(source("salesforce").entity("accounts"))
    df = _bronze(
        spark,
        schema,
        [
            {
                "Id": " 001A ",
                "Name": " Acme,  Inc. ",
                "Website": "https://www.acme.com/x",
                "AnnualRevenue": "1,200,000",
                "NumberOfEmployees": "250",
                "IsDeleted": "false",
                "LastModifiedDate": "2026-11-19T08:00:00.000Z",
            },
            {"Id": "001B", "Name": "Bad", "_corrupt_record": "001B,Bad,,,"},
            {"Id": "001C", "Name": "Gone", "IsDeleted": "true", "AnnualRevenue": "n/a"},
        ],
    )
    out = {r["source_id"]: r for r in R.standardise_salesforce_accounts(df).collect()}
    assert set(out) == {"001A", "001C"}
    a = out["001A"]
    assert (a["source_system"], a["name"], a["name_key"], a["name_words"], a["domain"]) == (
        "salesforce",
        "Acme, Inc.",
        "acme",
        "acme",
        "acme.com",
    )
    assert (a["revenue_usd"], a["employees"], a["is_deleted"]) == (1200000.0, 250, False)
    assert a["modified_at"] == dt.datetime(2026, 11, 19, 8)
    assert out["001C"]["is_deleted"] is True
    assert out["001C"]["revenue_usd"] is None


def test_hubspot_companies_epoch_and_ranges(spark: SparkSession) -> None:
    schema = bronze_schema(source("hubspot").entity("companies"))
    df = _bronze(
        spark,
        schema,
        [
            {
                "id": "901",
                "updatedAt": "1763632800000",
                "archived": "true",
                "properties": Row(
                    name="Globex GmbH",
                    domain="globex.de",
                    phone=None,
                    address=None,
                    city=None,
                    state=None,
                    zip=None,
                    country="Germany",
                    industry=None,
                    annualrevenue="2500000",
                    numberofemployees="51-200",
                    hs_lastmodifieddate=None,
                ),
            }
        ],
    )
    (r,) = R.standardise_hubspot_companies(df).collect()
    assert (r["source_system"], r["source_id"], r["domain"], r["country"]) == (
        "hubspot",
        "901",
        "globex.de",
        "Germany",
    )
    assert (r["revenue_usd"], r["employees"], r["is_deleted"]) == (2500000.0, 125, True)
    assert r["modified_at"] == dt.datetime(2025, 11, 20, 10)


def test_providers_units_converted_to_usd(spark: SparkSession) -> None:
    a = _bronze(
        spark,
        bronze_schema(source("provider_a").entity("firmographics")),
        [{"provider_id": "A1", "revenue_usd": "1500000", "employees": "90", "as_of": "2026-10-01"}],
    )
    b = _bronze(
        spark,
        bronze_schema(source("provider_b").entity("firmographics")),
        [{"id": "B1", "revenue_k": "1500", "employee_range": "51-200", "as_of": "2026-09-01"}],
    )
    c = _bronze(
        spark,
        bronze_schema(source("provider_c").entity("firmographics")),
        [{"record_id": "C1", "revenue": "$1.5M", "headcount": "90", "last_verified": "01/08/2026"}],
    )
    rows = [
        *R.standardise_provider_a(a).collect(),
        *R.standardise_provider_b(b).collect(),
        *R.standardise_provider_c(c).collect(),
    ]
    assert [(r["source_system"], r["revenue_usd"], r["employees"], r["as_of"]) for r in rows] == [
        ("provider_a", 1500000.0, 90, dt.date(2026, 10, 1)),
        ("provider_b", 1500000.0, 125, dt.date(2026, 9, 1)),
        ("provider_c", 1500000.0, 90, dt.date(2026, 8, 1)),
    ]


def test_leads_and_contacts_share_the_person_shape(spark: SparkSession) -> None:
    leads = R.standardise_salesforce_leads(
        _bronze(
            spark,
            bronze_schema(source("salesforce").entity("leads")),
            [{"Id": "00Q1", "Email": " Jo@Acme.com ", "Company": "Acme", "IsConverted": "true"}],
        )
    )
    contacts = R.standardise_hubspot_contacts(
        _bronze(
            spark,
            bronze_schema(source("hubspot").entity("contacts")),
            [
                {
                    "id": "77",
                    "properties": Row(
                        firstname="Jo",
                        lastname="Ng",
                        email="not-an-email",
                        phone=None,
                        jobtitle=None,
                        company=None,
                        associatedcompanyid="901",
                        lifecyclestage=None,
                        country=None,
                        lastmodifieddate=None,
                    ),
                }
            ],
        )
    )
    assert leads.schema == contacts.schema
    (lead,) = leads.collect()
    (contact,) = contacts.collect()
    assert (lead["record_kind"], lead["email"], lead["is_converted"]) == (
        "lead",
        "jo@acme.com",
        True,
    )
    assert (contact["record_kind"], contact["email"], contact["company_source_id"]) == (
        "contact",
        None,
        "901",
    )


def test_latest_per_key_keeps_newest_with_deterministic_ties(spark: SparkSession) -> None:
    schema = "source_system string, source_id string, modified_at timestamp, _row_hash string"
    t1, t2 = dt.datetime(2026, 1, 1), dt.datetime(2026, 1, 2)
    df = spark.createDataFrame(
        [
            ("s", "1", t1, "a"),
            ("s", "1", t2, "b"),
            ("s", "2", t1, "a"),
            ("s", "2", t1, "z"),
            ("s", "3", None, "a"),
            ("s", "3", t1, "b"),
        ],
        schema,
    )
    expected = spark.createDataFrame(
        [("s", "1", t2, "b"), ("s", "2", t1, "z"), ("s", "3", t1, "b")], schema
    )
    assert_df_equality(R.latest_per_key(df), expected, ignore_row_order=True)


def test_company_records_carry_resolution_keys(spark: SparkSession) -> None:
    schema = bronze_schema(source("salesforce").entity("accounts"))
    df = _bronze(
        spark,
        schema,
        [
            {"Id": "1", "Website": "https://shop.acme.co.uk/x", "Phone": "020 7946 0018",
             "BillingCountry": "UK"},
            {"Id": "2", "Website": "co.uk", "Phone": "12", "BillingCountry": "Atlantis"},
        ],
    )  # fmt: skip
    out = R.standardise_salesforce_accounts(df).select(
        "source_id", "registrable_domain", "country_code", "phone_e164", "phone_reason",
        "first_seen",
    )  # fmt: skip
    expected = spark.createDataFrame(
        [
            ("1", "acme.co.uk", "GB", "+442079460018", None, dt.date(2026, 11, 20)),
            ("2", None, None, None, "invalid_phone", dt.date(2026, 11, 20)),
        ],
        "source_id string, registrable_domain string, country_code string, phone_e164 string, "
        "phone_reason string, first_seen date",
    )
    assert_df_equality(out, expected, ignore_row_order=True, ignore_nullable=True)
