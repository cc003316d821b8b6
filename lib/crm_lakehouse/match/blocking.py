"""Candidate pairs by blocking: only records sharing a blocking key are ever compared.

Each record emits a few keys (``"<key name>:<value>"``); records sharing a key form a block and
every pair inside a block is a candidate. A block with more than ``max_block_size`` records
(a common name word, a switchboard number shared by many records) yields no pairs and is
reported instead, so the number of pairs is bounded by ``sum(n_b * (n_b - 1) / 2)`` over
blocks of at most ``max_block_size`` records: about linear in the input, never a cross join.

:func:`pairs_touching` gives the candidate pairs of a subset of records (with block sizes
counted over every record), which is what an incremental resolution compares.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F


@dataclass(frozen=True)
class Blocks:
    """``pairs``: distinct ``(uid_l, uid_r)`` with ``uid_l < uid_r``; ``oversized``: the
    skipped blocks with their sizes (``block``, ``size``)."""

    pairs: DataFrame
    oversized: DataFrame


def block_key_array(keys: Mapping[str, Column]) -> Column:
    """A record's blocking keys as one array (``"<key name>:<value>"``, nulls and blanks left
    out, each distinct once)."""
    exprs = [
        F.when(expr.isNotNull() & (expr.cast("string") != ""), F.concat(F.lit(f"{name}:"), expr))
        for name, expr in keys.items()
    ]
    return F.array_distinct(F.array_compact(F.array(*exprs)))


def block_keys(df: DataFrame, keys: Mapping[str, Column] | None = None) -> DataFrame:
    """``(uid, block)`` rows: one per record and blocking key. Without ``keys``, ``df`` carries
    them already as ``block_keys`` (see :func:`block_key_array`)."""
    array = block_key_array(keys) if keys is not None else F.col("block_keys")
    return df.select("uid", F.explode(array).alias("block"))


def _pairs_within(members: DataFrame, carry: tuple[str, ...] = ()) -> DataFrame:
    """Every ``(uid_l, uid_r)`` with ``uid_l < uid_r`` sharing a block of ``members``
    (``uid``, ``block`` and the ``carry`` columns, which come out as ``<name>_l``/``<name>_r``)."""

    def side(suffix: str) -> DataFrame:
        return members.select(
            "block",
            F.col("uid").alias(f"uid_{suffix}"),
            *[F.col(c).alias(f"{c}_{suffix}") for c in carry],
        )

    return side("l").join(side("r"), "block").where(F.col("uid_l") < F.col("uid_r")).drop("block")


def candidate_pairs(
    df: DataFrame, keys: Mapping[str, Column] | None, max_block_size: int
) -> Blocks:
    """Candidate pairs of ``df`` (which needs a unique ``uid`` column) under ``keys`` (None:
    ``df`` carries its ``block_keys``)."""
    blocks = block_keys(df, keys).withColumn(
        "size", F.count(F.lit(1)).over(Window.partitionBy("block"))
    )
    kept = blocks.where((F.col("size") >= 2) & (F.col("size") <= max_block_size))
    pairs = _pairs_within(kept).distinct()
    oversized = blocks.where(F.col("size") > max_block_size).select("block", "size").distinct()
    return Blocks(pairs, oversized)


def pairs_touching(
    members: DataFrame, touching: DataFrame, done: DataFrame | None, max_block_size: int
) -> DataFrame:
    """The candidate pairs with at least one record in ``touching`` (``uid``) and none in
    ``done`` (``uid``: records whose pairs were all produced already).

    ``members``: ``(uid, block)`` of every record, so block sizes, and with them which blocks
    are skipped, are exactly those of :func:`candidate_pairs` over all records. Only the blocks
    of ``touching`` are read; ``touching`` and ``done`` are broadcast (they are small).
    """
    hit = members.join(F.broadcast(touching.select("uid")), "uid").select("block").distinct()
    inside = members.join(F.broadcast(hit), "block")
    sizes = inside.groupBy("block").agg(F.count(F.lit(1)).alias("size"))
    kept = inside.join(sizes.where(f"size >= 2 AND size <= {max_block_size}"), "block")
    flagged = kept.join(F.broadcast(touching.select("uid", F.lit(True).alias("t"))), "uid", "left")
    if done is not None:
        flagged = flagged.join(
            F.broadcast(done.select("uid", F.lit(True).alias("d"))), "uid", "left"
        )
    else:
        flagged = flagged.withColumn("d", F.lit(None).cast("boolean"))
    return (
        _pairs_within(flagged, carry=("t", "d"))
        .where(F.coalesce(F.col("t_l"), F.col("t_r"), F.lit(False)))
        .where(F.col("d_l").isNull() & F.col("d_r").isNull())
        .select("uid_l", "uid_r")
        .distinct()
    )
