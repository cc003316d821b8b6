"""Connected components of the match graph by iterative min-label propagation in Spark.

Every record starts with its own ``rank`` (a sortable string: first seen, source system,
source id) as label; each round, a record takes the smallest label among itself and its
neighbours, until no label changes or ``max_iterations`` rounds ran. The final label of a
component is therefore its oldest record, which is what makes golden ids stable (see
:mod:`crm_lakehouse.silver.resolution`). A component larger than ``max_cluster_size`` is a
sign of a bad rule or a hub record: its records are left unmerged (each its own cluster)
and the component is reported.

:func:`veto_cluster_conflicts` guards against chaining: before the final components, the links
of weak rules between firm clusters that carry conflicting identifiers are undone.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from crm_lakehouse.match.config import MatchRule


@dataclass(frozen=True)
class Components:
    """``labels``: ``(uid, label)`` for every node; ``oversized``: ``(label, size)`` of the
    components left unmerged; ``iterations`` run and whether labels ``converged``."""

    labels: DataFrame
    oversized: DataFrame
    iterations: int
    converged: bool


def connected_components(
    nodes: DataFrame, edges: DataFrame, *, max_iterations: int, max_cluster_size: int
) -> Components:
    """Components of ``nodes`` (``uid``, ``rank``) linked by ``edges`` (``uid_l``, ``uid_r``).

    Each round is one Spark job plus a count of changed labels; the labels are checkpointed
    locally so the plan does not grow with the number of rounds.
    """
    both = edges.select(F.col("uid_l").alias("src"), F.col("uid_r").alias("dst")).unionByName(
        edges.select(F.col("uid_r").alias("src"), F.col("uid_l").alias("dst"))
    )
    both = both.localCheckpoint()
    labels = nodes.select("uid", F.col("rank").alias("label")).localCheckpoint()
    iterations, converged = 0, False
    while iterations < max_iterations:
        iterations += 1
        best = (
            both.join(labels.withColumnRenamed("uid", "src"), "src")
            .groupBy(F.col("dst").alias("uid"))
            .agg(F.min("label").alias("nbr"))
        )
        new = (
            labels.join(best, "uid", "left")
            .select("uid", F.least("label", F.coalesce("nbr", "label")).alias("label"))
            .localCheckpoint()
        )
        changed = (
            new.alias("n")
            .join(labels.alias("o"), "uid")
            .where(F.col("n.label") != F.col("o.label"))
            .count()
        )
        labels = new
        if changed == 0:
            converged = True
            break
    sizes = labels.groupBy("label").agg(F.count(F.lit(1)).alias("size"))
    oversized = sizes.where(F.col("size") > max_cluster_size).localCheckpoint()
    ranks = nodes.select("uid", "rank")
    final = (
        labels.join(oversized.select("label", F.lit(True).alias("_big")), "label", "left")
        .join(ranks, "uid")
        .select(
            "uid", F.when(F.col("_big"), F.col("rank")).otherwise(F.col("label")).alias("label")
        )
    )
    return Components(final, oversized, iterations, converged)


def veto_cluster_conflicts(
    scored: DataFrame,
    records: DataFrame,
    rules: Sequence[MatchRule],
    attributes: Mapping[str, str],
    *,
    max_iterations: int,
    max_cluster_size: int,
) -> DataFrame:
    """``scored`` with the links of weak rules that would join conflicting clusters undone.

    Connected components chain: one wrong link merges two whole clusters. A weak rule (a
    :class:`~crm_lakehouse.match.config.MatchRule` with ``cluster_forbid``, such as a fuzzy name
    in the same city) only compares two records, so it links a "Deltabase Analytics" record
    without a website to a "Deltapeak Analytics" record with one, although Deltabase's other
    records carry another website. Here the *firm* clusters are formed first (components of the
    matches of the rules without ``cluster_forbid``); a weak match whose two firm clusters both
    carry values of a listed attribute and share none (``domain_conflict``: the clusters' domain
    sets are disjoint) is vetoed: ``is_match`` false, ``matched_rule`` null, ``vetoed_by`` the
    conflicts found (null for every other pair). Missing values are no evidence, and two firm
    clusters sharing a value (a company with two domains) do not conflict.

    ``scored``: ``uid_l``, ``uid_r``, ``matched_rule``, ``is_match`` (from
    :func:`~crm_lakehouse.match.compare.apply_rules`); ``records``: ``uid``, ``rank`` and the
    columns named by ``attributes`` (conflict name -> record column). A vetoed pair does not
    fall through to a later rule: weak rules come last and each lists its own conflicts.
    """
    guarded = {r.name: r.cluster_forbid for r in rules if r.cluster_forbid}
    if not guarded:
        return scored.withColumn("vetoed_by", F.lit(None).cast("string"))
    conflicts = sorted({c for cs in guarded.values() for c in cs})
    unknown = [c for c in conflicts if c not in attributes]
    if unknown:
        raise ValueError(
            f"cluster_forbid {unknown}: no record column (known: {sorted(attributes)})"
        )
    scored = scored.localCheckpoint()  # read by both the firm components and the veto
    firm = scored.where(F.col("is_match") & ~F.col("matched_rule").isin(*guarded))
    comps = connected_components(
        records.select("uid", "rank"),
        firm.select("uid_l", "uid_r"),
        max_iterations=max_iterations,
        max_cluster_size=max_cluster_size,
    )
    values = records.select("uid", *[F.col(attributes[c]).alias(c) for c in conflicts])
    sets = (
        comps.labels.join(values, "uid")
        .groupBy("label")
        .agg(*[F.collect_set(c).alias(c) for c in conflicts])  # nulls are skipped
    )
    per_uid = comps.labels.join(sets, "label").drop("label")
    side_l = per_uid.select(
        F.col("uid").alias("uid_l"), *[F.col(c).alias(f"l_{c}") for c in conflicts]
    )
    side_r = per_uid.select(
        F.col("uid").alias("uid_r"), *[F.col(c).alias(f"r_{c}") for c in conflicts]
    )
    weak = (
        scored.where(F.col("is_match") & F.col("matched_rule").isin(*guarded))
        .select("uid_l", "uid_r", "matched_rule")
        .join(side_l, "uid_l")
        .join(side_r, "uid_r")
    )
    found = []
    for c in conflicts:
        left, right = F.col(f"l_{c}"), F.col(f"r_{c}")
        disjoint = (
            (F.size(left) > 0) & (F.size(right) > 0) & (F.size(F.array_intersect(left, right)) == 0)
        )
        applies = F.col("matched_rule").isin(*[r for r, cs in guarded.items() if c in cs])
        found.append(F.when(applies & disjoint, F.lit(c)))
    vetoes = weak.select("uid_l", "uid_r", F.concat_ws(",", *found).alias("vetoed_by")).where(
        F.col("vetoed_by") != ""
    )
    out = scored.join(vetoes, ["uid_l", "uid_r"], "left")
    kept = F.col("vetoed_by").isNull()
    return out.withColumn("matched_rule", F.when(kept, F.col("matched_rule"))).withColumn(
        "is_match", F.col("is_match") & kept
    )
