"""Connected components of the match graph by iterative min-label propagation in Spark.

Every record starts with its own ``rank`` (any orderable value: the resolution passes a long
that sorts like first seen, source system, source id) as label; each round, a record takes the
smallest label among itself and its neighbours, until no label changes or ``max_iterations``
rounds ran. The final label of a component is therefore its oldest record, which is what makes
golden ids stable (see :mod:`crm_lakehouse.silver.resolution`). A component larger than
``max_cluster_size`` is a sign of a bad rule or a hub record: its records are left unmerged
(each its own cluster) and the component is reported.

Cost: only records with at least one match take part in the rounds (most records of a lake are
singletons or tiny clusters), each round is one shuffle whose output is checkpointed with a
"changed" flag, so convergence is read from the checkpoint without a second join.

:func:`cluster_matches` guards against chaining: the links of weak rules between firm clusters
that carry conflicting identifiers are undone (:func:`veto_cluster_conflicts` explains the
rule), and the final components are the firm components joined by the weak links that
survived, computed on the (small) graph of firm clusters instead of a second pass over every
record.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from crm_lakehouse.checkpoint import checkpoint
from crm_lakehouse.match.config import MatchRule


@dataclass(frozen=True)
class Components:
    """``labels``: ``(uid, label)`` for every node (members of an oversized component keep
    their own rank); ``oversized``: ``(label, size)`` of the components left unmerged;
    ``iterations`` run and whether labels ``converged``."""

    labels: DataFrame
    oversized: DataFrame
    iterations: int
    converged: bool


@dataclass(frozen=True)
class _Propagated:
    """Min labels of the nodes that have edges (``uid``, ``label``), before any size guard."""

    labels: DataFrame
    iterations: int
    converged: bool


def _propagate(ranks: DataFrame, edges: DataFrame, max_iterations: int) -> _Propagated:
    """Label propagation over ``edges`` (``uid_l``, ``uid_r``) for the nodes they touch;
    ``ranks`` (``uid``, ``rank``) gives each node's starting label."""
    both = (
        edges.select(F.col("uid_l").alias("src"), F.col("uid_r").alias("dst"))
        .unionByName(edges.select(F.col("uid_r").alias("src"), F.col("uid_l").alias("dst")))
        .transform(checkpoint)
    )
    touched = both.select(F.col("src").alias("uid")).distinct()
    labels = (
        touched.join(ranks, "uid").select("uid", F.col("rank").alias("label")).transform(checkpoint)
    )
    iterations, converged = 0, False
    while iterations < max_iterations:
        iterations += 1
        best = (
            both.join(labels.withColumnRenamed("uid", "src"), "src")
            .groupBy(F.col("dst").alias("uid"))
            .agg(F.min("label").alias("nbr"))
        )
        new = (
            labels.join(best, "uid")
            .select(
                "uid",
                F.least("label", "nbr").alias("label"),
                (F.col("nbr") < F.col("label")).alias("_changed"),
            )
            .transform(checkpoint)
        )
        labels = new.select("uid", "label")
        if new.where("_changed").isEmpty():
            converged = True
            break
    return _Propagated(labels, iterations, converged)


def _guarded(
    nodes: DataFrame, propagated: DataFrame, max_cluster_size: int
) -> tuple[DataFrame, DataFrame]:
    """Labels for every node of ``nodes`` (``uid``, ``rank``) from the propagated labels of
    the nodes with edges; members of a component above ``max_cluster_size`` keep their rank.
    Returns ``(labels, oversized)``; ``oversized`` is checkpointed (read twice)."""
    sizes = propagated.groupBy("label").agg(F.count(F.lit(1)).alias("size"))
    oversized = sizes.where(F.col("size") > max_cluster_size).transform(checkpoint)
    label: Column = F.coalesce(F.col("label"), F.col("rank"))
    if not oversized.isEmpty():
        big = oversized.select("label", F.lit(True).alias("_big"))
        propagated = propagated.join(F.broadcast(big), "label", "left")
        label = F.when(F.col("_big"), F.col("rank")).otherwise(label)
    final = (
        nodes.select("uid", "rank")
        .join(propagated, "uid", "left")
        .select("uid", label.alias("label"))
    )
    return final, oversized


def connected_components(
    nodes: DataFrame, edges: DataFrame, *, max_iterations: int, max_cluster_size: int
) -> Components:
    """Components of ``nodes`` (``uid``, ``rank``) linked by ``edges`` (``uid_l``, ``uid_r``)."""
    prop = _propagate(nodes.select("uid", "rank"), edges, max_iterations)
    labels, oversized = _guarded(nodes, prop.labels, max_cluster_size)
    return Components(labels, oversized, prop.iterations, prop.converged)


@dataclass(frozen=True)
class Clusters:
    """The outcome of :func:`cluster_matches`: final ``components`` and the ``matches`` with
    vetoed weak links marked (``is_match`` false, ``matched_rule`` null, ``vetoed_by``)."""

    components: Components
    matches: DataFrame


def _firm_and_weak(rules: Sequence[MatchRule]) -> dict[str, tuple[str, ...]]:
    return {r.name: r.cluster_forbid for r in rules if r.cluster_forbid}


def _vetoes(
    weak: DataFrame,
    firm: DataFrame,
    records: DataFrame,
    guarded: Mapping[str, tuple[str, ...]],
    attributes: Mapping[str, str],
) -> DataFrame:
    """``weak`` matches (``uid_l``, ``uid_r``, ``matched_rule``) with ``vetoed_by``: the
    conflicts between the firm clusters of their two records (null when none).

    ``firm``: ``uid``, ``label`` of the records with firm links, guarded (members of an
    oversized firm component carry their own rank); a record without firm links is a firm
    cluster of its own.
    """
    conflicts = sorted({c for cs in guarded.values() for c in cs})
    unknown = [c for c in conflicts if c not in attributes]
    if unknown:
        raise ValueError(
            f"cluster_forbid {unknown}: no record column (known: {sorted(attributes)})"
        )
    ends = (
        weak.select(F.col("uid_l").alias("uid"))
        .unionByName(weak.select(F.col("uid_r").alias("uid")))
        .distinct()
        .join(records.select("uid", "rank"), "uid")
        .join(firm, "uid", "left")
        .select(
            "uid",
            F.coalesce("label", "rank").alias("label"),
            F.col("label").isNull().alias("_alone"),
        )
        .transform(checkpoint)
    )
    # Members of the firm clusters a weak link touches: the linked records' clusters, and the
    # records without firm links themselves.
    members = firm.join(ends.select("label").distinct(), "label").unionByName(
        ends.where("_alone").select("uid", "label")
    )
    values = records.select("uid", *[F.col(attributes[c]).alias(c) for c in conflicts])
    sets = (
        members.join(values, "uid")
        .groupBy("label")
        .agg(*[F.collect_set(c).alias(c) for c in conflicts])  # nulls are skipped
    )
    per_uid = ends.select("uid", "label").join(sets, "label")
    side_l = per_uid.select(
        F.col("uid").alias("uid_l"), *[F.col(c).alias(f"l_{c}") for c in conflicts]
    )
    side_r = per_uid.select(
        F.col("uid").alias("uid_r"), *[F.col(c).alias(f"r_{c}") for c in conflicts]
    )
    found = []
    for c in conflicts:
        left, right = F.col(f"l_{c}"), F.col(f"r_{c}")
        disjoint = (
            (F.size(left) > 0) & (F.size(right) > 0) & (F.size(F.array_intersect(left, right)) == 0)
        )
        applies = F.col("matched_rule").isin(*[r for r, cs in guarded.items() if c in cs])
        found.append(F.when(applies & disjoint, F.lit(c)))
    vetoed_by = F.concat_ws(",", *found)
    return (
        weak.join(side_l, "uid_l")
        .join(side_r, "uid_r")
        .select("uid_l", "uid_r", F.when(vetoed_by != "", vetoed_by).alias("vetoed_by"))
    )


def cluster_matches(
    records: DataFrame,
    matches: DataFrame,
    rules: Sequence[MatchRule],
    attributes: Mapping[str, str],
    *,
    max_iterations: int,
    max_cluster_size: int,
) -> Clusters:
    """Final components of ``records`` (``uid``, ``rank``, attribute columns) under
    ``matches`` (``uid_l``, ``uid_r``, ``matched_rule``, ``is_match`` and any other columns,
    which are kept: the matching pairs), with the weak links between conflicting firm clusters
    vetoed.

    The result equals :func:`connected_components` over the matches that survive
    :func:`veto_cluster_conflicts`: the firm components are computed once (they decide the
    vetoes), and the surviving weak links only join whole firm components, so the final labels
    come from a propagation over the graph of the firm components those links touch, not a
    second pass over every record. The size guard applies to the final components, as it
    would on the whole graph.
    """
    guarded = _firm_and_weak(rules)
    ranks = records.select("uid", "rank")
    if not guarded:
        comps = connected_components(
            ranks, matches, max_iterations=max_iterations, max_cluster_size=max_cluster_size
        )
        return Clusters(comps, matches.withColumn("vetoed_by", F.lit(None).cast("string")))
    matches = matches.transform(checkpoint)  # read by the firm components, the veto and the output
    is_weak = F.col("matched_rule").isin(*guarded)
    firm = _propagate(ranks, matches.where(~is_weak), max_iterations)
    firm_ranked = firm.labels.join(ranks, "uid")
    firm_sizes = firm.labels.groupBy("label").agg(F.count(F.lit(1)).alias("_n"))
    firm_guarded = (
        firm_ranked.join(firm_sizes, "label")
        .select(
            "uid",
            F.when(F.col("_n") > max_cluster_size, F.col("rank"))
            .otherwise(F.col("label"))
            .alias("label"),
        )
        .transform(checkpoint)
    )
    vetoes = _vetoes(matches.where(is_weak), firm_guarded, records, guarded, attributes).transform(
        checkpoint
    )
    kept = F.col("vetoed_by").isNull()
    marked = (
        matches.join(vetoes, ["uid_l", "uid_r"], "left")
        .withColumn("matched_rule", F.when(kept, F.col("matched_rule")))
        .withColumn("is_match", F.col("is_match") & kept)
        .transform(checkpoint)
    )
    # Surviving weak links join whole (unguarded) firm components.
    survived = vetoes.where(kept).select("uid_l", "uid_r")
    linked = (
        survived.select(F.col("uid_l").alias("uid"))
        .unionByName(survived.select(F.col("uid_r").alias("uid")))
        .unionByName(firm.labels.select("uid"))
        .distinct()
    )
    raw = (
        linked.join(ranks, "uid")
        .join(firm.labels, "uid", "left")
        .select("uid", F.coalesce("label", "rank").alias("label"))
        .transform(checkpoint)
    )
    links = (
        survived.join(raw.toDF("uid_l", "label_l"), "uid_l")
        .join(raw.toDF("uid_r", "label_r"), "uid_r")
        .where(F.col("label_l") != F.col("label_r"))
        .select(F.col("label_l").alias("uid_l"), F.col("label_r").alias("uid_r"))
    )
    link_ranks = (
        links.select(F.col("uid_l").alias("uid"))
        .unionByName(links.select(F.col("uid_r").alias("uid")))
        .distinct()
        .select("uid", F.col("uid").alias("rank"))
    )
    joined = _propagate(link_ranks, links, max_iterations)
    composed = raw.join(joined.labels.toDF("label", "final"), "label", "left").select(
        "uid", F.coalesce("final", "label").alias("label")
    )
    labels, oversized = _guarded(ranks, composed, max_cluster_size)
    comps = Components(
        labels,
        oversized,
        firm.iterations + joined.iterations,
        firm.converged and joined.converged,
    )
    return Clusters(comps, marked)


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
    guarded = _firm_and_weak(rules)
    if not guarded:
        return scored.withColumn("vetoed_by", F.lit(None).cast("string"))
    clusters = cluster_matches(
        records,
        scored.where("is_match"),
        rules,
        attributes,
        max_iterations=max_iterations,
        max_cluster_size=max_cluster_size,
    )
    vetoes = clusters.matches.where("vetoed_by IS NOT NULL").select(
        "uid_l", "uid_r", F.col("vetoed_by").alias("_vetoed_by")
    )
    out = scored.join(vetoes, ["uid_l", "uid_r"], "left")
    kept = F.col("_vetoed_by").isNull()
    return (
        out.withColumn("matched_rule", F.when(kept, F.col("matched_rule")))
        .withColumn("is_match", F.col("is_match") & kept)
        .withColumnRenamed("_vetoed_by", "vetoed_by")
    )
