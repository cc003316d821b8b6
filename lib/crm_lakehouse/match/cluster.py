"""Connected components of the match graph by iterative min-label propagation in Spark.

Every record starts with its own ``rank`` (a sortable string: first seen, source system,
source id) as label; each round, a record takes the smallest label among itself and its
neighbours, until no label changes or ``max_iterations`` rounds ran. The final label of a
component is therefore its oldest record, which is what makes golden ids stable (see
:mod:`crm_lakehouse.silver.resolution`). A component larger than ``max_cluster_size`` is a
sign of a bad rule or a hub record: its records are left unmerged (each its own cluster)
and the component is reported.
"""

from __future__ import annotations

from dataclasses import dataclass

from pyspark.sql import DataFrame
from pyspark.sql import functions as F


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
