"""The storage port: every Delta operation the jobs need, behind one interface.

Two adapters implement it (see ARCHITECTURE.md, Engine and storage):

* :class:`~crm_lakehouse.delta.rs.DeltaRsAdapter` (embedded default): Spark writes Parquet in
  parallel into the table folder and delta-rs commits the files atomically; reads hand the
  snapshot's file list to Spark.
* :class:`~crm_lakehouse.delta.spark.DeltaSparkAdapter` (clusters): the Delta Spark connector,
  through SQL and the DataFrameWriter only, so it also runs over Spark Connect.

Tables are addressed by their storage location (a path or URI string). Every write may carry a
:class:`Txn`: if the table already records that application id at that version or later, the
write is skipped and reported as such, which makes a rerun of a step a no-op.

Merge conditions are SQL expressions over the aliases ``t`` (target) and ``s`` (source); keep
them to the SQL both engines parse (comparisons, ``AND``/``OR``, ``IS NULL``, literals), since
the delta_rs adapter hands them to delta-rs (DataFusion SQL), not to Spark.

Errors: a missing table raises :class:`~crm_lakehouse.errors.TableNotFoundError`; an operation
the engine behind an adapter cannot perform raises
:class:`~crm_lakehouse.errors.UnsupportedOperationError`; anything else that fails raises
:class:`~crm_lakehouse.errors.DeltaTableError`. Messages name the operation and the table
location, and chain the engine's exception.

Columns are matched by name, never by position: a DataFrame written to a table must have
exactly the table's columns with the same types (any order). Tables may keep partition columns
last (Sail does), so compare schemas by name too.
"""

from __future__ import annotations

import abc
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql.types import StructType


@dataclass(frozen=True)
class Txn:
    """An idempotency token: Delta's application transaction (``txn`` action).

    ``app_id`` names the writer and unit of work (e.g. ``"silver:2026-11-20"``); ``version``
    increases when the same unit is deliberately written again.
    """

    app_id: str
    version: int = 1


@dataclass(frozen=True)
class WriteResult:
    """What a write did: the table version it produced, or ``skipped`` when the Txn was seen.

    ``rows_written``: rows of the DataFrame added (append, overwrite), or rows inserted,
    updated or deleted (merge); 0 when skipped. ``files_added``: data files the commit added.
    ``metrics``: the engine's own figures, as it reports them.
    """

    table: str
    version: int
    skipped: bool = False
    rows_written: int | None = None
    files_added: int | None = None
    metrics: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class HistoryEntry:
    """One commit of the table (Delta's commitInfo): ``operation`` as the engine names it
    (``CREATE TABLE``, ``WRITE``, ``MERGE``, ``OPTIMIZE``, ...)."""

    version: int
    timestamp_ms: int | None
    operation: str
    parameters: Mapping[str, Any] = field(default_factory=dict)
    metrics: Mapping[str, Any] = field(default_factory=dict)
    user_metadata: str | None = None


class DeltaPort(abc.ABC):
    """Delta Lake operations used by the jobs. Implementations must pass tests/delta/."""

    name: str  # the DeltaAdapterKind value: "delta_rs" or "delta_spark"

    def __init__(self, spark: SparkSession) -> None:
        self.spark = spark

    @abc.abstractmethod
    def exists(self, location: str) -> bool:
        """True when ``location`` holds a Delta table."""

    @abc.abstractmethod
    def create(
        self,
        location: str,
        schema: StructType,
        *,
        partition_by: Sequence[str] = (),
        properties: Mapping[str, str] | None = None,
        description: str | None = None,
    ) -> bool:
        """Create an empty table; return False (and change nothing) when it already exists.

        Timestamp-without-time-zone columns and table features that one of the engines cannot
        read or write (deletion vectors, column mapping, row tracking) are refused.
        """

    @abc.abstractmethod
    def read(self, location: str, version: int | None = None) -> DataFrame:
        """The table as a DataFrame, at its current version or as of ``version``."""

    @abc.abstractmethod
    def version(self, location: str) -> int:
        """The current table version."""

    @abc.abstractmethod
    def append(self, location: str, df: DataFrame, *, txn: Txn | None = None) -> WriteResult:
        """Append the rows of ``df`` (schema must match the table's)."""

    def append_rows(
        self,
        location: str,
        rows: Sequence[Sequence[Any]],
        schema: StructType,
        *,
        txn: Txn | None = None,
    ) -> WriteResult:
        """Append a few rows built on the driver (ledger entries, rule results), given as
        tuples in ``schema``'s column order.

        The same as :meth:`append` of ``spark.createDataFrame(rows, schema)``; an adapter may
        write them without a Spark job.
        """
        return self.append(location, self.spark.createDataFrame(list(rows), schema), txn=txn)

    @abc.abstractmethod
    def overwrite(
        self,
        location: str,
        df: DataFrame,
        *,
        predicate: str | None = None,
        txn: Txn | None = None,
    ) -> WriteResult:
        """Replace the whole table, or only the rows matching ``predicate`` (SQL), by ``df``.

        With a predicate, every row of ``df`` must satisfy it (as Delta's ``replaceWhere``;
        NULL counts as not satisfied), and only existing rows where it is true are replaced.
        """

    @abc.abstractmethod
    def merge(
        self,
        location: str,
        source: DataFrame,
        *,
        keys: Sequence[str],
        update_condition: str | None = None,
        delete_condition: str | None = None,
        insert: bool = True,
        txn: Txn | None = None,
    ) -> WriteResult:
        """Upsert ``source`` into the table on equality of ``keys``.

        Matched rows satisfying ``delete_condition`` are deleted; other matched rows are updated
        when ``update_condition`` holds (always when it is None); unmatched source rows are
        inserted when ``insert``. Conditions use aliases ``t`` and ``s``. ``source`` must be
        unique on ``keys`` (rows with a NULL key aside), or DeltaTableError is raised.
        """

    def merge_rows(
        self,
        location: str,
        rows: Sequence[Sequence[Any]],
        schema: StructType,
        *,
        keys: Sequence[str],
        txn: Txn | None = None,
    ) -> WriteResult:
        """Upsert a few rows built on the driver (a run ledger's step outcome), given as tuples
        in ``schema``'s column order: matched rows updated, others inserted.

        The same as :meth:`merge` of ``spark.createDataFrame(rows, schema)``; an adapter may
        write them without a Spark job.
        """
        return self.merge(
            location, self.spark.createDataFrame(list(rows), schema), keys=keys, txn=txn
        )

    @abc.abstractmethod
    def history(self, location: str, limit: int | None = None) -> list[HistoryEntry]:
        """Commits, newest first."""

    @abc.abstractmethod
    def transaction_version(self, location: str, app_id: str) -> int | None:
        """The latest version recorded for ``app_id`` in the table, or None."""

    @abc.abstractmethod
    def vacuum(self, location: str, retention_hours: int = 168) -> list[str]:
        """Delete files no longer referenced and older than the retention; return them.

        A retention below the table's ``delta.deletedFileRetentionDuration`` is refused.
        """

    @abc.abstractmethod
    def optimize(self, location: str) -> Mapping[str, Any]:
        """Compact small files; return the engine's metrics."""

    def already_written(self, location: str, txn: Txn | None) -> bool:
        """True when ``txn`` was committed to the table before (the write must be skipped)."""
        if txn is None or not self.exists(location):
            return False
        seen = self.transaction_version(location, txn.app_id)
        return seen is not None and seen >= txn.version
