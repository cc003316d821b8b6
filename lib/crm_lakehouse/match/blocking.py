"""Candidate pairs by blocking: only records sharing a blocking key are ever compared.

Each record emits a few keys (``"<key name>:<value>"``); records sharing a key form a block and
every pair inside a block is a candidate. A block with more than ``max_block_size`` records
(a common name word, a switchboard number shared by many records) yields no pairs and is
reported instead, so the number of pairs is bounded by ``sum(n_b * (n_b - 1) / 2)`` over
blocks of at most ``max_block_size`` records: about linear in the input, never a cross join.
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


def block_keys(df: DataFrame, keys: Mapping[str, Column]) -> DataFrame:
    """``(uid, block)`` rows: one per record and non-null blocking key value."""
    exprs = [
        F.when(expr.isNotNull() & (expr.cast("string") != ""), F.concat(F.lit(f"{name}:"), expr))
        for name, expr in keys.items()
    ]
    return (
        df.select("uid", F.explode(F.array(*exprs)).alias("block"))
        .where(F.col("block").isNotNull())
        .distinct()
    )


def candidate_pairs(df: DataFrame, keys: Mapping[str, Column], max_block_size: int) -> Blocks:
    """Candidate pairs of ``df`` (which needs a unique ``uid`` column) under ``keys``."""
    blocks = block_keys(df, keys).withColumn(
        "size", F.count(F.lit(1)).over(Window.partitionBy("block"))
    )
    kept = blocks.where((F.col("size") >= 2) & (F.col("size") <= max_block_size))
    left = kept.select("block", F.col("uid").alias("uid_l"))
    right = kept.select("block", F.col("uid").alias("uid_r"))
    pairs = (
        left.join(right, "block")
        .where(F.col("uid_l") < F.col("uid_r"))
        .select("uid_l", "uid_r")
        .distinct()
    )
    oversized = blocks.where(F.col("size") > max_block_size).select("block", "size").distinct()
    return Blocks(pairs, oversized)
