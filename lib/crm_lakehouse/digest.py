"""A null-safe 64-bit hash of a row's columns, for change detection.

``xxhash64`` skips null arguments (``(null, 'a')`` and ``('a', null)`` hash alike) and null
elements of arrays, so each column is followed by its null flag and nested columns are hashed
in their JSON form. Hashing the columns directly rather than one JSON text of the whole row
costs about half as much: 1.0 s against 2.2 s for the 136,188 rows of ``gold.account_360`` at
1M source records, and 0.3 s against 1.7 s over the 320,779 company candidates of the same lake
(warm, ``noop`` writes).
"""

from __future__ import annotations

from collections.abc import Iterable

from pyspark.sql import Column
from pyspark.sql import functions as F
from pyspark.sql.types import ArrayType, MapType, StructField, StructType


def row_hash(fields: Iterable[StructField], *seed: Column) -> Column:
    """``xxhash64`` of ``seed`` then every field's column and null flag (nested fields as
    JSON)."""
    parts = list(seed)
    for f in fields:
        c = F.col(f.name)
        nested = isinstance(f.dataType, ArrayType | MapType | StructType)
        parts += [F.to_json(c) if nested else c, c.isNull()]
    return F.xxhash64(*parts)


__all__ = ["row_hash"]
