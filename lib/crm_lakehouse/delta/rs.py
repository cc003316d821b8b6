"""The embedded Delta adapter: Spark does the data work, delta-rs only commits.

Why this split: the Delta Spark connector's jars cannot be fetched on the machines this project
builds on (ARCHITECTURE.md), but Spark can write Parquet in parallel and delta-rs (the
``deltalake`` package) can commit those files to a Delta log atomically. So:

* **writes** (append, overwrite): Spark writes the DataFrame as Parquet into a private staging
  folder inside the table (``<table>/_staging/<write id>/``). The adapter reads each file's
  footer (row count, null counts, min/max), moves the files into the table's Hive-style layout
  (``<table>/<col>=<value>/part-....parquet``, the layout delta-rs itself writes) and commits
  them as add actions with :meth:`deltalake.DeltaTable.create_write_transaction`. The data never
  passes through the driver. Spark's ``_SUCCESS`` and ``.crc`` files stay in the staging folder,
  which is deleted afterwards.
* **reads**: the snapshot's file list goes to ``spark.read.parquet`` with the table's schema and
  the table root as ``basePath``, so partition columns come from the paths.
* **merge**: Spark writes the source to staging, and delta-rs's streamed MERGE reads it as an
  Arrow stream (:func:`pyarrow.dataset.dataset` -> ``scanner().to_reader()``), batch by batch.
* **idempotency**: the Txn is committed as Delta's ``txn`` action (``app_transactions``) in the
  same commit as the data; delta-rs records it but does not skip a repeat, so every write first
  checks :meth:`DeltaPort.already_written`.

Scope: tables on the local filesystem (plain paths or ``file://`` URIs), written by one writer
at a time (the pipeline's lock). Files are moved with ``os.replace``; object stores would need a
copy, which this adapter does not do.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import shutil
import time
import urllib.parse
import uuid
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

import pyarrow as pa
import pyarrow.dataset as pa_ds
import pyarrow.parquet as pq
from deltalake import CommitProperties, DeltaTable, Transaction
from deltalake.exceptions import DeltaError
from deltalake.exceptions import TableNotFoundError as RsTableNotFoundError
from deltalake.transaction import AddAction, RemoveAction
from pyspark.errors import AnalysisException
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql.pandas.types import to_arrow_schema
from pyspark.sql.types import (
    ArrayType,
    BooleanType,
    DataType,
    DateType,
    DoubleType,
    IntegerType,
    LongType,
    StringType,
    StructField,
    StructType,
    TimestampType,
)

from crm_lakehouse.delta._common import (
    as_int,
    check_keys,
    check_new_table,
    check_unique_keys,
    conform_columns,
    first_line,
    is_connect_session,
    key_predicate,
    parse_user_metadata,
    quote,
    user_metadata,
)
from crm_lakehouse.delta.port import DeltaPort, HistoryEntry, Txn, WriteResult
from crm_lakehouse.errors import DeltaTableError, TableNotFoundError, UnsupportedOperationError

log = logging.getLogger(__name__)

_ARROW_ATOMIC = (
    StringType,
    LongType,
    IntegerType,
    DoubleType,
    BooleanType,
    TimestampType,
    DateType,
)

STAGING_DIR = "_staging"
HIVE_NULL = "__HIVE_DEFAULT_PARTITION__"
# Longer strings get no min/max statistics: they would bloat the log for little skipping value.
_MAX_STAT_STRING = 64
_GLOB_CHARS = re.compile(r"([\\\[\]{}*?])")


@dataclass
class _StagedFile:
    rel_path: str  # relative to the staging root, Hive-style partition folders included
    partition_values: dict[str, str | None]
    num_records: int
    null_counts: dict[str, int]
    stats: str


@dataclass
class _Staged:
    root: str
    files: list[_StagedFile] = field(default_factory=list)

    @property
    def rows(self) -> int:
        return sum(f.num_records for f in self.files)


class DeltaRsAdapter(DeltaPort):
    """Delta tables on the local filesystem: Spark writes and reads Parquet, delta-rs commits.

    Needs a classic (in-process JVM) SparkSession whose driver sees the same filesystem as the
    executors, as ``local[*]`` does. ``max_rows_per_file`` caps the rows in each Parquet file
    Spark writes (``maxRecordsPerFile``); None leaves it to Spark.
    """

    name = "delta_rs"

    def __init__(self, spark: SparkSession, *, max_rows_per_file: int | None = None) -> None:
        if is_connect_session(spark):
            raise UnsupportedOperationError(
                "the delta_rs adapter needs a classic SparkSession: it moves and commits the "
                "files Spark writes on the driver's filesystem, which a Spark Connect client "
                "cannot see; use the delta_spark adapter with Spark Connect"
            )
        super().__init__(spark)
        self.max_rows_per_file = max_rows_per_file
        # delta-rs and other Delta readers expect INT64 microsecond timestamps; Spark's INT96
        # default is deprecated in Parquet. The setting is per session, not per writer, in Spark.
        ts_type = spark.conf.get("spark.sql.parquet.outputTimestampType", "INT96")
        if (ts_type or "").upper() != "TIMESTAMP_MICROS":
            log.warning(
                "setting spark.sql.parquet.outputTimestampType=TIMESTAMP_MICROS (was %s): "
                "Delta readers need INT64 microsecond timestamps",
                ts_type,
            )
            spark.conf.set("spark.sql.parquet.outputTimestampType", "TIMESTAMP_MICROS")

    # ------------------------------------------------------------------ metadata and reads

    def exists(self, location: str) -> bool:
        return DeltaTable.is_deltatable(_local_path(location))

    def create(
        self,
        location: str,
        schema: StructType,
        *,
        partition_by: Sequence[str] = (),
        properties: Mapping[str, str] | None = None,
        description: str | None = None,
    ) -> bool:
        path = _local_path(location)
        props = dict(properties or {})
        check_new_table(location, schema, props)
        unknown = [c for c in partition_by if c not in schema.names]
        if unknown:
            raise DeltaTableError(
                f"create table {location}: partition columns {unknown} are not in the schema "
                f"(columns: {schema.names})"
            )
        if self.exists(location):
            return False
        try:
            # Spark TIMESTAMP is an instant: timestamp[us, UTC] keeps it one for every reader.
            arrow_schema = to_arrow_schema(schema, timezone="UTC")
        except Exception as exc:
            raise UnsupportedOperationError(
                f"create table {location}: the schema has a type Arrow/delta-rs cannot store: "
                f"{first_line(exc)}"
            ) from exc
        try:
            DeltaTable.create(
                path,
                arrow_schema,
                mode="error",
                partition_by=list(partition_by) or None,
                description=description,
                configuration=props or None,
            )
        except DeltaError as exc:
            if self.exists(location):  # another writer created it first
                return False
            raise DeltaTableError(f"create table {location}: {first_line(exc)}") from exc
        return True

    def read(self, location: str, version: int | None = None) -> DataFrame:
        path = _local_path(location)
        if version is not None:
            latest = self.version(location)
            if not 0 <= version <= latest:
                raise DeltaTableError(
                    f"read {location} as of version {version}: the table has versions 0 to {latest}"
                )
        dt = self._table(location, "read", version=version)
        self._check_readable(dt, location)
        schema = _spark_schema(dt)
        files = [a["abs"] for a in _add_actions(dt, path)]
        if not files:
            return self.spark.createDataFrame([], schema)
        return self._read_files(path, files, schema)

    def version(self, location: str) -> int:
        return self._table(location, "version", without_files=True).version()

    def history(self, location: str, limit: int | None = None) -> list[HistoryEntry]:
        dt = self._table(location, "history", without_files=True)
        try:
            commits = dt.history(limit)
        except DeltaError as exc:
            raise DeltaTableError(f"history of {location}: {first_line(exc)}") from exc
        return [
            HistoryEntry(
                version=int(c["version"]),
                timestamp_ms=as_int(c.get("timestamp")),
                operation=str(c.get("operation", "")),
                parameters=dict(c.get("operationParameters") or {}),
                metrics=dict(c.get("operationMetrics") or {}),
                user_metadata=c.get("userMetadata"),
            )
            for c in commits
        ]

    def transaction_version(self, location: str, app_id: str) -> int | None:
        return self._table(location, "transaction_version", without_files=True).transaction_version(
            app_id
        )

    # ------------------------------------------------------------------ writes

    def append(self, location: str, df: DataFrame, *, txn: Txn | None = None) -> WriteResult:
        dt = self._table(location, "append to")
        if self.already_written(location, txn):
            return self._skipped(location, dt)
        schema = _spark_schema(dt)
        df = df.select(
            *[quote(c) for c in conform_columns(location, "append to", schema, df.schema)]
        )
        partition_by = list(dt.metadata().partition_columns)
        staged = self._stage(location, df, partition_by)
        return self._append_staged(location, dt, schema, partition_by, staged, txn)

    def append_rows(
        self,
        location: str,
        rows: Sequence[Sequence[Any]],
        schema: StructType,
        *,
        txn: Txn | None = None,
    ) -> WriteResult:
        """Driver-side rows written as one Parquet file by pyarrow, then committed as
        :meth:`append` commits: no Spark job, which for a ledger row or a step's rule results
        took about a second. Partitioned tables, and column types beyond atomic ones and
        arrays of them, take the Spark path."""
        dt = self._table(location, "append to")
        if self.already_written(location, txn):
            return self._skipped(location, dt)
        table = self._arrow_rows(location, "append to", dt, rows, schema)
        if table is None:
            return super().append_rows(location, rows, schema, txn=txn)
        partition_by = list(dt.metadata().partition_columns)
        staged = self._stage_arrow(location, table)
        return self._append_staged(location, dt, _spark_schema(dt), partition_by, staged, txn)

    def merge_rows(
        self,
        location: str,
        rows: Sequence[Sequence[Any]],
        schema: StructType,
        *,
        keys: Sequence[str],
        txn: Txn | None = None,
    ) -> WriteResult:
        """Driver-side rows merged by delta-rs from an Arrow table: no Spark job (a run
        ledger's step outcome cost a staging write and a scan before). Same limits as
        :meth:`append_rows`."""
        dt = self._table(location, "merge into")
        if self.already_written(location, txn):
            return self._skipped(location, dt)
        check_keys(location, keys, _spark_schema(dt))
        table = self._arrow_rows(location, "merge into", dt, rows, schema)
        if table is None:
            return super().merge_rows(location, rows, schema, keys=keys, txn=txn)
        key_values = [tuple(r.values()) for r in table.select(list(keys)).to_pylist()]
        if len(set(key_values)) != len(key_values):
            raise DeltaTableError(
                f"merge into {location}: the source has key values occurring more than once "
                f"on keys {list(keys)}; deduplicate the source first"
            )
        before = dt.version()
        props, write_id = self._commit_properties(txn, "merge into")
        try:
            metrics = (
                dt.merge(
                    source=table,
                    predicate=key_predicate(keys),
                    source_alias="s",
                    target_alias="t",
                    commit_properties=props,
                )
                .when_matched_update_all()
                .when_not_matched_insert_all()
                .execute()
            )
        except DeltaError as exc:
            raise DeltaTableError(f"merge into {location}: {first_line(exc)}") from exc
        return WriteResult(
            table=location,
            version=_committed_version(dt, before, write_id),
            rows_written=sum(
                as_int(metrics.get(k)) or 0
                for k in ("num_target_rows_inserted", "num_target_rows_updated")
            ),
            files_added=as_int(metrics.get("num_target_files_added")),
            metrics=dict(metrics),
        )

    def _arrow_rows(
        self,
        location: str,
        operation: str,
        dt: DeltaTable,
        rows: Sequence[Sequence[Any]],
        schema: StructType,
    ) -> pa.Table | None:
        """Driver rows as an Arrow table in the table's column order and types, or None when
        the table is partitioned or has column types Arrow is not given here."""
        table_schema = _spark_schema(dt)
        if dt.metadata().partition_columns or not all(
            _arrow_writable(f.dataType) for f in schema.fields
        ):
            return None
        order = conform_columns(location, operation, table_schema, schema)
        position = {name: i for i, name in enumerate(schema.names)}
        # Every column nullable in the file: NOT NULL is checked from the footer, as for Spark's
        # files, so a null is refused with the same message naming the column.
        arrow_schema = pa.schema(
            [f.with_nullable(True) for f in to_arrow_schema(table_schema, timezone="UTC")]
        )
        arrays = []
        for name, arrow_field, spark_field in zip(
            order, arrow_schema, table_schema.fields, strict=True
        ):
            values = [row[position[name]] for row in rows]
            if isinstance(spark_field.dataType, TimestampType):
                # As Spark's createDataFrame does: a naive datetime is local time.
                values = [v.astimezone(UTC) if v is not None else None for v in values]
            arrays.append(pa.array(values, type=arrow_field.type))
        return pa.Table.from_arrays(arrays, schema=arrow_schema)

    def _append_staged(
        self,
        location: str,
        dt: DeltaTable,
        schema: StructType,
        partition_by: list[str],
        staged: _Staged,
        txn: Txn | None,
    ) -> WriteResult:
        try:
            self._check_not_null(location, "append to", schema, partition_by, staged)
            adds = self._move_into_table(location, staged)
            version = self._commit(location, "append to", dt, adds, "append", partition_by, txn)
        finally:
            _remove_tree(staged.root)
        return WriteResult(
            table=location,
            version=version,
            rows_written=staged.rows,
            files_added=len(adds),
            metrics={"num_added_files": len(adds), "num_added_rows": staged.rows},
        )

    def overwrite(
        self,
        location: str,
        df: DataFrame,
        *,
        predicate: str | None = None,
        txn: Txn | None = None,
    ) -> WriteResult:
        """Replace the table, or the rows matching ``predicate``, in one commit.

        With a predicate only on partition columns, whole partitions are replaced: Spark
        evaluates the predicate on the table's partition values and those files are removed.
        Otherwise a Spark scan finds the files holding matching rows; their other rows
        (predicate false or NULL) are rewritten next to ``df``, and one commit removes the old
        files and adds the new ones (files without matching rows are not touched). Old files
        stay on disk until vacuum, so time travel and concurrent readers are unaffected.

        delta-rs only accepts remove actions in an "append" commit, so a predicate overwrite
        shows in the history as ``WRITE`` with mode ``Append`` and the ``predicate`` parameter.
        """
        op = "overwrite" if predicate is None else f"overwrite where {predicate!r} in"
        dt = self._table(location, op)
        if self.already_written(location, txn):
            return self._skipped(location, dt)
        path = _local_path(location)
        schema = _spark_schema(dt)
        df = df.select(*[quote(c) for c in conform_columns(location, op, schema, df.schema)])
        partition_by = list(dt.metadata().partition_columns)
        staged = self._stage(location, df, partition_by)
        extra: _Staged | None = None
        try:
            self._check_not_null(location, op, schema, partition_by, staged)
            if predicate is None:
                adds = self._move_into_table(location, staged)
                version = self._commit(location, op, dt, adds, "overwrite", partition_by, txn)
                metrics: dict[str, Any] = {"num_added_files": len(adds)}
            else:
                self._check_rows_match(location, op, staged, schema, predicate)
                try:
                    removed, kept_from = self._files_to_replace(
                        dt, path, schema, partition_by, predicate
                    )
                    if kept_from:
                        kept = self._read_files(path, kept_from, schema).where(
                            f"({predicate}) IS NOT TRUE"
                        )
                        extra = self._stage(location, kept, partition_by)
                except AnalysisException as exc:
                    raise DeltaTableError(f"{op} {location}: {first_line(exc)}") from exc
                adds = self._move_into_table(location, staged)
                if extra is not None:
                    adds += self._move_into_table(location, extra)
                now = int(time.time() * 1000)
                removes = [
                    RemoveAction(
                        path=a["path"],
                        data_change=True,
                        deletion_timestamp=now,
                        size=a["size"],
                        partition_values=a["partition_values"],
                    )
                    for a in removed
                ]
                version = self._commit(
                    location,
                    op,
                    dt,
                    [*adds, *removes],
                    "append",
                    partition_by,
                    txn,
                    parameters={"predicate": predicate},
                )
                metrics = {
                    "num_added_files": len(adds),
                    "num_removed_files": len(removes),
                    "num_copied_rows": extra.rows if extra is not None else 0,
                }
        finally:
            _remove_tree(staged.root)
            if extra is not None:
                _remove_tree(extra.root)
        metrics["num_added_rows"] = staged.rows
        return WriteResult(
            table=location,
            version=version,
            rows_written=staged.rows,
            files_added=len(adds),
            metrics=metrics,
        )

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
        """Upsert through delta-rs's streamed MERGE, fed from Parquet that Spark writes.

        Why not ``source.toArrow()``: that collects the whole source into the driver's memory
        at once. Writing it to staging costs one parallel Spark write, after which the source
        is streamed to delta-rs in record batches with bounded memory, and the duplicate-key
        check scans those files instead of recomputing the source's lineage.
        """
        dt = self._table(location, "merge into")
        if self.already_written(location, txn):
            return self._skipped(location, dt)
        schema = _spark_schema(dt)
        check_keys(location, keys, schema)
        cols = conform_columns(location, "merge into", schema, source.schema)
        source = source.select(*[quote(c) for c in cols])
        staged = self._stage(location, source, ())
        before = dt.version()
        props, write_id = self._commit_properties(txn, "merge into")
        try:
            if staged.files:
                check_unique_keys(location, self.spark.read.parquet(_uri(staged.root)), keys)
            dataset = pa_ds.dataset(
                staged.root, format="parquet", schema=_nullable(pa.schema(dt.schema().to_arrow()))
            )
            try:
                merger = dt.merge(
                    source=dataset.scanner().to_reader(),
                    predicate=key_predicate(keys),
                    source_alias="s",
                    target_alias="t",
                    streamed_exec=True,
                    commit_properties=props,
                )
                if delete_condition:
                    merger = merger.when_matched_delete(predicate=delete_condition)
                merger = merger.when_matched_update_all(predicate=update_condition or None)
                if insert:
                    merger = merger.when_not_matched_insert_all()
                metrics = merger.execute()
            except DeltaError as exc:
                raise DeltaTableError(f"merge into {location}: {first_line(exc)}") from exc
        finally:
            _remove_tree(staged.root)
        changed = sum(
            as_int(metrics.get(k)) or 0
            for k in (
                "num_target_rows_inserted",
                "num_target_rows_updated",
                "num_target_rows_deleted",
            )
        )
        version = _committed_version(dt, before, write_id)
        if version == before and txn is not None:
            # delta-rs commits nothing when the source is empty; record the Txn regardless,
            # so a rerun is recognised like any other.
            partition_by = list(dt.metadata().partition_columns)
            version = self._commit(location, "merge into", dt, [], "append", partition_by, txn)
        return WriteResult(
            table=location,
            version=version,
            rows_written=changed,
            files_added=as_int(metrics.get("num_target_files_added")),
            metrics=dict(metrics),
        )

    # ------------------------------------------------------------------ maintenance

    def vacuum(self, location: str, retention_hours: int = 168) -> list[str]:
        """Delete files unreferenced for longer than the retention, and stale staging folders.

        ``full=True`` also removes files that were never committed (left by a writer killed
        between moving its files into the table and committing them). delta-rs refuses a
        retention below the table's ``delta.deletedFileRetentionDuration`` (one week unless
        set), as delta-spark does, because readers of older versions may still need the files.
        """
        dt = self._table(location, "vacuum")
        try:
            deleted = dt.vacuum(
                retention_hours=retention_hours,
                dry_run=False,
                enforce_retention_duration=True,
                full=True,
            )
        except DeltaError as exc:
            raise DeltaTableError(
                f"vacuum {location} (retain {retention_hours} hours): {first_line(exc)}"
            ) from exc
        return list(deleted) + self._remove_stale_staging(location, retention_hours)

    def optimize(self, location: str) -> Mapping[str, Any]:
        dt = self._table(location, "optimize")
        try:
            return dict(dt.optimize.compact())
        except DeltaError as exc:
            raise DeltaTableError(f"optimize {location}: {first_line(exc)}") from exc

    # ------------------------------------------------------------------ internals

    def _table(
        self,
        location: str,
        operation: str,
        *,
        version: int | None = None,
        without_files: bool = False,
    ) -> DeltaTable:
        path = _local_path(location)
        try:
            return DeltaTable(path, version=version, without_files=without_files)
        except RsTableNotFoundError as exc:
            raise TableNotFoundError(f"{operation} {location}: no Delta table there") from exc
        except DeltaError as exc:
            if not DeltaTable.is_deltatable(path):
                raise TableNotFoundError(f"{operation} {location}: no Delta table there") from exc
            raise DeltaTableError(f"{operation} {location}: {first_line(exc)}") from exc

    def _skipped(self, location: str, dt: DeltaTable) -> WriteResult:
        dt.update_incremental()
        return WriteResult(
            table=location, version=dt.version(), skipped=True, rows_written=0, files_added=0
        )

    def _check_readable(self, dt: DeltaTable, location: str) -> None:
        """Refuse tables whose files Spark's plain Parquet reader would misread.

        Deletion vectors hide rows that are still in the files, and column mapping gives
        columns physical names that differ from the schema; delta-rs writes neither, but a
        table written by another engine may use them.
        """
        mode = dt.metadata().configuration.get("delta.columnMapping.mode") or "none"
        if mode.lower() != "none":
            raise UnsupportedOperationError(
                f"read {location}: the table uses column mapping (mode {mode!r}), which the "
                "delta_rs adapter's Parquet read cannot resolve; use the delta_spark adapter"
            )
        features = set(dt.protocol().reader_features or [])
        if "deletionVectors" in features:
            for batch in dt.deletion_vectors():
                if batch.num_rows:
                    raise UnsupportedOperationError(
                        f"read {location}: files of the table carry deletion vectors, which the "
                        "delta_rs adapter's Parquet read would ignore; use the delta_spark "
                        "adapter or rewrite the table without deletion vectors"
                    )

    def _read_files(
        self, base: str, files: Sequence[str], schema: StructType, *, reorder: bool = True
    ) -> DataFrame:
        """Read Parquet files of a table (or staging folder) rooted at ``base``."""
        df = (
            self.spark.read.schema(schema)
            .option("basePath", _uri(base))
            .parquet(*[_uri(f, glob_escape=True) for f in files])
        )
        if not reorder:  # keeps the hidden _metadata column reachable
            return df
        # Spark appends partition columns after the data columns: restore the table's order.
        return df.select(*[quote(c) for c in schema.names])

    def _stage(self, location: str, df: DataFrame, partition_by: Sequence[str]) -> _Staged:
        root = os.path.join(_local_path(location), STAGING_DIR, uuid.uuid4().hex)
        writer = df.write.mode("error")
        if self.max_rows_per_file:
            writer = writer.option("maxRecordsPerFile", self.max_rows_per_file)
        if partition_by:
            writer = writer.partitionBy(*partition_by)
        try:
            writer.parquet(_uri(root))
        except Exception as exc:
            _remove_tree(root)
            raise DeltaTableError(
                f"write to {location}: Spark failed to write the data: {first_line(exc)}"
            ) from exc
        staged = _Staged(root)
        data_columns = [c for c in df.columns if c not in partition_by]
        for rel in _parquet_files(root):
            full = os.path.join(root, rel)
            md = pq.read_metadata(full)
            if md.num_rows == 0:
                continue  # Spark writes a schema-only file for empty input; the log needs none
            num, nulls, stats = _footer_stats(md, data_columns)
            staged.files.append(
                _StagedFile(rel, _partition_values(rel, partition_by, location), num, nulls, stats)
            )
        return staged

    def _stage_arrow(self, location: str, table: pa.Table) -> _Staged:
        """Write ``table`` (unpartitioned) as one Parquet file in a fresh staging folder."""
        root = os.path.join(_local_path(location), STAGING_DIR, uuid.uuid4().hex)
        os.makedirs(root)
        rel = f"part-00000-{uuid.uuid4()}-c000.snappy.parquet"
        try:
            pq.write_table(table, os.path.join(root, rel), compression="snappy")
        except Exception as exc:
            _remove_tree(root)
            raise DeltaTableError(
                f"write to {location}: could not write the rows: {first_line(exc)}"
            ) from exc
        staged = _Staged(root)
        if table.num_rows:
            num, nulls, stats = _footer_stats(
                pq.read_metadata(os.path.join(root, rel)), table.column_names
            )
            staged.files.append(_StagedFile(rel, {}, num, nulls, stats))
        return staged

    def _move_into_table(self, location: str, staged: _Staged) -> list[AddAction]:
        """Move staged files to their place in the table; return their add actions.

        Spark's file names carry a per-job UUID, so they never collide with existing files.
        """
        path = _local_path(location)
        adds: list[AddAction] = []
        moved: list[str] = []
        for f in staged.files:
            src = os.path.join(staged.root, f.rel_path)
            dst = os.path.join(path, f.rel_path)
            try:
                if os.path.exists(dst):
                    raise FileExistsError(dst)
                os.makedirs(os.path.dirname(dst), exist_ok=True)
                os.replace(src, dst)
            except OSError as exc:
                for done in moved:  # uncommitted, so nobody can be reading them
                    _remove_file(done)
                raise DeltaTableError(
                    f"write to {location}: could not move {src} into the table: {exc}"
                ) from exc
            moved.append(dst)
            st = os.stat(dst)
            adds.append(
                AddAction(
                    path=f.rel_path.replace(os.sep, "/"),
                    size=st.st_size,
                    partition_values=f.partition_values,
                    modification_time=int(st.st_mtime * 1000),
                    data_change=True,
                    stats=f.stats,
                )
            )
        return adds

    def _commit(
        self,
        location: str,
        operation: str,
        dt: DeltaTable,
        actions: Sequence[AddAction | RemoveAction],
        mode: str,
        partition_by: list[str],
        txn: Txn | None,
        parameters: Mapping[str, str] | None = None,
    ) -> int:
        """Commit the actions in one transaction; return the version it produced."""
        before = dt.version()
        props, write_id = self._commit_properties(txn, operation, parameters)
        try:
            dt.create_write_transaction(
                list(actions),
                mode=mode,
                schema=dt.schema(),
                partition_by=partition_by or None,
                commit_properties=props,
            )
        except DeltaError as exc:
            # Nothing references the files just moved in; remove them rather than leave junk.
            table_path = _local_path(location)
            for a in actions:
                if isinstance(a, AddAction):
                    _remove_file(os.path.join(table_path, a.path))
            raise DeltaTableError(
                f"{operation} {location}: commit failed: {first_line(exc)}"
            ) from exc
        return _committed_version(dt, before, write_id)

    def _commit_properties(
        self, txn: Txn | None, operation: str, parameters: Mapping[str, str] | None = None
    ) -> tuple[CommitProperties, str]:
        """Commit properties carrying the Txn (as a ``txn`` action) and a fresh write id."""
        write_id = uuid.uuid4().hex
        custom: dict[str, Any] = {"userMetadata": user_metadata(write_id, txn, operation=operation)}
        if parameters:
            custom["operationParameters"] = dict(parameters)
        props = CommitProperties(
            custom_metadata=custom,
            app_transactions=[Transaction(txn.app_id, txn.version)] if txn else None,
        )
        return props, write_id

    def _check_not_null(
        self,
        location: str,
        operation: str,
        schema: StructType,
        partition_by: Sequence[str],
        staged: _Staged,
    ) -> None:
        """Enforce NOT NULL columns from the footers Spark just wrote, without another job."""
        problems = []
        for f in schema.fields:
            if f.nullable:
                continue
            if f.name in partition_by:
                nulls = sum(
                    s.num_records for s in staged.files if s.partition_values[f.name] is None
                )
            else:
                nulls = sum(s.null_counts.get(f.name, 0) for s in staged.files)
            if nulls:
                problems.append(f"{f.name} ({nulls} nulls)")
        if problems:
            raise DeltaTableError(
                f"{operation} {location}: NOT NULL columns hold nulls: {', '.join(problems)}"
            )

    def _check_rows_match(
        self, location: str, op: str, staged: _Staged, schema: StructType, predicate: str
    ) -> None:
        """Every new row must satisfy the predicate, as Delta's replaceWhere requires.

        Otherwise rows would be written that a rerun of the same overwrite would not replace,
        and the write would not be idempotent. NULL counts as not satisfied.
        """
        if not staged.files:
            return
        files = [os.path.join(staged.root, f.rel_path) for f in staged.files]
        try:
            bad = (
                self.spark.read.schema(schema)
                .option("basePath", _uri(staged.root))
                .parquet(*[_uri(f, glob_escape=True) for f in files])
                .where(f"({predicate}) IS NOT TRUE")
                .limit(1)
                .count()
            )
        except AnalysisException as exc:
            raise DeltaTableError(f"{op} {location}: invalid predicate: {first_line(exc)}") from exc
        if bad:
            raise DeltaTableError(
                f"{op} {location}: the DataFrame has rows that do not "
                "satisfy the predicate (or make it NULL); with a predicate every new row must "
                "match it"
            )

    def _files_to_replace(
        self,
        dt: DeltaTable,
        table_path: str,
        schema: StructType,
        partition_by: Sequence[str],
        predicate: str,
    ) -> tuple[list[dict[str, Any]], list[str]]:
        """(add actions of the files to remove, files whose non-matching rows must be kept)."""
        actions = _add_actions(dt, table_path)
        if not actions:
            return [], []
        matching = self._matching_partitions(actions, schema, partition_by, predicate)
        if matching is not None:
            return [a for a in actions if _pv_key(a, partition_by) in matching], []
        by_path = {a["abs"]: a for a in actions}
        table = self._read_files(table_path, list(by_path), schema, reorder=False)
        rows = table.where(predicate).select("_metadata.file_path").distinct().collect()
        hit = [os.path.normpath(_path_from_uri(r[0])) for r in rows]
        unknown = [p for p in hit if p not in by_path]
        if unknown:
            raise DeltaTableError(
                f"overwrite {table_path}: Spark read files not in the snapshot: {unknown[:3]}"
            )
        return [by_path[p] for p in hit], hit

    def _matching_partitions(
        self,
        actions: list[dict[str, Any]],
        schema: StructType,
        partition_by: Sequence[str],
        predicate: str,
    ) -> set[tuple[str | None, ...]] | None:
        """The partitions ``predicate`` selects, or None when it is not about partitions only.

        Spark evaluates the predicate on a small DataFrame of the table's distinct partition
        values, typed as the table's partition columns, so SQL semantics are Spark's own. If
        the predicate names any other column, Spark cannot resolve it there; a scan of the
        predicate's words first avoids that failed analysis in the usual case.
        """
        if not partition_by or _mentions(predicate, set(schema.names) - set(partition_by)):
            return None
        values = sorted({_pv_key(a, partition_by) for a in actions}, key=repr)
        raw = self.spark.createDataFrame(
            values, StructType([StructField(c, StringType()) for c in partition_by])
        )
        typed = raw.selectExpr(
            *[
                f"CAST({quote(c)} AS {schema[c].dataType.simpleString()}) AS {quote(c)}"
                for c in partition_by
            ],
            *[f"{quote(c)} AS {quote('__raw_' + c)}" for c in partition_by],
        )
        try:
            selected = typed.where(predicate)
            rows = selected.select(*[quote("__raw_" + c) for c in partition_by]).collect()
        except AnalysisException:
            return None
        return {tuple(r) for r in rows}

    def _remove_stale_staging(self, location: str, retention_hours: int) -> list[str]:
        """Staging folders of writers that died before cleaning up, older than the retention."""
        root = os.path.join(_local_path(location), STAGING_DIR)
        if not os.path.isdir(root):
            return []
        cutoff = time.time() - retention_hours * 3600
        removed = []
        for entry in os.scandir(root):
            if entry.is_dir() and entry.stat().st_mtime <= cutoff:
                for dirpath, _, names in os.walk(entry.path):
                    removed += [
                        os.path.relpath(os.path.join(dirpath, n), _local_path(location))
                        for n in names
                    ]
                _remove_tree(entry.path)
        return removed


# ---------------------------------------------------------------------- helpers


def _local_path(location: str) -> str:
    """The absolute local path of a location given as a path or a ``file:`` URI."""
    if location.startswith("file:"):
        location = _path_from_uri(location)
    if re.match(r"^[A-Za-z][A-Za-z0-9+.-]*://", location):
        raise UnsupportedOperationError(
            f"table {location}: the delta_rs adapter only handles local paths; use the "
            "delta_spark adapter for object storage"
        )
    path = os.path.abspath(location)
    if "%" in path:
        raise UnsupportedOperationError(
            f"table {location}: delta-rs percent-decodes local table paths, so a path "
            "containing '%' cannot be used with the delta_rs adapter"
        )
    return path


def _path_from_uri(uri: str) -> str:
    return urllib.parse.unquote(urllib.parse.urlparse(uri).path) if ":" in uri[:8] else uri


def _uri(path: str, *, glob_escape: bool = False) -> str:
    """A ``file://`` URI Spark takes literally (Hadoop paths are not percent-decoded).

    Spark expands glob characters in read paths, so file names are escaped for reads.
    """
    if glob_escape:
        path = _GLOB_CHARS.sub(r"\\\1", path)
    return "file://" + path


def _spark_schema(dt: DeltaTable) -> StructType:
    """The table's schema as Spark sees it: Delta's schema JSON is Spark's StructType JSON."""
    return StructType.fromJson(json.loads(dt.schema().to_json()))


def _nullable(schema: pa.Schema) -> pa.Schema:
    """Spark marks every Parquet column optional; NOT NULL is checked by delta-rs on write."""
    return pa.schema([f.with_nullable(True) for f in schema])


def _add_actions(dt: DeltaTable, table_path: str) -> list[dict[str, Any]]:
    """The snapshot's files: decoded relative path (as AddAction/RemoveAction take it),
    absolute local path, size, and partition values as the log's strings.

    Paths are built here rather than taken from ``file_uris()``, which percent-encodes the
    table root but not the relative part when the location has special characters.
    """
    table = pa.table(dt.get_add_actions(flatten=False))
    rows = []
    for r in table.select(
        [c for c in ("path", "size_bytes", "partition") if c in table.column_names]
    ).to_pylist():
        rel = urllib.parse.unquote(r["path"])  # the log holds URI-encoded paths
        absolute = _path_from_uri(rel) if "://" in rel else os.path.join(table_path, rel)
        partition = r.get("partition") or {}
        rows.append(
            {
                "path": rel,
                "abs": os.path.normpath(absolute),
                "size": r["size_bytes"],
                "partition_values": {k: _partition_string(v) for k, v in partition.items()},
            }
        )
    return rows


def _partition_string(value: Any) -> str | None:
    """A partition value in the Delta log's string form (delta-rs hands them back typed)."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            value = value.astimezone(UTC).replace(tzinfo=None)
        return value.strftime("%Y-%m-%d %H:%M:%S.%f")
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def _committed_version(dt: DeltaTable, before: int, write_id: str) -> int:
    """The version of the commit carrying ``write_id``: delta-rs may have retried the commit
    at a later version after a concurrent writer's, so ``before + 1`` is not guaranteed."""
    dt.update_incremental()
    latest = dt.version()
    for commit in dt.history(max(latest - before, 1)):
        if parse_user_metadata(commit.get("userMetadata")).get("writeId") == write_id:
            return int(commit["version"])
    return latest


def _pv_key(action: Mapping[str, Any], partition_by: Sequence[str]) -> tuple[str | None, ...]:
    pv = action["partition_values"]
    return tuple(_none_if_null(pv.get(c)) for c in partition_by)


_SQL_STRING = re.compile(r"'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\"")
_SQL_WORD = re.compile(r"`((?:[^`]|``)+)`|([A-Za-z_][A-Za-z0-9_]*)")


def _mentions(predicate: str, columns: set[str]) -> bool:
    """Whether the SQL text may name one of ``columns`` (string literals aside; may say yes
    for a function or keyword spelled like a column, which only costs the slower path)."""
    text = _SQL_STRING.sub(" ", predicate)
    lowered = {c.lower() for c in columns}
    for quoted, bare in _SQL_WORD.findall(text):
        word = quoted.replace("``", "`") if quoted else bare
        if word.lower() in lowered:
            return True
    return False


def _none_if_null(value: Any) -> str | None:
    return None if value is None else str(value)


def _parquet_files(root: str) -> Iterator[str]:
    """Data files under ``root``, relative, skipping Spark's ``_SUCCESS`` and ``.crc`` files."""
    for dirpath, dirnames, names in os.walk(root):
        # Spark's rule: hidden unless it is a partition folder (`_col=value` is data).
        dirnames[:] = [d for d in dirnames if "=" in d or not d.startswith(("_", "."))]
        for name in sorted(names):
            if name.startswith(("_", ".")) or name.endswith(".crc"):
                continue
            yield os.path.relpath(os.path.join(dirpath, name), root)


def _partition_values(
    rel_path: str, partition_by: Sequence[str], location: str
) -> dict[str, str | None]:
    """Partition values from Spark's Hive-style folders (``k=v``, escaped, NULL as default)."""
    segments = rel_path.split(os.sep)[:-1]
    values: dict[str, str | None] = {}
    for seg in segments:
        key, sep, raw = seg.partition("=")
        if not sep:
            raise DeltaTableError(f"write to {location}: unexpected folder {seg!r} in {rel_path}")
        value = urllib.parse.unquote(raw)
        values[urllib.parse.unquote(key)] = None if value == HIVE_NULL else value
    if list(values) != list(partition_by):
        raise DeltaTableError(
            f"write to {location}: file {rel_path} has partition folders {list(values)}, "
            f"expected {list(partition_by)}"
        )
    return values


def _arrow_writable(data_type: DataType) -> bool:
    """Types :meth:`DeltaRsAdapter.append_rows` writes with pyarrow the way Spark would."""
    if isinstance(data_type, ArrayType):
        return _arrow_writable(data_type.elementType)
    return isinstance(data_type, _ARROW_ATOMIC)


def _footer_stats(
    md: pq.FileMetaData, data_columns: Sequence[str]
) -> tuple[int, dict[str, int], str]:
    """(row count, null counts, Delta stats JSON) from a Parquet footer.

    Only statistics that are exact are recorded: null counts, and min/max of integer, date
    and short string columns. Readers skip files using min/max, so a wrong bound would lose
    rows; timestamps, decimals and floats are left out because their JSON encodings are where
    engines disagree (millisecond truncation, NaN).
    """
    num = md.num_rows
    leaf = {md.schema.column(i).path: i for i in range(md.num_columns)}
    nulls: dict[str, int] = {}
    mins: dict[str, Any] = {}
    maxs: dict[str, Any] = {}
    for name in data_columns:
        idx = leaf.get(name)
        if idx is None or "." in name:
            continue  # nested column: no statistics
        col_schema = md.schema.column(idx)
        kind = _stat_kind(col_schema.physical_type, str(col_schema.logical_type))
        null_total: int | None = 0
        lo: Any = None
        hi: Any = None
        bounds_ok = kind is not None
        for rg in range(md.num_row_groups):
            chunk = md.row_group(rg).column(idx)
            st = chunk.statistics
            if st is None or not st.has_null_count:
                null_total = None
                bounds_ok = False
                break
            null_total = (null_total or 0) + st.null_count
            if not bounds_ok or st.null_count == chunk.num_values:
                continue
            if not st.has_min_max:
                bounds_ok = False
                continue
            lo = st.min if lo is None else min(lo, st.min)
            hi = st.max if hi is None else max(hi, st.max)
        if null_total is not None:
            nulls[name] = null_total
        if bounds_ok and lo is not None and hi is not None:
            encoded = _encode_bound(lo), _encode_bound(hi)
            if all(v is not None for v in encoded):
                mins[name], maxs[name] = encoded
    stats: dict[str, Any] = {"numRecords": num, "nullCount": nulls}
    if mins:
        stats["minValues"] = mins
        stats["maxValues"] = maxs
    return num, nulls, json.dumps(stats)


def _stat_kind(physical: str, logical: str) -> str | None:
    if physical in ("INT32", "INT64") and (
        logical in ("None", "NONE") or logical.startswith("Int")
    ):
        return None if "isSigned=false" in logical else "int"
    if physical == "INT32" and logical == "Date":
        return "date"
    if physical == "BYTE_ARRAY" and logical == "String":
        return "string"
    return None


def _encode_bound(value: Any) -> Any:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, str):
        return value if len(value) <= _MAX_STAT_STRING else None
    return None


def _remove_tree(path: str) -> None:
    shutil.rmtree(path, ignore_errors=True)
    parent = os.path.dirname(path)
    if os.path.basename(parent) == STAGING_DIR:
        with contextlib.suppress(OSError):
            os.rmdir(parent)  # only when empty: other writers may be staging


def _remove_file(path: str) -> None:
    try:
        os.remove(path)
    except OSError:
        log.warning("could not remove uncommitted file %s", path)
