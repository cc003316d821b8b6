"""Delta Lake storage: the port the jobs use, and the adapter chosen by configuration.

Importing this package loads neither adapter's engine: :func:`open_port` imports the one it
returns, so a cluster job never imports ``deltalake`` and a local run never needs the Delta
Spark connector.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from crm_lakehouse.config import DeltaAdapterKind
from crm_lakehouse.delta.port import DeltaPort, HistoryEntry, Txn, WriteResult

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

__all__ = ["DeltaPort", "HistoryEntry", "Txn", "WriteResult", "open_port", "resolve_kind"]


def resolve_kind(spark: SparkSession, kind: DeltaAdapterKind) -> DeltaAdapterKind:
    """The adapter ``kind`` stands for with this session.

    ``auto`` picks delta_spark when the session runs the Delta Spark connector (its SQL
    extension is configured) or is a Spark Connect session (the delta-rs adapter needs the
    driver's own filesystem, which a Connect client does not have); otherwise delta_rs.
    """
    from crm_lakehouse.delta._common import has_delta_extension, is_connect_session

    if kind is not DeltaAdapterKind.AUTO:
        return kind
    if has_delta_extension(spark) or is_connect_session(spark):
        return DeltaAdapterKind.DELTA_SPARK
    return DeltaAdapterKind.DELTA_RS


def open_port(
    spark: SparkSession,
    kind: DeltaAdapterKind = DeltaAdapterKind.AUTO,
    *,
    target_file_rows: int | None = None,
) -> DeltaPort:
    """The Delta port for ``spark``. ``target_file_rows`` caps rows per Parquet file written by
    the delta_rs adapter (config ``delta.target_file_rows``); the Delta Spark connector sizes
    its own files."""
    resolved = resolve_kind(spark, DeltaAdapterKind(kind))
    if resolved is DeltaAdapterKind.DELTA_SPARK:
        from crm_lakehouse.delta.spark import DeltaSparkAdapter

        return DeltaSparkAdapter(spark)
    from crm_lakehouse.delta.rs import DeltaRsAdapter

    return DeltaRsAdapter(spark, max_rows_per_file=target_file_rows)
