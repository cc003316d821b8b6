"""Blocking, pairwise rules and connected components on small inline frames."""

from __future__ import annotations

from pathlib import Path

import pytest
from chispa import assert_df_equality
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from crm_lakehouse.errors import ConfigError
from crm_lakehouse.match.blocking import candidate_pairs
from crm_lakehouse.match.cluster import connected_components
from crm_lakehouse.match.compare import apply_rules, jaro_winkler
from crm_lakehouse.match.config import MatchRule, load_matching
from tests.conftest import CONF


def test_blocking_pairs_only_within_blocks_and_skips_oversized(spark: SparkSession) -> None:
    df = spark.createDataFrame(
        [
            ("a", "acme.com", "x"),
            ("b", "acme.com", "y"),
            ("c", "other.com", "x"),
            ("d", None, "x"),
            ("e", "lone.com", None),
        ],
        "uid string, domain string, zip string",
    )
    blocks = candidate_pairs(df, {"domain": F.col("domain"), "zip": F.col("zip")}, 2)
    expected = spark.createDataFrame([("a", "b")], "uid_l string, uid_r string")
    assert_df_equality(blocks.pairs, expected, ignore_row_order=True, ignore_nullable=True)
    # zip:x holds 3 records > max_block_size 2: reported, no pairs.
    assert [(r["block"], r["size"]) for r in blocks.oversized.collect()] == [("zip:x", 3)]


def test_blocking_never_exceeds_the_block_bound(spark: SparkSession) -> None:
    n, cap = 60, 5
    df = spark.range(n).select(
        F.col("id").cast("string").alias("uid"),
        (F.col("id") % 12).cast("string").alias("k1"),  # blocks of 5
        F.lit("same").alias("k2"),  # one giant block: must be skipped
    )
    blocks = candidate_pairs(df, {"k1": F.col("k1"), "k2": F.col("k2")}, cap)
    pairs = blocks.pairs.count()
    assert pairs == 12 * (5 * 4 // 2)  # far below the n*(n-1)/2 = 1770 of a cross join
    assert blocks.oversized.count() == 1


RULES = (
    MatchRule("domain_exact", ("domain",), ("country_conflict",), 0.6),
    MatchRule("name_fuzzy", ("country",), ("domain_conflict",), 0.9),
)
WEIGHTS = {"name": 0.7, "domain": 0.3, "country": 0.1}


@pytest.mark.parametrize(
    ("sim", "domain", "country", "domain_conflict", "country_conflict", "rule", "score"),
    [
        pytest.param(0.7, True, True, False, False, "domain_exact", 0.89, id="domain"),
        pytest.param(0.95, False, True, False, False, "name_fuzzy", 0.765, id="fuzzy"),
        pytest.param(0.95, False, True, True, False, None, 0.765, id="neg-domain-conflict"),
        pytest.param(0.5, True, False, False, False, None, 0.65, id="neg-below-threshold"),
        pytest.param(0.99, True, False, False, True, None, 0.993, id="neg-country-conflict"),
        pytest.param(0.85, False, True, False, False, None, 0.695, id="neg-name-too-far"),
    ],
)
def test_rules_first_match_wins_and_score_is_recorded(
    spark: SparkSession,
    sim: float,
    domain: bool,
    country: bool,
    domain_conflict: bool,
    country_conflict: bool,
    rule: str | None,
    score: float,
) -> None:
    df = spark.createDataFrame(
        [(sim, domain, country, domain_conflict, country_conflict)],
        "name_similarity double, domain boolean, country boolean, "
        "domain_conflict boolean, country_conflict boolean",
    )
    row = apply_rules(df, RULES, WEIGHTS, 0.7).first()
    assert row is not None
    assert (row["matched_rule"], row["score"]) == (rule, pytest.approx(min(score, 1.0)))
    assert row["is_match"] is (rule is not None)


def test_jaro_winkler(spark: SparkSession) -> None:
    df = spark.createDataFrame(
        [("martha", "marhta"), ("acme", "acme"), ("acme", None), ("abc", "xyz")],
        "a string, b string",
    )
    got = [r["s"] for r in df.select(jaro_winkler(F.col("a"), F.col("b")).alias("s")).collect()]
    assert got[0] == pytest.approx(0.9611, abs=1e-4)
    assert got[1:] == [1.0, None, 0.0]


def _labels(spark: SparkSession, nodes: list[str], edges: list[tuple[str, str]], **kw: int):  # type: ignore[no-untyped-def]
    n = spark.createDataFrame([(u, u) for u in nodes], "uid string, rank string")
    e = spark.createDataFrame(edges, "uid_l string, uid_r string")
    return connected_components(n, e, **kw)


def test_label_propagation_finds_components_named_by_smallest_rank(spark: SparkSession) -> None:
    # chain a-b-c-d (needs several rounds), pair e-f, singleton g
    comps = _labels(
        spark,
        list("abcdefg"),
        [("c", "d"), ("b", "c"), ("a", "b"), ("e", "f")],
        max_iterations=10,
        max_cluster_size=10,
    )
    got = {r["uid"]: r["label"] for r in comps.labels.collect()}
    assert got == {"a": "a", "b": "a", "c": "a", "d": "a", "e": "e", "f": "e", "g": "g"}
    assert comps.converged and comps.oversized.count() == 0


def test_oversized_cluster_is_left_unmerged_and_reported(spark: SparkSession) -> None:
    comps = _labels(
        spark, list("abcde"), [("a", "b"), ("b", "c"), ("d", "e")], max_iterations=10,
        max_cluster_size=2,
    )  # fmt: skip
    got = {r["uid"]: r["label"] for r in comps.labels.collect()}
    assert got == {"a": "a", "b": "b", "c": "c", "d": "d", "e": "d"}
    assert [(r["label"], r["size"]) for r in comps.oversized.collect()] == [("a", 3)]


def test_iteration_guard_reports_non_convergence(spark: SparkSession) -> None:
    comps = _labels(
        spark, list("abcdef"), [("e", "f"), ("d", "e"), ("c", "d"), ("b", "c"), ("a", "b")],
        max_iterations=2, max_cluster_size=10,
    )  # fmt: skip
    assert comps.iterations == 2 and not comps.converged


def test_matching_config_loads() -> None:
    cfg = load_matching(CONF / "rules" / "matching.yaml")
    assert cfg.companies.rules[0].name == "domain_exact"
    assert cfg.people.guards.max_cluster_size >= 2


def test_matching_config_reports_every_problem_with_file_and_key(tmp_path: Path) -> None:
    text = (CONF / "rules" / "matching.yaml").read_text()
    text = text.replace("threshold: 0.75", "threshold: high\n  colour: blue")
    text = text.replace("require: [phone]", "require: [telepathy]")
    bad = tmp_path / "matching.yaml"
    bad.write_text(text)
    with pytest.raises(ConfigError) as err:
        load_matching(bad)
    msg = str(err.value)
    assert "companies.colour: unknown key" in msg and str(bad) in msg
    assert "companies.threshold: expected a number" in msg
    # type errors stop before semantic checks; fix them and the vocabulary error shows
    bad.write_text((CONF / "rules" / "matching.yaml").read_text().replace("[phone]", "[telepathy]"))
    with pytest.raises(ConfigError, match="'telepathy' is not one of"):
        load_matching(bad)
