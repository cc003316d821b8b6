"""Blocking, pairwise rules and connected components on small inline frames."""

from __future__ import annotations

from pathlib import Path

import pytest
from chispa import assert_df_equality
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from crm_lakehouse import normalise as N
from crm_lakehouse.errors import ConfigError
from crm_lakehouse.match.blocking import candidate_pairs
from crm_lakehouse.match.cluster import connected_components, veto_cluster_conflicts
from crm_lakehouse.match.companies import COMPANY_CLUSTER_ATTRIBUTES, compare_companies
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


# Firm clusters {a, b} and {c, d} (domain_exact, name_exact); the weak link b-c (a fuzzy name)
# would chain them. a and d carry the identifiers of each side.
GUARDED_RULES = (
    MatchRule("domain_exact", ("domain",)),
    MatchRule("name_exact", ("name_key",)),
    MatchRule("name_fuzzy", ("country",), cluster_forbid=("domain_conflict", "phone_conflict")),
)
CLUSTER_ATTRIBUTES = {"domain_conflict": "domain", "phone_conflict": "phone"}


@pytest.mark.parametrize(
    ("a", "d", "weak_rule", "vetoed_by"),
    [
        pytest.param(("x.com", None), ("y.com", None), "name_fuzzy", "domain_conflict", id="domains"),
        pytest.param((None, "+1555"), (None, "+1666"), "name_fuzzy", "phone_conflict", id="phones"),
        pytest.param(("x.com", "+1555"), ("y.com", "+1666"), "name_fuzzy",
                     "domain_conflict,phone_conflict", id="both"),
        pytest.param(("x.com", None), ("x.com", None), "name_fuzzy", None, id="neg-shared-domain"),
        pytest.param(("x.com", None), (None, None), "name_fuzzy", None, id="neg-missing-is-no-evidence"),
        pytest.param(("x.com", None), ("y.com", None), "name_exact", None, id="neg-firm-rule"),
    ],
)  # fmt: skip
def test_weak_link_between_conflicting_firm_clusters_is_vetoed(
    spark: SparkSession,
    a: tuple[str | None, str | None],
    d: tuple[str | None, str | None],
    weak_rule: str,
    vetoed_by: str | None,
) -> None:
    records = spark.createDataFrame(
        [("a", "1", *a), ("b", "2", None, None), ("c", "3", None, None), ("d", "4", *d)],
        "uid string, rank string, domain string, phone string",
    )
    scored = spark.createDataFrame(
        [("a", "b", "domain_exact", True), ("c", "d", "name_exact", True),
         ("b", "c", weak_rule, True), ("a", "d", None, False)],
        "uid_l string, uid_r string, matched_rule string, is_match boolean",
    )  # fmt: skip
    out = veto_cluster_conflicts(
        scored, records, GUARDED_RULES, CLUSTER_ATTRIBUTES, max_iterations=10, max_cluster_size=10
    )
    got = {(r["uid_l"], r["uid_r"]): r for r in out.collect()}
    assert len(got) == 4
    assert got[("b", "c")]["vetoed_by"] == vetoed_by
    assert got[("b", "c")]["is_match"] is (vetoed_by is None)
    assert got[("b", "c")]["matched_rule"] == (weak_rule if vetoed_by is None else None)
    # firm links and non-matches pass through untouched
    assert (got[("a", "b")]["is_match"], got[("a", "b")]["matched_rule"]) == (True, "domain_exact")
    assert (got[("a", "d")]["is_match"], got[("a", "d")]["vetoed_by"]) == (False, None)


def test_without_weak_rules_nothing_is_vetoed(spark: SparkSession) -> None:
    records = spark.createDataFrame(
        [("a", "1", "x.com", None), ("a2", "2", "y.com", None)],
        "uid string, rank string, domain string, phone string",
    )
    scored = spark.createDataFrame(
        [("a", "a2", "name_exact", True)],
        "uid_l string, uid_r string, matched_rule string, is_match boolean",
    )
    out = veto_cluster_conflicts(
        scored, records, GUARDED_RULES[:2], CLUSTER_ATTRIBUTES, max_iterations=5, max_cluster_size=5
    )
    assert [(r["is_match"], r["vetoed_by"]) for r in out.collect()] == [(True, None)]


def test_shipped_company_rules_do_not_chain_two_companies_through_a_similar_name(
    spark: SparkSession,
) -> None:
    """Deltapeak and Deltabase Analytics: two companies whose names are 0.95 Jaro-Winkler apart.
    The Deltabase provider record has no website or phone, so pairwise nothing forbids its fuzzy
    links to the Deltapeak records; its firm cluster does carry deltabase.com and a phone of its
    own, which vetoes them.
    A Deltapeak record with a typo and no website still joins Deltapeak."""
    cfg = load_matching(CONF / "rules" / "matching.yaml").companies
    rows = [
        ("salesforce:1", "Deltapeak Analytics Corp.", "deltapeak.com", "+17044176971", "charlotte"),
        ("provider_a:1", "Deltapeak Analytics", "deltapeak.com", None, None),
        ("provider_c:3", "Deltapeak Analytcs", None, None, None),
        ("provider_b:2", "Deltabase Analytics", None, None, None),
        ("hubspot:2", "Deltabase Analytics Inc.", "deltabase.com", "+16024725461", "phoenix"),
    ]
    companies = spark.createDataFrame(
        [(u, f"2026-11-20|{u}", n, d, p, c, None, "US") for u, n, d, p, c in rows],
        "uid string, rank string, name string, domain string, phone string, city_key string, "
        "postal_code string, country string",
    ).select(
        "*",
        N.company_name_words(F.col("name")).alias("name_words"),
        N.company_name_key(F.col("name")).alias("name_key"),
    )
    uids = companies.select("uid")
    pairs = (
        uids.alias("l")
        .crossJoin(uids.alias("r"))
        .where(F.col("l.uid") < F.col("r.uid"))
        .select(F.col("l.uid").alias("uid_l"), F.col("r.uid").alias("uid_r"))
    )
    scored = veto_cluster_conflicts(
        compare_companies(pairs, companies, cfg), companies, cfg.rules,
        COMPANY_CLUSTER_ATTRIBUTES, max_iterations=10, max_cluster_size=10,
    )  # fmt: skip
    vetoed = {
        (r["uid_l"], r["uid_r"]): r["vetoed_by"]
        for r in scored.where("vetoed_by IS NOT NULL").collect()
    }
    both = "domain_conflict,phone_conflict"  # each firm cluster has its own website and phone
    assert vetoed == {
        ("provider_a:1", "provider_b:2"): both,
        ("provider_b:2", "salesforce:1"): both,
    }
    matches = scored.where("is_match").select("uid_l", "uid_r")
    comps = connected_components(
        companies.select("uid", "rank"), matches, max_iterations=10, max_cluster_size=10
    )
    clusters: dict[str, set[str]] = {}
    for r in comps.labels.collect():
        clusters.setdefault(r["label"], set()).add(r["uid"])
    assert sorted(map(sorted, clusters.values())) == [
        ["hubspot:2", "provider_b:2"],
        ["provider_a:1", "provider_c:3", "salesforce:1"],
    ]


def test_weak_rule_must_follow_every_firm_rule(tmp_path: Path) -> None:
    text = (CONF / "rules" / "matching.yaml").read_text()
    assert "cluster_forbid: [domain_conflict, phone_conflict]" in text
    bad = tmp_path / "matching.yaml"
    bad.write_text(text.replace("[domain_conflict, phone_conflict]", "[email_conflict]", 1))
    with pytest.raises(ConfigError, match=r"cluster_forbid: 'email_conflict' is not one of"):
        load_matching(bad)
    # a weak rule placed before the firm rules
    first = "    - name: domain_exact\n"
    bad.write_text(text.replace(first, first + "      cluster_forbid: [domain_conflict]\n", 1))
    with pytest.raises(ConfigError) as err:
        load_matching(bad)
    assert "rules[0]: a rule with cluster_forbid ('domain_exact') must come after" in str(err.value)


def _reference_clusters(
    nodes: dict[int, tuple[str | None, str | None]],
    firm: list[tuple[int, int]],
    weak: list[tuple[int, int]],
    max_size: int,
) -> dict[int, int]:
    """Plain-Python reference of vetoed clustering: firm components (size-guarded), weak links
    vetoed between firm clusters whose domain or phone sets are disjoint, then components of
    the firm links and surviving weak links (size-guarded); labels are the smallest node."""

    def components(edges: list[tuple[int, int]]) -> dict[int, int]:
        parent = {n: n for n in nodes}

        def find(x: int) -> int:
            while parent[x] != x:
                x = parent[x]
            return x

        for a, b in edges:
            ra, rb = find(a), find(b)
            if ra != rb:
                parent[max(ra, rb)] = min(ra, rb)
        label = {n: find(n) for n in nodes}
        sizes: dict[int, int] = {}
        for lab in label.values():
            sizes[lab] = sizes.get(lab, 0) + 1
        return {n: (n if sizes[lab] > max_size else lab) for n, lab in label.items()}

    firm_label = components(firm)
    members: dict[int, list[int]] = {}
    for n, lab in firm_label.items():
        members.setdefault(lab, []).append(n)

    def values(n: int, i: int) -> set[str]:
        return {v for m in members[firm_label[n]] if (v := nodes[m][i]) is not None}

    def conflict(a: int, b: int) -> bool:
        return any(
            values(a, i) and values(b, i) and not values(a, i) & values(b, i) for i in (0, 1)
        )

    kept = [(a, b) for a, b in weak if not conflict(a, b)]
    return components(firm + kept)


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_cluster_matches_equals_a_plain_reference(spark: SparkSession, seed: int) -> None:
    """Random graphs with firm and weak links, conflicting identifiers and a small size guard:
    the composed Spark computation (firm components, vetoes, then the graph of firm clusters)
    gives the same labels as the reference, one label per record."""
    import random

    from crm_lakehouse.match.cluster import cluster_matches

    rnd = random.Random(seed)
    n = 80
    nodes = {
        i: (
            rnd.choice([None, None, "a.com", "b.com", "c.com"]),
            rnd.choice([None, None, "+1", "+2"]),
        )
        for i in range(n)
    }
    edges = {tuple(sorted(rnd.sample(range(n), 2))) for _ in range(70)}
    firm = [e for e in sorted(edges) if rnd.random() < 0.6]
    weak = [e for e in sorted(edges) if e not in firm]
    records = spark.createDataFrame(
        [(i, i, d, p) for i, (d, p) in nodes.items()],
        "uid long, rank long, domain string, phone string",
    )
    matches = spark.createDataFrame(
        [(a, b, "domain_exact", True) for a, b in firm]
        + [(a, b, "name_fuzzy", True) for a, b in weak],
        "uid_l long, uid_r long, matched_rule string, is_match boolean",
    )
    out = cluster_matches(
        records, matches, GUARDED_RULES, CLUSTER_ATTRIBUTES, max_iterations=50, max_cluster_size=6
    )
    got = {r["uid"]: r["label"] for r in out.components.labels.collect()}
    assert out.components.labels.count() == n
    assert got == _reference_clusters(nodes, firm, weak, 6)
