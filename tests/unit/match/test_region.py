"""The affected region of an incremental resolution: seeds, flipped blocks, old clusters and
the closure over matches that leave the region."""

from __future__ import annotations

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from crm_lakehouse.match.region import affected_region

CANDS = "uid string, fingerprint long, block_keys array<string>"
PREV = "uid string, id string, fingerprint long, block_keys array<string>"


def _score_all_match(pairs: DataFrame) -> DataFrame:
    """Every candidate pair matches (the region logic does not care why)."""
    return pairs.select(
        "uid_l", "uid_r", F.lit(1.0).alias("score"), F.lit("r").alias("matched_rule"),
        F.lit(True).alias("is_match"),
    )  # fmt: skip


def _region_of(spark: SparkSession, cands: list[tuple], prev: list[tuple], max_block: int = 3):  # type: ignore[no-untyped-def,type-arg]
    return affected_region(
        spark.createDataFrame(cands, CANDS),
        spark.createDataFrame(prev, PREV),
        _score_all_match,
        max_block_size=max_block,
    )


def _uids(df: DataFrame) -> set[str]:
    return {r["uid"] for r in df.collect()}


def test_nothing_changed_gives_an_empty_region(spark: SparkSession) -> None:
    same = [("a", 1, ["k:1"]), ("b", 2, ["k:1"])]
    region = _region_of(spark, same, [("a", "A", 1, ["k:1"]), ("b", "A", 2, ["k:1"])])
    assert region is not None
    assert _uids(region.uids) == set() and region.scored.count() == 0
    assert region.metrics["seeds"] == 0


def test_a_changed_record_brings_its_old_cluster_and_its_new_matches(
    spark: SparkSession,
) -> None:
    # e changed and now shares a block with f, whose old cluster is {f, g}; h is unrelated.
    cands = [
        ("e", 10, ["k:e", "k:fe"]),
        ("f", 2, ["k:fe", "k:fg"]),
        ("g", 3, ["k:fg"]),
        ("h", 4, ["k:h"]),
        ("i", 5, ["k:e"]),
    ]
    prev = [
        ("e", "E", 1, ["k:e"]),
        ("f", "F", 2, ["k:fe", "k:fg"]),
        ("g", "F", 3, ["k:fg"]),
        ("h", "H", 4, ["k:h"]),
        ("i", "E", 5, ["k:e"]),
    ]
    region = _region_of(spark, cands, prev)
    assert region is not None
    assert _uids(region.uids) == {"e", "i", "f", "g"}
    assert {r["id"] for r in region.previous_ids.collect()} == {"E", "F"}
    pairs = {(r["uid_l"], r["uid_r"]) for r in region.scored.collect()}
    assert pairs == {("e", "i"), ("e", "f"), ("f", "g")}
    assert region.metrics["rounds"] == 2  # f's cluster was pulled in by e's match


def test_a_block_shrinking_under_the_bound_makes_its_members_seeds(spark: SparkSession) -> None:
    # Block k:x held 4 records (> 3: skipped); d moved out, so a, b, c now pair up although
    # none of them changed.
    cands = [("a", 1, ["k:x"]), ("b", 2, ["k:x"]), ("c", 3, ["k:x"]), ("d", 40, ["k:y"])]
    prev = [
        ("a", "A", 1, ["k:x"]),
        ("b", "B", 2, ["k:x"]),
        ("c", "C", 3, ["k:x"]),
        ("d", "D", 4, ["k:x"]),
    ]
    region = _region_of(spark, cands, prev)
    assert region is not None
    assert _uids(region.uids) == {"a", "b", "c", "d"}
    pairs = {(r["uid_l"], r["uid_r"]) for r in region.scored.collect()}
    assert pairs == {("a", "b"), ("a", "c"), ("b", "c")}


def test_negative_a_block_staying_under_the_bound_adds_no_unchanged_records(
    spark: SparkSession,
) -> None:
    cands = [("a", 1, ["k:x"]), ("b", 2, ["k:x"]), ("d", 40, ["k:y"])]
    prev = [("a", "A", 1, ["k:x"]), ("b", "A", 2, ["k:x"]), ("d", "D", 4, ["k:x"])]
    region = _region_of(spark, cands, prev)
    assert region is not None
    assert _uids(region.uids) == {"d"}


def test_removed_records_ask_for_a_full_recomputation(spark: SparkSession) -> None:
    region = _region_of(spark, [("a", 1, ["k:1"])], [("a", "A", 1, ["k:1"]), ("z", "A", 9, [])])
    assert region is None
