"""Each survivorship strategy, its tie-break, lineage, and provider conflicts."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from pathlib import Path

import pytest
from pyspark.sql import DataFrame, SparkSession

from crm_lakehouse.errors import ConfigError
from crm_lakehouse.survive import (
    AttributeRule,
    EntitySurvivorship,
    Strategy,
    conflicts,
    load_survivorship,
    survive,
)
from crm_lakehouse.survive.config import SourceTrust
from tests.conftest import CONF

SCHEMA = (
    "k string, source_system string, source_id string, as_of timestamp, confidence double, "
    "v string, n double"
)
D1, D2 = dt.datetime(2026, 1, 1), dt.datetime(2026, 6, 1)


def _records(spark: SparkSession, rows: Sequence[tuple[object, ...]]) -> DataFrame:
    return spark.createDataFrame(rows, SCHEMA)


def _spec(*strategies: Strategy, priority: tuple[str, ...] = ()) -> EntitySurvivorship:
    return EntitySurvivorship(
        priority=("crm", "p1", "p2"),
        trust=(SourceTrust("crm", 1.0), SourceTrust("p1", 0.9), SourceTrust("p2", 0.5)),
        attributes=(
            AttributeRule("v", tuple(strategies), priority),
            AttributeRule("n", (Strategy.MOST_RECENT,), (), 0.1, True),
        ),
    )


def _winner(df: DataFrame, spec: EntitySurvivorship) -> tuple[object, ...]:
    row = survive(df, spec, "k").first()
    assert row is not None
    return (row["v"], row["v_source"], row["v_source_id"], row["v_rule"])


@pytest.mark.parametrize(
    ("strategy", "rows", "expected"),
    [
        pytest.param(
            Strategy.SOURCE_PRIORITY,
            [("p2", "2", D2, None, "b"), ("crm", "1", D1, None, "a"), ("p1", "3", D2, None, "c")],
            ("a", "crm", "1", "source_priority"),
            id="source_priority",
        ),
        pytest.param(
            Strategy.MOST_RECENT,
            [
                ("crm", "1", D1, None, "old"),
                ("p2", "2", D2, None, "new"),
                ("p1", "3", None, None, "x"),
            ],
            ("new", "p2", "2", "most_recent"),
            id="most_recent",
        ),
        pytest.param(
            Strategy.MOST_FREQUENT,
            [("crm", "1", D2, None, "a"), ("p1", "2", D1, None, "b"), ("p2", "3", D1, None, "b")],
            ("b", "p1", "2", "most_frequent"),
            id="most_frequent",
        ),
        pytest.param(
            Strategy.PROVIDER_TRUST,
            [
                ("p1", "1", D1, 0.5, "low"),
                ("p2", "2", D1, 99.0, "hi"),
                ("p1", "3", D1, None, "top"),
            ],
            ("top", "p1", "3", "provider_trust"),
            id="provider_trust-confidence-scaled",
        ),
        pytest.param(
            Strategy.MOST_COMPLETE,
            [("p1", "1", D1, None, "sparse"), ("p2", "2", D1, None, "full")],
            ("full", "p2", "2", "most_complete"),
            id="most_complete",
        ),
    ],
)
def test_each_strategy_picks_its_winner(
    spark: SparkSession,
    strategy: Strategy,
    rows: list[tuple[object, ...]],
    expected: tuple[object, ...],
) -> None:
    full = [("K", s, i, t, c, v, 1.0 if v == "full" else None) for s, i, t, c, v in rows]
    assert _winner(_records(spark, full), _spec(strategy)) == expected


@pytest.mark.parametrize(
    "strategy",
    [
        Strategy.SOURCE_PRIORITY,
        Strategy.MOST_RECENT,
        Strategy.MOST_FREQUENT,
        Strategy.PROVIDER_TRUST,
        Strategy.MOST_COMPLETE,
    ],
)
def test_each_strategy_ties_break_by_source_then_id(
    spark: SparkSession, strategy: Strategy
) -> None:
    rows = [
        ("K", "p1", "9", D1, 0.8, "z", None),
        ("K", "p1", "1", D1, 0.8, "y", None),
        ("K", "p1", "5", D1, 0.8, "x", None),
    ]
    # Same source, same date, same trust, each value once: only the tie-break decides, and
    # it does so whatever order the rows arrive in.
    spec = _spec(strategy)
    assert _winner(_records(spark, rows), spec) == ("y", "p1", "1", "tie_break")
    assert _winner(_records(spark, rows[::-1]).repartition(3), spec) == (
        "y",
        "p1",
        "1",
        "tie_break",
    )


def test_later_strategy_only_breaks_ties_of_earlier_ones(spark: SparkSession) -> None:
    rows = [
        ("K", "p1", "1", D1, None, "old-p1", None),
        ("K", "p1", "2", D2, None, "new-p1", None),
        ("K", "p2", "3", D2, None, "new-p2", None),
    ]
    spec = _spec(Strategy.SOURCE_PRIORITY, Strategy.MOST_RECENT)
    assert _winner(_records(spark, rows), spec) == ("new-p1", "p1", "2", "most_recent")


def test_nulls_never_win_and_lineage_is_kept(spark: SparkSession) -> None:
    rows = [
        ("K", "crm", "1", D2, None, None, 10.0),
        ("K", "p1", "2", D1, None, "only", 12.0),
        ("E", "p2", "3", D1, None, None, None),
    ]
    out = {
        r["k"]: r
        for r in survive(_records(spark, rows), _spec(Strategy.SOURCE_PRIORITY), "k").collect()
    }
    k = out["K"]
    assert (k["v"], k["v_source"], k["v_rule"], k["v_as_of"]) == (
        "only",
        "p1",
        "only_candidate",
        D1,
    )
    assert (k["n"], k["n_source"], k["n_rule"]) == (10.0, "crm", "most_recent")
    assert out["E"]["v"] is None and out["E"]["v_source"] is None  # no candidate: null lineage


def test_conflicts_beyond_tolerance_only(spark: SparkSession) -> None:
    rows = [
        ("K", "crm", "1", D2, None, "a", 100.0),
        ("K", "p1", "2", D1, None, "a", 105.0),  # within 10 %: no conflict
        ("L", "crm", "3", D2, None, "a", 100.0),
        ("L", "p2", "4", D1, None, "a", 300.0),  # 200 % apart: conflict
        ("M", "p1", "5", D1, None, "a", 1.0),  # one source: never a conflict
    ]
    df = _records(spark, rows)
    spec = _spec(Strategy.SOURCE_PRIORITY)
    got = conflicts(df, survive(df, spec, "k"), spec, "k").collect()
    assert [(r["k"], r["attribute"], r["golden_value"], r["spread"]) for r in got] == [
        ("L", "n", "100.0", 2.0)
    ]
    assert [c["source"] for c in got[0]["candidates"]] == ["crm", "p2"]


def test_survivorship_config_loads_and_checks_columns(tmp_path: Path) -> None:
    cfg = load_survivorship(CONF / "rules" / "survivorship.yaml")
    assert cfg.company.attribute("industry").strategies[0] is Strategy.SOURCE_PRIORITY
    bad = tmp_path / "s.yaml"
    text = (CONF / "rules" / "survivorship.yaml").read_text()
    bad.write_text(text.replace("most_frequent, most_recent]}", "most_popular]}", 1) + "extra: 1\n")
    with pytest.raises(ConfigError) as err:
        load_survivorship(bad)
    assert "'most_popular' is not one of" in str(err.value)
    assert "extra: unknown key" in str(err.value) and str(bad) in str(err.value)
    with pytest.raises(ConfigError, match="'domain' is not a column"):
        load_survivorship(
            CONF / "rules" / "survivorship.yaml", {"company": {"name"}, "person": set()}
        )
