"""Explainable pairwise comparison: features, a declared score, and the first rule that holds.

A comparison turns a candidate pair into named features (booleans such as ``domain`` = both
records carry the same registrable domain, conflicts such as ``domain_conflict`` = both carry
one and they differ) plus ``name_similarity`` (Jaro-Winkler of the normalised names). The
score and the rules come from ``conf/rules/matching.yaml``: a pair matches by the first rule, in
order, whose required features hold, whose forbidden conflicts do not and whose name
similarity is high enough, if the score reaches the threshold. The rule name and the score
are kept with every pair, so each merge can be explained.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pandas as pd
from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql.types import DoubleType

from crm_lakehouse.match.config import MatchRule


def _jw(a: str | None, b: str | None) -> float | None:
    import jellyfish

    if a is None or b is None:
        return None
    return float(jellyfish.jaro_winkler_similarity(a, b))


@F.pandas_udf(DoubleType())  # type: ignore[call-overload]
def _jaro_winkler_udf(a: pd.Series, b: pd.Series) -> pd.Series:
    return pd.Series([_jw(x, y) for x, y in zip(a.tolist(), b.tolist(), strict=True)])


def jaro_winkler(a: Column, b: Column) -> Column:
    """Jaro-Winkler similarity in [0, 1] (jellyfish, vectorised); null when either is null.

    Spark has no built-in Jaro-Winkler; this runs on candidate pairs only (bounded by
    blocking), and equal strings short-circuit to 1.0 without Python.
    """
    return (
        F.when(a.isNull() | b.isNull(), F.lit(None).cast("double"))
        .when(a == b, F.lit(1.0))
        .otherwise(_jaro_winkler_udf(a, b))
    )


def both_equal(a: Column, b: Column) -> Column:
    """True only when both values are present and equal (missing data is no evidence)."""
    return F.coalesce(a.isNotNull() & b.isNotNull() & (a == b), F.lit(False))


def both_differ(a: Column, b: Column) -> Column:
    """True only when both values are present and differ (a conflict)."""
    return F.coalesce(a.isNotNull() & b.isNotNull() & (a != b), F.lit(False))


def apply_rules(
    df: DataFrame,
    rules: Sequence[MatchRule],
    weights: Mapping[str, float],
    threshold: float,
) -> DataFrame:
    """Add ``score``, ``matched_rule`` (first rule that holds, or null) and ``is_match``.

    ``df`` has one boolean column per feature and conflict named in the rules and weights,
    and ``name_similarity``. ``weights['name']`` multiplies the similarity; other weights
    count when their feature holds.
    """
    sim = F.coalesce(F.col("name_similarity"), F.lit(0.0))
    score = sim * F.lit(weights.get("name", 0.0))
    for feature, weight in weights.items():
        if feature != "name":
            score = score + F.when(F.col(feature), F.lit(weight)).otherwise(F.lit(0.0))
    score = F.round(F.least(score, F.lit(1.0)), 4)
    chosen = []
    for rule in rules:
        cond = sim >= F.lit(rule.min_name_similarity)
        for f in rule.require:
            cond = cond & F.col(f)
        for f in rule.forbid:
            cond = cond & ~F.col(f)
        chosen.append(F.when(cond, F.lit(rule.name)))
    rule_col = F.coalesce(*chosen) if chosen else F.lit(None).cast("string")
    return (
        df.withColumn("score", score)
        .withColumn("matched_rule", F.when(F.col("score") >= threshold, rule_col))
        .withColumn("is_match", F.col("matched_rule").isNotNull())
    )
