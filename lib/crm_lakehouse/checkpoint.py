"""Checkpoints that cut a DataFrame's lineage *and* its size estimate.

Iterative jobs (label propagation, the incremental region's rounds, resolution feeding
resolution) cut their lineage with ``localCheckpoint``. Since Spark 3.4 a checkpoint keeps the
*estimated* statistics of the plan it replaced, and without cost-based optimisation an inner
join is estimated at the product of its sides' sizes. Chained over checkpoints, the estimate
grows without bound: a day-2 Silver run at 100k records spent over seven minutes of driver
CPU multiplying integers of millions of digits (``SizeInBytesOnlyStatsPlanVisitor.visitJoin``
in a thread dump) for plans that then ran in seconds.

:func:`checkpoint` checkpoints as usual and, when the kept estimate is beyond any real size
(2^60 bytes or more), rebuilds the frame over the same checkpointed rows with Spark's default
estimate (``spark.sql.defaultSizeInBytes``, as for any source of unknown size); adaptive query
execution still sizes joins from the real shuffle sizes at run time.
"""

from __future__ import annotations

from pyspark.sql import DataFrame


def _absurd(description: str) -> bool:
    # Statistics.simpleString prints sizes from 2^60 bytes in EiB or in scientific notation.
    return "EiB" in description or "E+" in description


def checkpoint(df: DataFrame) -> DataFrame:
    """``df.localCheckpoint()``, with its size estimate reset when it is absurd."""
    out = df.localCheckpoint()
    jdf = out._jdf
    if not _absurd(jdf.queryExecution().optimizedPlan().stats().simpleString()):
        return out
    plan = jdf.queryExecution().logical()  # the LogicalRDD over the checkpointed rows
    fresh = out.sparkSession._jsparkSession.internalCreateDataFrame(plan.rdd(), jdf.schema(), False)
    return DataFrame(fresh, out.sparkSession)
