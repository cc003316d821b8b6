"""row_hash: equal rows hash alike, rows differing only in where a null sits do not."""

from __future__ import annotations

from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from crm_lakehouse.digest import row_hash


def test_row_hash_is_null_safe_and_seeded(spark: SparkSession) -> None:
    df = spark.createDataFrame(
        [
            (1, "x", None, ["p"], {"k": None}),
            (2, "x", None, ["p"], {"k": None}),  # same values as 1
            (3, None, "x", ["p"], {"k": None}),  # the null moved between columns
            (4, "x", None, ["p", None], {"k": None}),  # a null element added
            (5, "x", None, [None, "p"], {"k": None}),  # ... at the other end
            (6, "x", None, ["p"], {"k": "v"}),  # a map value filled
            (7, "x", None, None, None),
            (8, "x", None, [], {}),  # empty, not null
        ],
        "id int, a string, b string, xs array<string>, m map<string,string>",
    )
    fields = [f for f in df.schema.fields if f.name != "id"]
    hashes = {
        r["id"]: (r["h"], r["s"])
        for r in df.select(
            "id", row_hash(fields).alias("h"), row_hash(fields, F.lit("rules-v2")).alias("s")
        ).collect()
    }
    assert hashes[1] == hashes[2]
    plain = [hashes[i][0] for i in (1, 3, 4, 5, 6, 7, 8)]
    assert len(set(plain)) == len(plain)
    assert all(h != s for h, s in hashes.values())
