"""Small inline Silver frames for the Gold unit tests, in the shapes Silver writes."""

from __future__ import annotations

import datetime as dt
from typing import Any

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql.types import (
    ArrayType,
    BooleanType,
    DateType,
    DoubleType,
    LongType,
    StringType,
    StructField,
    StructType,
    TimestampType,
)

from crm_lakehouse.gold.pii import PiiKey

KEY = PiiKey(b"unit-test-key-0123456789abcdef", "test")
UTC = dt.UTC
T0 = dt.datetime(2026, 10, 1, tzinfo=UTC)

COMPANY_ATTRS = {
    "name": StringType(),
    "domain": StringType(),
    "phone": StringType(),
    "street": StringType(),
    "city": StringType(),
    "state": StringType(),
    "postal_code": StringType(),
    "country": StringType(),
    "industry": StringType(),
    "revenue_usd": DoubleType(),
    "employees": LongType(),
}


def _lineage(attrs: dict[str, Any]) -> list[StructField]:
    out = []
    for a, t in attrs.items():
        out += [
            StructField(a, t),
            StructField(f"{a}_source", StringType()),
            StructField(f"{a}_source_id", StringType()),
            StructField(f"{a}_as_of", TimestampType()),
            StructField(f"{a}_rule", StringType()),
        ]
    return out


COMPANIES_SCHEMA = StructType(
    [
        StructField("company_id", StringType()),
        *_lineage(COMPANY_ATTRS),
        StructField("record_count", LongType(), False),
        StructField("source_systems", ArrayType(StringType(), False), False),
        StructField("is_deleted", BooleanType(), False),
        StructField("first_seen", DateType()),
        StructField("last_seen", DateType()),
    ]
)

PEOPLE_SCHEMA = StructType(
    [
        StructField("person_id", StringType()),
        *_lineage(
            {
                "first_name": StringType(),
                "last_name": StringType(),
                "email": StringType(),
                "company_id": StringType(),
            }
        ),
        StructField("record_count", LongType(), False),
        StructField("source_systems", ArrayType(StringType(), False), False),
        StructField("is_deleted", BooleanType(), False),
        StructField("first_seen", DateType()),
        StructField("last_seen", DateType()),
        StructField("record_kinds", ArrayType(StringType(), False), False),
    ]
)

OPPORTUNITIES_SCHEMA = (
    "source_system string, source_id string, company_id string, stage string, amount double, "
    "currency string, probability double, close_date date, is_closed boolean, is_won boolean, "
    "is_deleted boolean, modified_at timestamp"
)


def company(
    company_id: str,
    *,
    source: str = "salesforce",
    as_of: dt.datetime = T0,
    is_deleted: bool = False,
    **values: Any,
) -> dict[str, Any]:
    """A golden company row: each given attribute won by ``source`` as of ``as_of``."""
    row: dict[str, Any] = {f.name: None for f in COMPANIES_SCHEMA.fields}
    row.update(
        company_id=company_id,
        record_count=1,
        source_systems=[source],
        is_deleted=is_deleted,
        first_seen=dt.date(2026, 11, 20),
        last_seen=dt.date(2026, 11, 20),
    )
    for attr, value in values.items():
        row[attr] = value
        if value is not None:
            row[f"{attr}_source"] = source
            row[f"{attr}_source_id"] = f"{source}-{company_id}"
            row[f"{attr}_as_of"] = as_of
            row[f"{attr}_rule"] = "only_candidate"
    return row


def companies(spark: SparkSession, rows: list[dict[str, Any]]) -> DataFrame:
    return spark.createDataFrame(
        [tuple(r[f.name] for f in COMPANIES_SCHEMA.fields) for r in rows], COMPANIES_SCHEMA
    )


def person(
    person_id: str,
    company_id: str | None,
    kinds: list[str],
    *,
    changed: dt.datetime = T0,
    is_deleted: bool = False,
    email: str | None = None,
) -> dict[str, Any]:
    row: dict[str, Any] = {f.name: None for f in PEOPLE_SCHEMA.fields}
    row.update(
        person_id=person_id,
        first_name="Jane",
        first_name_as_of=changed,
        last_name="Doe",
        last_name_as_of=changed,
        email=email,
        company_id=company_id,
        company_id_as_of=changed,
        record_count=1,
        source_systems=["salesforce"],
        is_deleted=is_deleted,
        first_seen=dt.date(2026, 11, 20),
        last_seen=dt.date(2026, 11, 20),
        record_kinds=kinds,
    )
    return row


def people(spark: SparkSession, rows: list[dict[str, Any]]) -> DataFrame:
    return spark.createDataFrame(
        [tuple(r[f.name] for f in PEOPLE_SCHEMA.fields) for r in rows], PEOPLE_SCHEMA
    )


def opportunities(spark: SparkSession, rows: list[tuple[Any, ...]]) -> DataFrame:
    """Rows: (id, company_id, stage, amount, currency, probability, close_date, closed, won,
    deleted[, modified_at])."""
    full = [
        ("salesforce", r[0], *r[1:10], r[10] if len(r) > 10 else T0)  # type: ignore[misc]
        for r in rows
    ]
    return spark.createDataFrame(full, OPPORTUNITIES_SCHEMA)


def columns(schema: StructType) -> list[tuple[str, str]]:
    """Names and types, ignoring nullability (what a build must produce exactly)."""
    return [(f.name, f.dataType.simpleString()) for f in schema.fields]
