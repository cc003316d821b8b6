from __future__ import annotations

import datetime as dt

import pytest
from pyspark.sql import Column, SparkSession
from pyspark.sql import functions as F

from crm_lakehouse import normalise as N


def _apply(spark: SparkSession, fn, values: list[str | None]) -> list[object]:  # type: ignore[no-untyped-def]
    df = spark.createDataFrame([(i, v) for i, v in enumerate(values)], "i int, v string")
    out: Column = fn(F.col("v"))
    return [r["o"] for r in df.select("i", out.alias("o")).orderBy("i").collect()]


CASES = [
    pytest.param(
        N.clean_text,
        ["  Acme   Corp ", "", "   ", None],
        ["Acme Corp", None, None, None],
        id="clean_text",
    ),
    pytest.param(
        N.to_bool,
        ["true", "FALSE", " 1", "maybe", None],
        [True, False, True, None, None],
        id="to_bool",
    ),
    pytest.param(
        N.to_double,
        ["1200000", "1,200,000.50", " 12.5 ", "1e3", "abc", "12.5.1", None],
        [1200000.0, 1200000.5, 12.5, 1000.0, None, None, None],
        id="to_double",
    ),
    pytest.param(N.to_long, ["42", "41.6", "x"], [42, 42, None], id="to_long"),
    pytest.param(
        N.money_to_usd,
        ["1200000", "$1.2M", "$850K", "2.5B", "USD 3,000", "$", "1.2MM", None],
        [1200000.0, 1200000.0, 850000.0, 2.5e9, 3000.0, None, None, None],
        id="money_to_usd",
    ),
    pytest.param(
        N.employees_estimate,
        ["51-200", "10000+", "250", "1,200", "lots", None],
        [125, 10000, 250, 1200, None, None],
        id="employees_estimate",
    ),
    pytest.param(
        N.domain_from_url,
        [
            "https://www.Acme.com:443/about?x=1",
            "acme.co.uk",
            "WWW.ACME.COM.",
            "jane@acme.io",
            "http://localhost",
            "not a url",
            "",
            None,
        ],
        ["acme.com", "acme.co.uk", "acme.com", "acme.io", None, None, None, None],
        id="domain",
    ),
    pytest.param(
        N.email,
        ["  Jane.Doe@Acme.COM ", "jane@", "@acme.com", "jane doe@acme.com", None],
        ["jane.doe@acme.com", None, None, None, None],
        id="email",
    ),
]


@pytest.mark.parametrize(("fn", "values", "expected"), CASES)
def test_column_transforms(spark: SparkSession, fn, values, expected) -> None:  # type: ignore[no-untyped-def]
    assert _apply(spark, fn, values) == expected


def test_timestamps_and_dates(spark: SparkSession) -> None:
    utc = dt.UTC
    assert _apply(
        spark, N.iso_timestamp, ["2026-11-20T10:00:00.000Z", "2026-11-20 10:00:00", "yesterday"]
    ) == [
        dt.datetime(2026, 11, 20, 10, tzinfo=utc).replace(tzinfo=None),
        dt.datetime(2026, 11, 20, 10),
        None,
    ]
    assert _apply(spark, N.epoch_ms_timestamp, ["1763632800000", "17636x", None]) == [
        dt.datetime(2025, 11, 20, 10, 0),
        None,
        None,
    ]
    assert _apply(spark, N.iso_date, ["2026-11-20", "2026-13-01", None]) == [
        dt.date(2026, 11, 20),
        None,
        None,
    ]
    assert _apply(spark, N.day_first_date, ["31/12/2025", "12/31/2025", None]) == [
        dt.date(2025, 12, 31),
        None,
        None,
    ]
