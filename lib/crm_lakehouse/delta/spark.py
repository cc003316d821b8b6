"""The cluster Delta adapter: the engine's own Delta support, through SQL and DataFrame I/O only.

No ``delta.tables.DeltaTable`` Python API and no ``sparkContext``/JVM access, so the same code
runs on a classic session with the Delta Spark connector (``--packages io.delta:delta-spark``)
and over Spark Connect, including against engines with native Delta support such as Sail
(``pysail``), which the contract tests use because the connector's jars cannot be fetched here.

What differs between engines, and how this adapter copes:

* **Idempotency.** The Delta Spark connector records a Txn natively: writer options
  ``txnAppId``/``txnVersion``, and for MERGE the session confs
  ``spark.databricks.delta.write.txnAppId``/``txnVersion``. Other engines ignore them (Sail
  does, silently). So every write also stores the Txn in the commit's ``userMetadata`` (JSON),
  and :meth:`transaction_version` reads both ``txn`` actions and that metadata straight from
  the table's ``_delta_log`` with the DataFrame reader. MERGE can only carry userMetadata
  through a session conf that Sail ignores, so a MERGE with a Txn on such an engine raises
  :class:`UnsupportedOperationError` rather than pretend to be idempotent.
* **replaceWhere.** The connector refuses rows that do not match the predicate; Sail writes
  them. Without the connector the adapter checks the rows itself first.
* **SQL the engine lacks** (``CREATE TABLE delta.`path```, ``DESCRIBE HISTORY``, ``VACUUM``,
  ``OPTIMIZE`` on Sail): create falls back to writing an empty DataFrame, history falls back
  to the log's commitInfo, and vacuum/optimize raise :class:`UnsupportedOperationError` naming
  the operation, the table and the engine's message.

``native_txn`` says whether the engine is the Delta Spark connector, i.e. honours the txn
options and checks replaceWhere rows. Default: True for a classic session (which needs the
connector to use this adapter at all); for a Spark Connect session, True only when the server
reports the Delta SQL extension in ``spark.sql.extensions``. Pass True for Databricks Connect.

Log reading assumes path-based tables whose commits are files in ``_delta_log`` (no
catalog-managed/coordinated commits). The MERGE session confs make concurrent writes from
other threads of the same session unsafe while a MERGE runs.
"""

from __future__ import annotations

import json
import logging
import re
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pyspark.errors import AnalysisException
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql.types import StructType

from crm_lakehouse.delta._common import (
    as_int,
    check_keys,
    check_new_table,
    check_unique_keys,
    conform_columns,
    first_line,
    has_delta_extension,
    is_connect_session,
    key_predicate,
    parse_user_metadata,
    quote,
    sql_string,
    txn_from_user_metadata,
    user_metadata,
)
from crm_lakehouse.delta.port import DeltaPort, HistoryEntry, Txn, WriteResult
from crm_lakehouse.errors import DeltaTableError, TableNotFoundError, UnsupportedOperationError

log = logging.getLogger(__name__)

_COMMIT = re.compile(r"(?:^|/)(\d{20})\.json$")
_CHECKPOINT = re.compile(r"(?:^|/)(\d{20})\.checkpoint(?:\.[^/]*)?\.(parquet|json)$")
# How engines say "I do not have this statement/feature" (Spark's parser, Sail's parser, a
# missing Delta data source, Sail reading delta.`path` as database "delta").
_LACKS = re.compile(
    r"PARSE_SYNTAX_ERROR|found \S+ at \d+:\d+ expected|UNSUPPORTED|not supported|"
    r"Database not found: delta|SCHEMA_NOT_FOUND.*delta|DATA_SOURCE_NOT_FOUND|"
    r"Failed to find the data source: delta",
    re.IGNORECASE | re.DOTALL,
)
_LACKS_TYPES = {"ParseException", "UnsupportedOperationException"}

_MERGE_TXN_APP = "spark.databricks.delta.write.txnAppId"
_MERGE_TXN_VERSION = "spark.databricks.delta.write.txnVersion"
_COMMIT_METADATA = "spark.databricks.delta.commitInfo.userMetadata"


@dataclass(frozen=True)
class _LogFiles:
    commits: dict[int, str]  # version -> file name
    checkpoints: dict[int, list[str]]  # version -> file names (multi-part or v2)

    @property
    def latest(self) -> int | None:
        versions = list(self.commits) + list(self.checkpoints)
        return max(versions) if versions else None


class DeltaSparkAdapter(DeltaPort):
    """Delta through the engine's own support: ``format("delta")``, ``MERGE INTO``, SQL."""

    name = "delta_spark"

    def __init__(self, spark: SparkSession, *, native_txn: bool | None = None) -> None:
        super().__init__(spark)
        if native_txn is None:
            native_txn = not is_connect_session(spark) or has_delta_extension(spark)
        self.native_txn = native_txn

    # ------------------------------------------------------------------ metadata and reads

    def exists(self, location: str) -> bool:
        return self._log_files(location).latest is not None

    def create(
        self,
        location: str,
        schema: StructType,
        *,
        partition_by: Sequence[str] = (),
        properties: Mapping[str, str] | None = None,
        description: str | None = None,
    ) -> bool:
        """Create with ``CREATE TABLE delta.`path```, the only way the Delta Spark connector
        stores table properties and a description for a path table; on engines without that
        statement (Sail), write an empty DataFrame with ``format("delta")`` instead, passing
        the properties as writer options (Sail stores ``delta.*`` options as table properties).
        Such engines have no way to store a description: it is then kept in the create
        commit's userMetadata and a warning is logged."""
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
        columns = ", ".join(
            f"{quote(f.name)} {f.dataType.simpleString()}{'' if f.nullable else ' NOT NULL'}"
            for f in schema.fields
        )
        sql = f"CREATE TABLE {self._table_ref(location)} ({columns}) USING DELTA"
        if partition_by:
            sql += f" PARTITIONED BY ({', '.join(quote(c) for c in partition_by)})"
        if description:
            sql += f" COMMENT {sql_string(description)}"
        if props:
            sql += (
                " TBLPROPERTIES ("
                + ", ".join(f"{sql_string(k)} = {sql_string(v)}" for k, v in props.items())
                + ")"
            )
        try:
            self.spark.sql(sql).collect()
            return True
        except Exception as exc:
            if self.exists(location):  # lost a race with another creator
                return False
            if not _engine_lacks(exc):
                raise self._translate(exc, "create table", location) from exc
        writer = self.spark.createDataFrame([], schema).write.format("delta").mode("error")
        if partition_by:
            writer = writer.partitionBy(*partition_by)
        for key, value in props.items():
            writer = writer.option(key, value)
        if description:
            log.warning(
                "create table %s: the engine cannot store a table description; it is kept in "
                "the create commit's userMetadata only",
                location,
            )
            writer = writer.option(
                "userMetadata", user_metadata(uuid.uuid4().hex, None, description=description)
            )
        try:
            writer.save(location)
        except Exception as exc:
            if self.exists(location):
                return False
            raise self._translate(exc, "create table", location) from exc
        return True

    def read(self, location: str, version: int | None = None) -> DataFrame:
        latest = self._require(location, "read")
        if version is not None and not 0 <= version <= latest:
            raise DeltaTableError(
                f"read {location} as of version {version}: the table has versions 0 to {latest}"
            )
        reader = self.spark.read.format("delta")
        if version is not None:
            reader = reader.option("versionAsOf", version)
        try:
            df = reader.load(location)
            _ = df.columns  # analyse now (Spark Connect is lazy) so errors surface here
        except Exception as exc:
            what = "read" if version is None else f"read as of version {version}"
            raise self._translate(exc, what, location) from exc
        return df

    def version(self, location: str) -> int:
        return self._require(location, "version of")

    def history(self, location: str, limit: int | None = None) -> list[HistoryEntry]:
        """``DESCRIBE HISTORY``, or the log's commitInfo actions where the engine lacks it
        (the statement reads the same actions, so the entries agree)."""
        self._require(location, "history of")
        sql = f"DESCRIBE HISTORY {self._table_ref(location)}"
        if limit is not None:
            sql += f" LIMIT {int(limit)}"
        try:
            rows = (
                self.spark.sql(sql)
                .selectExpr(
                    "version",
                    "unix_millis(timestamp) AS ts_ms",
                    "operation",
                    "operationParameters",
                    "operationMetrics",
                    "userMetadata",
                )
                .collect()
            )
        except Exception as exc:
            if not _engine_lacks(exc):
                raise self._translate(exc, "history of", location) from exc
            return self._history_from_log(location, limit)
        return [
            HistoryEntry(
                version=int(r["version"]),
                timestamp_ms=as_int(r["ts_ms"]),
                operation=str(r["operation"]),
                parameters=dict(r["operationParameters"] or {}),
                metrics=dict(r["operationMetrics"] or {}),
                user_metadata=r["userMetadata"],
            )
            for r in rows
        ]

    def transaction_version(self, location: str, app_id: str) -> int | None:
        """The highest version recorded for ``app_id``: from ``txn`` actions in the latest
        checkpoint and in the commits, and from the Txn this adapter puts in userMetadata.

        userMetadata lives only in commit files, so on engines without native txn options a
        rerun is recognised for as long as the log keeps that commit (log retention, 30 days
        by default)."""
        files = self._log_files(location)
        if files.latest is None:
            raise TableNotFoundError(f"transaction_version of {location}: no Delta table there")
        seen: list[int] = []
        json_files = [*files.commits.values()]
        parquet_parts: list[str] = []
        if files.checkpoints:
            last = files.checkpoints[max(files.checkpoints)]
            json_files += [n for n in last if n.endswith(".json")]
            parquet_parts = [n for n in last if n.endswith(".parquet")]
        fields = {"meta": "$.commitInfo.userMetadata", "txn": "$.txn"}
        for _, f in self._log_fields(location, json_files, fields):
            txn = json.loads(f["txn"]) if f["txn"] else {}
            if txn.get("appId") == app_id and isinstance(txn.get("version"), int):
                seen.append(txn["version"])
            found = txn_from_user_metadata(f["meta"])
            if found and found[0] == app_id:
                seen.append(found[1])
        if parquet_parts:
            seen += self._checkpoint_txns(location, parquet_parts, app_id)
        return max(seen) if seen else None

    # ------------------------------------------------------------------ writes

    def append(self, location: str, df: DataFrame, *, txn: Txn | None = None) -> WriteResult:
        return self._write(location, df, "append", None, txn)

    def overwrite(
        self,
        location: str,
        df: DataFrame,
        *,
        predicate: str | None = None,
        txn: Txn | None = None,
    ) -> WriteResult:
        return self._write(location, df, "overwrite", predicate, txn)

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
        """``MERGE INTO delta.`path``` from a temporary view of ``source``.

        The duplicate-key check runs a Spark job over ``source`` before the MERGE; persist
        the source first if its lineage is expensive.
        """
        op = "merge into"
        before = self._require(location, op)
        if self.already_written(location, txn):
            return self._skipped(location)
        if txn is not None and not self.native_txn:
            raise UnsupportedOperationError(
                f"{op} {location} with txn {txn.app_id!r} v{txn.version}: this engine does not "
                "record an app transaction (nor userMetadata) in a MERGE commit, so the merge "
                "cannot be made idempotent; merge without a txn, or use the Delta Spark "
                "connector (native_txn=True)"
            )
        schema = self._schema(location, op)
        check_keys(location, keys, schema)
        cols = conform_columns(location, op, schema, source.schema)
        source = source.select(*[quote(c) for c in cols])
        check_unique_keys(location, source, keys)
        view = f"crm_lakehouse_merge_source_{uuid.uuid4().hex}"
        sql = f"MERGE INTO {self._table_ref(location)} AS t USING {view} AS s ON {key_predicate(keys)}"
        if delete_condition:
            sql += f" WHEN MATCHED AND ({delete_condition}) THEN DELETE"
        sql += " WHEN MATCHED"
        if update_condition:
            sql += f" AND ({update_condition})"
        sql += " THEN UPDATE SET *"
        if insert:
            sql += " WHEN NOT MATCHED THEN INSERT *"
        write_id = uuid.uuid4().hex
        confs = {_COMMIT_METADATA: user_metadata(write_id, txn, operation=op)}
        if txn is not None:
            confs[_MERGE_TXN_APP] = txn.app_id
            confs[_MERGE_TXN_VERSION] = str(txn.version)
        source.createOrReplaceTempView(view)
        try:
            for key, value in confs.items():
                self.spark.conf.set(key, value)
            self.spark.sql(sql).collect()
        except Exception as exc:
            raise self._translate(exc, op, location) from exc
        finally:
            for key in confs:
                self.spark.conf.unset(key)
            self.spark.catalog.dropTempView(view)
        return self._result(location, before, write_id, txn, merge=True)

    # ------------------------------------------------------------------ maintenance

    def vacuum(self, location: str, retention_hours: int = 168) -> list[str]:
        """``VACUUM ... DRY RUN`` lists the files, then ``VACUUM`` deletes them (the real run
        only reports the table path). The connector refuses a retention below the table's
        ``delta.deletedFileRetentionDuration`` unless its retention check is turned off."""
        self._require(location, "vacuum")
        base = f"VACUUM {self._table_ref(location)} RETAIN {int(retention_hours)} HOURS"
        try:
            files = [str(r[0]) for r in self.spark.sql(base + " DRY RUN").collect()]
            self.spark.sql(base).collect()
        except Exception as exc:
            raise self._translate(
                exc, f"vacuum (retain {retention_hours} hours)", location
            ) from exc
        return files

    def optimize(self, location: str) -> Mapping[str, Any]:
        self._require(location, "optimize")
        try:
            rows = self.spark.sql(f"OPTIMIZE {self._table_ref(location)}").collect()
        except Exception as exc:
            raise self._translate(exc, "optimize", location) from exc
        if not rows:
            return {}
        row = rows[0].asDict(recursive=True)
        metrics = row.get("metrics")
        return dict(metrics) if isinstance(metrics, dict) else row

    # ------------------------------------------------------------------ internals

    def _write(
        self,
        location: str,
        df: DataFrame,
        mode: str,
        predicate: str | None,
        txn: Txn | None,
    ) -> WriteResult:
        op = {"append": "append to", "overwrite": "overwrite"}[mode]
        if predicate is not None:
            op = f"overwrite where {predicate!r} in"
        before = self._require(location, op)
        if self.already_written(location, txn):
            return self._skipped(location)
        schema = self._schema(location, op)
        df = df.select(*[quote(c) for c in conform_columns(location, op, schema, df.schema)])
        if predicate is not None and not self.native_txn:
            self._check_rows_match(location, op, df, predicate)
        write_id = uuid.uuid4().hex
        writer = (
            df.write.format("delta")
            .mode(mode)
            .option("userMetadata", user_metadata(write_id, txn, operation=op))
        )
        if predicate is not None:
            # Delta deletes the rows where the predicate is true; Sail also deletes those where
            # it is NULL, so other engines get the NULL-safe form of the same predicate.
            where = predicate if self.native_txn else f"({predicate}) IS TRUE"
            writer = writer.option("replaceWhere", where)
        if txn is not None and self.native_txn:
            writer = writer.option("txnAppId", txn.app_id).option("txnVersion", str(txn.version))
        try:
            writer.save(location)
        except Exception as exc:
            raise self._translate(exc, op, location) from exc
        return self._result(location, before, write_id, txn, merge=False)

    def _check_rows_match(self, location: str, op: str, df: DataFrame, predicate: str) -> None:
        """What the connector's replaceWhere does natively: every new row must satisfy the
        predicate (NULL does not), or a rerun of the overwrite would not replace it."""
        try:
            bad = df.where(f"({predicate}) IS NOT TRUE").limit(1).count()
        except AnalysisException as exc:
            raise DeltaTableError(f"{op} {location}: invalid predicate: {first_line(exc)}") from exc
        if bad:
            raise DeltaTableError(
                f"{op} {location}: the DataFrame has rows that do not satisfy the predicate "
                "(or make it NULL); with a predicate every new row must match it"
            )

    def _result(
        self, location: str, before: int, write_id: str, txn: Txn | None, *, merge: bool
    ) -> WriteResult:
        """Find the commit this write produced (by the write id in its userMetadata) and
        report its version and metrics."""
        files = self._log_files(location)
        new = {v: n for v, n in files.commits.items() if v > before}
        commits = self._commit_infos(location, list(new.values()))
        ours = [
            v
            for v, info in commits.items()
            if parse_user_metadata(info.get("userMetadata")).get("writeId") == write_id
        ]
        if not ours and merge and len(commits) == 1:
            ours = list(commits)  # the engine dropped our userMetadata (Sail's MERGE)
        if not ours:
            latest = files.latest if files.latest is not None else before
            # The connector skips a write whose txn a concurrent writer committed meanwhile.
            skipped = txn is not None and self.native_txn
            return WriteResult(table=location, version=latest, skipped=skipped, rows_written=0)
        version = ours[0]
        metrics = dict(commits[version].get("operationMetrics") or {})
        if merge:
            rows = sum(
                as_int(metrics.get(k)) or 0
                for k in ("numTargetRowsInserted", "numTargetRowsUpdated", "numTargetRowsDeleted")
            )
            files_added = as_int(metrics.get("numTargetFilesAdded"))
        else:
            rows = as_int(metrics.get("numOutputRows")) or 0
            files_added = as_int(metrics.get("numAddedFiles", metrics.get("numFiles")))
        return WriteResult(
            table=location,
            version=version,
            rows_written=rows,
            files_added=files_added,
            metrics=metrics,
        )

    def _skipped(self, location: str) -> WriteResult:
        return WriteResult(
            table=location,
            version=self.version(location),
            skipped=True,
            rows_written=0,
            files_added=0,
        )

    def _require(self, location: str, operation: str) -> int:
        """The table's current version, or TableNotFoundError."""
        latest = self._log_files(location).latest
        if latest is None:
            raise TableNotFoundError(f"{operation} {location}: no Delta table there")
        return latest

    def _schema(self, location: str, operation: str) -> StructType:
        try:
            return self.spark.read.format("delta").load(location).schema
        except Exception as exc:
            raise self._translate(exc, operation, location) from exc

    def _table_ref(self, location: str) -> str:
        return f"delta.{quote(location)}"

    def _log_dir(self, location: str) -> str:
        return location.rstrip("/") + "/_delta_log"

    def _log_files(self, location: str) -> _LogFiles:
        """Commit and checkpoint files in the log, listed with the binaryFile reader (only the
        path column is read, so no file content moves)."""
        try:
            paths = [
                str(r[0])
                for r in self.spark.read.format("binaryFile")
                .load(self._log_dir(location))
                .select("path")
                .collect()
            ]
        except AnalysisException as exc:
            if "PATH_NOT_FOUND" in str(exc) or "does not exist" in str(exc).lower():
                return _LogFiles({}, {})
            raise self._translate(exc, "list the log of", location) from exc
        commits: dict[int, str] = {}
        checkpoints: dict[int, list[str]] = {}
        for path in paths:
            name = path.rsplit("/", 1)[-1]
            if m := _COMMIT.search(path):
                commits[int(m.group(1))] = name
            elif m := _CHECKPOINT.search(path):
                checkpoints.setdefault(int(m.group(1)), []).append(name)
        return _LogFiles(commits, checkpoints)

    def _log_fields(
        self, location: str, names: Sequence[str], fields: Mapping[str, str]
    ) -> list[tuple[int, dict[str, str | None]]]:
        """Pull JSON paths out of the log files ``names``: one (version, {field: raw JSON or
        string}) per action line where any field is present. Lines are split and filtered by
        the engine, so only the wanted actions reach the driver."""
        if not names:
            return []
        log_dir = self._log_dir(location)
        extract = [
            f"get_json_object(line, {sql_string(p)}) AS {quote(k)}" for k, p in fields.items()
        ]
        any_present = " OR ".join(f"{quote(k)} IS NOT NULL" for k in fields)
        try:
            rows = (
                self.spark.read.format("binaryFile")
                .load([f"{log_dir}/{n}" for n in names])
                .selectExpr("path", "explode(split(cast(content AS STRING), '\\n')) AS line")
                .selectExpr("path", *extract)
                .where(any_present)
                .collect()
            )
        except Exception as exc:
            raise self._translate(exc, "read the log of", location) from exc
        out = []
        for r in rows:
            name = str(r["path"]).rsplit("/", 1)[-1]
            version = int(name[:20]) if name[:20].isdigit() else -1
            out.append((version, {k: r[k] for k in fields}))
        return out

    def _commit_infos(self, location: str, names: Sequence[str]) -> dict[int, dict[str, Any]]:
        return {
            v: json.loads(f["info"])
            for v, f in self._log_fields(location, names, {"info": "$.commitInfo"})
            if f["info"]
        }

    def _checkpoint_txns(self, location: str, names: Sequence[str], app_id: str) -> list[int]:
        log_dir = self._log_dir(location)
        try:
            rows = (
                self.spark.read.parquet(*[f"{log_dir}/{n}" for n in names])
                .where(f"txn IS NOT NULL AND txn.appId = {sql_string(app_id)}")
                .selectExpr("txn.version AS version")
                .collect()
            )
        except AnalysisException as exc:
            if "txn" in str(exc):  # a checkpoint written without any txn column
                return []
            raise self._translate(exc, "read the checkpoint of", location) from exc
        return [int(r["version"]) for r in rows]

    def _history_from_log(self, location: str, limit: int | None) -> list[HistoryEntry]:
        files = self._log_files(location)
        versions = sorted(files.commits, reverse=True)
        if limit is not None:
            versions = versions[:limit]
        entries = []
        for version, info in self._commit_infos(
            location, [files.commits[v] for v in versions]
        ).items():
            entries.append(
                HistoryEntry(
                    version=version,
                    timestamp_ms=as_int(info.get("inCommitTimestamp", info.get("timestamp"))),
                    operation=str(info.get("operation", "")),
                    parameters=dict(info.get("operationParameters") or {}),
                    metrics=dict(info.get("operationMetrics") or {}),
                    user_metadata=info.get("userMetadata"),
                )
            )
        return sorted(entries, key=lambda e: e.version, reverse=True)

    def _translate(self, exc: BaseException, operation: str, location: str) -> DeltaTableError:
        """Our error for an engine's exception: UnsupportedOperationError when the engine
        lacks the statement or feature, DeltaTableError otherwise; never a raw py4j/grpc one."""
        engine = "Spark Connect server" if is_connect_session(self.spark) else "Spark"
        message = f"{operation} {location}: the {engine} reports: {first_line(exc)}"
        if isinstance(exc, DeltaTableError):
            return exc
        if _engine_lacks(exc):
            return UnsupportedOperationError(
                f"{operation} {location} is not supported by this engine ({engine}): "
                f"{first_line(exc)}"
            )
        return DeltaTableError(message)


def _engine_lacks(exc: BaseException) -> bool:
    return type(exc).__name__ in _LACKS_TYPES or bool(_LACKS.search(str(exc)))
