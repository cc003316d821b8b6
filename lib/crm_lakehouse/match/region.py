"""The records a night's changes can affect: what an incremental resolution recomputes.

Resolution is a function of the candidate records alone (blocking, pairwise rules, vetoed
connected components, ids named after each cluster's oldest record). When a few records
change, only some clusters can come out differently; this module finds a set of records, the
*region*, such that recomputing the clusters of the region alone, from the pairs among its
records, gives exactly what a full recomputation would give, and every cluster outside it is
what was published before. It is built from the previous publication's per-record state (the
xref: golden id, the candidate's fingerprint and its blocking keys):

1. **Seeds**: records whose candidate fingerprint changed (new records, new versions, a new
   company link of a person, a changed rules digest: all of it is in the fingerprint).
2. **Flipped blocks**: a block is skipped when it holds more than ``max_block_size`` records.
   If a seed's arrival or departure moves a block across that bound, pairs between unchanged
   records appear or vanish, so every member of such a block (now and before) is a seed too.
3. **Old clusters**: every record that shared a golden id with a region record joins it, so the
   region is a union of previously published clusters.
4. **Closure**: the candidate pairs touching the region are scored; a pairwise match (before
   any cluster-level veto) from a region record to an outside record pulls that record's old
   cluster in; repeat until no match leaves the region.

Why this is exact: every match of the full graph with an end in the region has both ends in it
(4), so the region's components, vetoes (they only look at the firm clusters of the two ends of
a link) and size guards are computed on exactly the graph a full run would see. Outside the
region, every pair joins two unchanged records in a block whose skipping did not change (1, 2),
so its edges are yesterday's; since yesterday's clusters of outside records lie wholly outside
(3), their components and ids are yesterday's too. Records removed from the record tables are
not handled here: :func:`affected_region` returns None and the caller recomputes everything.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from crm_lakehouse.checkpoint import checkpoint
from crm_lakehouse.match.blocking import block_keys, pairs_touching


@dataclass(frozen=True)
class Region:
    """``uids``: the region's records (``uid``); ``scored``: the scored candidate pairs with
    both ends in the region (``uid_l``, ``uid_r``, ``score``, ``matched_rule``, ``is_match``);
    ``previous_ids``: the golden ids its records had (``id``), which the new clusters replace;
    ``metrics``: seeds, region size, rounds."""

    uids: DataFrame
    scored: DataFrame
    previous_ids: DataFrame
    metrics: dict[str, int]


def _as_uids(df: DataFrame) -> DataFrame:
    return df.select("uid").distinct()


def affected_region(
    candidates: DataFrame,
    previous: DataFrame,
    score: Callable[[DataFrame], DataFrame],
    *,
    max_block_size: int,
    max_rounds: int = 20,
) -> Region | None:
    """The region of ``candidates`` that changes since ``previous`` (see the module docstring).

    ``candidates``: every current candidate record with ``uid``, ``fingerprint`` and
    ``block_keys`` (checkpointed by the caller: it is read many times). ``previous``: the last
    publication's ``uid``, ``id``, ``fingerprint``, ``block_keys``. ``score``: turns candidate
    pairs (``uid_l``, ``uid_r``) into scored pairs with ``is_match`` (pairwise, before vetoes).
    Returns None when records were removed since ``previous`` (a full recomputation is due).
    """
    prev = previous.select(
        "uid",
        F.col("id").alias("_prev_id"),
        F.col("fingerprint").alias("_prev_fp"),
        F.col("block_keys").alias("_prev_keys"),
    )
    both = candidates.select("uid", "fingerprint", "block_keys").join(prev, "uid", "full")
    removed = both.where(F.col("fingerprint").isNull()).limit(1).count()
    if removed:
        return None
    changed = both.where(
        F.col("_prev_fp").isNull() | (F.col("fingerprint") != F.col("_prev_fp"))
    ).transform(checkpoint)
    seeds = changed.count()
    current_members = block_keys(candidates).transform(checkpoint)
    previous_members = block_keys(previous.select("uid", F.col("block_keys")))
    # Blocks a seed is in, now or before; those whose skipping changed make all members seeds.
    touched = (
        changed.select(F.explode("block_keys").alias("block"))
        .unionByName(changed.select(F.explode("_prev_keys").alias("block")))
        .distinct()
        .transform(checkpoint)
    )

    def sizes(members: DataFrame, name: str) -> DataFrame:
        return (
            members.join(F.broadcast(touched), "block")
            .groupBy("block")
            .agg(F.count(F.lit(1)).alias(name))
        )

    over = F.lit(max_block_size)
    flipped = (
        sizes(current_members, "_now")
        .join(sizes(previous_members, "_before"), "block", "full")
        .where(
            (F.coalesce(F.col("_now"), F.lit(0)) > over)
            != (F.coalesce(F.col("_before"), F.lit(0)) > over)
        )
        .select("block")
        .transform(checkpoint)
    )
    flipped_members = current_members.join(F.broadcast(flipped), "block").unionByName(
        previous_members.join(F.broadcast(flipped), "block")
    )
    region = _as_uids(changed.select("uid").unionByName(flipped_members.select("uid")))
    ids = prev.select("uid", F.col("_prev_id").alias("id"))

    def with_old_clusters(uids: DataFrame) -> DataFrame:
        old = ids.join(F.broadcast(uids), "uid").select("id").distinct()
        members = ids.join(F.broadcast(old), "id").select("uid")
        return _as_uids(uids.unionByName(members))

    region = with_old_clusters(region).transform(checkpoint)
    frontier, done = region, None
    scored_parts: list[DataFrame] = []
    rounds = 0
    while True:
        rounds += 1
        pairs = pairs_touching(current_members, frontier, done, max_block_size)
        scored = score(pairs).transform(checkpoint)
        scored_parts.append(scored)
        # Every scored pair has an end in the region; a match's other end may lie outside.
        matched = scored.where("is_match")
        ends = matched.select(F.col("uid_l").alias("uid")).unionByName(
            matched.select(F.col("uid_r").alias("uid"))
        )
        outside = ends.distinct().join(F.broadcast(region), "uid", "left_anti")
        grown = with_old_clusters(outside).join(F.broadcast(region), "uid", "left_anti")
        grown = grown.transform(checkpoint)
        if grown.isEmpty():
            break
        if rounds >= max_rounds:
            raise RuntimeError(
                f"incremental resolution: the region still grew after {rounds} rounds"
            )
        done = region
        region = region.unionByName(grown).transform(checkpoint)
        frontier = grown
    all_scored = scored_parts[0]
    for part in scored_parts[1:]:
        all_scored = all_scored.unionByName(part)
    members = F.broadcast(region.select("uid"))
    within = all_scored.join(members.withColumnRenamed("uid", "uid_l"), "uid_l").join(
        members.withColumnRenamed("uid", "uid_r"), "uid_r"
    )
    previous_ids = (
        ids.join(F.broadcast(region), "uid").select("id").distinct().transform(checkpoint)
    )
    return Region(
        uids=region,
        scored=within.select("uid_l", "uid_r", "score", "matched_rule", "is_match"),
        previous_ids=previous_ids,
        metrics={"seeds": seeds, "records": region.count(), "rounds": rounds},
    )
