"""Normalisation rules used by entity resolution, each with its negative cases."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import pytest
import tldextract
from chispa import assert_df_equality
from pyspark.sql import Column, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import StringType, StructField, StructType

from crm_lakehouse import normalise as N
from crm_lakehouse.match.config import load_industries
from tests.conftest import CONF

IN = StructType([StructField("v", StringType(), True)])
OUT = StructType([StructField("v", StringType(), True), StructField("o", StringType(), True)])


def _check(
    spark: SparkSession,
    fn: Callable[[Column], Column],
    cases: Sequence[tuple[str | None, str | None]],
) -> None:
    df = spark.createDataFrame([(v,) for v, _ in cases], IN)
    actual = df.select("v", fn(F.col("v")).cast("string").alias("o"))
    expected = spark.createDataFrame(cases, OUT)
    assert_df_equality(actual, expected, ignore_row_order=True, ignore_nullable=True)


@pytest.mark.parametrize(
    ("fn", "cases"),
    [
        pytest.param(
            N.company_name_key,
            [
                ("Acme, Inc.", "acme"),
                ("The Oak-Star Learning Corp.", "oakstarlearning"),
                ("OAK & STAR LEARNING LLC", "oakstarlearning"),
                ("Müller Maschinenbau GmbH & Co. KG", "mullermaschinenbau"),
                ("Thunderbridge S. A.", "thunderbridge"),
                ("Rainline Pty. Ltd.", "rainline"),
            ],
            id="company_name_key-variants",
        ),
        pytest.param(
            N.company_name_key,
            [
                ("Limited", "limited"),
                ("  ", None),
                (None, None),
                ("Acme Incubator", "acmeincubator"),
            ],
            id="company_name_key-negative",
        ),
        pytest.param(
            N.company_name_words,
            [("The Oak.Star Learning, Inc.", "oakstar learning"), ("Corp Corp", "corp corp")],
            id="company_name_words",
        ),
        pytest.param(
            N.registrable_domain,
            [
                ("https://shop.acme.co.uk:8080/about", "acme.co.uk"),
                ("WWW.Acme.com/", "acme.com"),
                ("jane@mail.acme.com.au", "acme.com.au"),
                ("co.uk", None),
                ("not a domain", None),
                (None, None),
            ],
            id="registrable_domain",
        ),
        pytest.param(
            N.email,
            [(" Jane.Doe@Acme.COM ", "jane.doe@acme.com"), ("jane@", None), ("@acme.com", None)],
            id="email",
        ),
        pytest.param(
            N.email_invalid_reason,
            [
                ("jane@acme.com", None),
                ("jane at acme", "invalid_email"),
                ("  ", None),
                (None, None),
            ],
            id="email_invalid_reason",
        ),
        pytest.param(
            N.country_code,
            [
                ("United States of America", "US"),
                ("U.S.", "US"),
                ("gbr", "GB"),
                ("España", "ES"),
                ("The Netherlands", "NL"),
                ("Atlantis", None),
            ],
            id="country_code",
        ),
        pytest.param(
            N.country_reason,
            [("DEU", None), ("Atlantis", "unknown_country"), ("", None), (None, None)],
            id="country_reason",
        ),
        pytest.param(
            N.person_name_key,
            [("Jürgen", "jurgen"), ("O'Brien-Smith", "obriensmith"), ("--", None)],
            id="person_name_key",
        ),
    ],
)
def test_column_rules(
    spark: SparkSession,
    fn: Callable[[Column], Column],
    cases: list[tuple[str | None, str | None]],
) -> None:
    _check(spark, fn, cases)


def test_registrable_domain_agrees_with_tldextract(spark: SparkSession) -> None:
    hosts = ["a.b.example.co.uk", "www.example.com.au", "shop.example.de", "example.io"]
    extract = tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None)
    _check(
        spark, N.registrable_domain, [(h, extract(h).top_domain_under_public_suffix) for h in hosts]
    )


@pytest.fixture(scope="module")
def industries() -> dict[str, str | None]:
    return dict(load_industries(CONF / "rules" / "industries.yaml"))


def test_industry_code_maps_every_source_vocabulary(
    spark: SparkSession, industries: dict[str, str | None]
) -> None:
    cases = [
        ("Technology", "51"),  # Salesforce picklist
        ("LOGISTICS_AND_SUPPLY_CHAIN", "48-49"),  # HubSpot enum
        ("325412", "31-33"),  # NAICS 6-digit
        ("Tech / Software", "51"),  # provider free text, punctuation ignored
        ("Other", None),  # ambiguous
        ("Underwater basket weaving", None),  # unknown
        ("99", None),  # not a NAICS sector
    ]
    _check(spark, lambda c: N.industry_code(c, industries), cases)


def test_industry_reason_tells_ambiguous_from_unknown(
    spark: SparkSession, industries: dict[str, str | None]
) -> None:
    cases = [
        ("Other", "ambiguous_industry"),
        ("Construction & Real Estate", "ambiguous_industry"),
        ("Quantum knitting", "unknown_industry"),
        ("Banking", None),
        (None, None),
    ]
    _check(spark, lambda c: N.industry_reason(c, industries), cases)


def test_phone_e164_parses_in_the_records_country(spark: SparkSession) -> None:
    schema = StructType(
        [StructField("p", StringType(), True), StructField("c", StringType(), True)]
    )
    rows = [
        ("1-704-319-3936", "US"),
        ("020 7946 0018", "GB"),
        ("+49 30 12345678", None),
        ("(415) 555-2671", None),  # no country: North America is tried
        ("12", "US"),  # too short: invalid
        ("not a phone", "DE"),
    ]
    df = spark.createDataFrame(rows, schema)
    e164 = N.phone_e164(F.col("p"), F.col("c"))
    actual = df.select("p", e164.alias("e"), N.phone_reason(F.col("p"), e164).alias("r"))
    expected = spark.createDataFrame(
        [
            ("1-704-319-3936", "+17043193936", None),
            ("020 7946 0018", "+442079460018", None),
            ("+49 30 12345678", "+493012345678", None),
            ("(415) 555-2671", "+14155552671", None),
            ("12", None, "invalid_phone"),
            ("not a phone", None, "invalid_phone"),
        ],
        "p string, e string, r string",
    )
    assert_df_equality(actual, expected, ignore_row_order=True, ignore_nullable=True)


def test_phone_e164_blank_is_null_without_reason(spark: SparkSession) -> None:
    df = spark.createDataFrame([(None,), ("  ",)], IN)
    e164 = N.phone_e164(F.col("v"))
    rows = df.select(e164.alias("e"), N.phone_reason(F.col("v"), e164).alias("r")).collect()
    assert [(r["e"], r["r"]) for r in rows] == [(None, None), (None, None)]
