"""conf/rules/gold.yaml: the shipped file loads; broken files are reported in full; the rules
become the columns analysts see."""

from __future__ import annotations

from pathlib import Path

import pytest
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from crm_lakehouse.errors import ConfigError
from crm_lakehouse.gold.rules import GoldRules, load_gold_rules, region, segment, size_band

SHIPPED = Path(__file__).resolve().parents[3] / "conf" / "rules" / "gold.yaml"


@pytest.fixture(scope="module")
def rules() -> GoldRules:
    return load_gold_rules(SHIPPED)


def test_the_shipped_rules_load(rules: GoldRules) -> None:
    assert [b.name for b in rules.size_bands][-1] == "5000+"
    assert rules.segments[-1].min_employees is None
    assert {"US", "GB", "DE", "NO"} <= {c for r in rules.regions for c in r.countries}
    assert rules.rate("EUR") > 1 and rules.rate("USD") == 1
    assert rules.fingerprint() == load_gold_rules(SHIPPED).fingerprint()


def test_every_problem_is_reported_with_the_file(tmp_path: Path) -> None:
    text = SHIPPED.read_text(encoding="utf-8")
    bad = (
        text.replace('{name: "50-249", max_employees: 249}', '{name: "50-249", max_employees: 10}')
        .replace("  - {name: SMB}", "  - {name: SMB, min_employees: 1}")
        .replace('"MX"]', '"US"]')
        .replace("  GBP: 1.27", "  GBP: -1\n  bad: 2")
        .replace("won_revenue_window_months: 12", "won_revenue_window_months: 12\ncolour: blue")
        .replace("[name, domain,", "[name, street, domain,")
    )
    path = tmp_path / "gold.yaml"
    path.write_text(bad, encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_gold_rules(path)
    problems = err.value.problems
    assert all(p.startswith(f"{path}:") for p in problems), problems
    text_of = "\n".join(problems)
    for expected in ("colour: unknown key",):
        assert expected in text_of, text_of
    # Unknown keys stop the typed build, so the consistency checks run on a file without them.
    path.write_text(bad.replace("colour: blue\n", ""), encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_gold_rules(path)
    text_of = "\n".join(err.value.problems)
    for expected in (
        "size_bands[1].max_employees: must be greater than the previous band's (49)",
        "segments[2] (SMB): the last segment must have no threshold",
        "US is already in region 'North America'",
        "currency_rates_usd.GBP: expected a positive number",
        "currency_rates_usd.bad: not an ISO 4217 code",
        "'street' is not one of",
    ):
        assert expected in text_of, text_of


def test_dimension_columns_follow_the_rules(spark: SparkSession, rules: GoldRules) -> None:
    df = spark.createDataFrame(
        [
            (10, None, "US"),
            (49, 30_000_000.0, "GB"),
            (50, 1.0, "JP"),
            (4999, None, "NO"),
            (6000, None, None),
            (None, 300_000_000.0, "ZZ"),
            (None, None, "BR"),
        ],
        "employees long, revenue_usd double, country string",
    )
    out = df.select(
        size_band(rules, F.col("employees")).alias("band"),
        segment(rules, F.col("employees"), F.col("revenue_usd")).alias("segment"),
        region(rules, F.col("country")).alias("region"),
    ).collect()
    assert [tuple(r) for r in out] == [
        ("1-49", "SMB", "North America"),
        ("1-49", "Mid-Market", "EMEA"),
        ("50-249", "SMB", "APAC"),
        ("1000-4999", "Enterprise", "EMEA"),
        ("5000+", "Enterprise", "Unknown"),
        ("unknown", "Enterprise", "Unknown"),
        ("unknown", "Unclassified", "LATAM"),
    ]
