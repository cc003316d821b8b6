"""Bronze: every delivered row, as delivered, append-only, with ingestion metadata.

Values are kept as the strings that were delivered; typing happens in Silver, where a bad value
becomes a null plus a reason instead of a lost row. For each file:

* CSV is read by its own header (``enforceSchema=false``), so reordered columns land in the
  right place; declared columns missing from the file are null; columns the registry does not
  declare are *rescued* into ``_rescued`` as a JSON object instead of being dropped.
* JSONL is read as text and parsed with ``from_json``; unknown top-level keys and unknown keys
  of the nested ``properties`` object are rescued the same way.
* Malformed rows (wrong column count, invalid JSON) are kept, with the raw text in
  ``_corrupt_record`` (Spark's PERMISSIVE mode; never DROPMALFORMED, which loses rows). A CSV
  line with an unterminated quote is read leniently (the rest of the line becomes the value)
  and kept, but Spark's parser does not flag it.
* Spark decodes invalid UTF-8 as U+FFFD without telling anyone; ``_bad_encoding`` flags it.

Every row gets ``_source_file`` (relative to the landing folder), ``_delivery_date``,
``_run_id``, ``_ingested_at`` and ``_row_hash`` (SHA-256 of the delivered content).
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import (
    BooleanType,
    StringType,
    StructField,
    StructType,
    TimestampType,
)

from crm_lakehouse.delta.port import DeltaPort, Txn
from crm_lakehouse.errors import IngestError
from crm_lakehouse.ingest.landing import LandingFile, discover, entity_format
from crm_lakehouse.lake import Lake
from crm_lakehouse.ops.ledger import FileLedger, IngestedFile
from crm_lakehouse.sources import Entity, FileFormat

CORRUPT = "_corrupt_record"
REPLACEMENT_CHAR = "\ufffd"

METADATA_FIELDS: tuple[StructField, ...] = (
    StructField(CORRUPT, StringType()),
    StructField("_rescued", StringType()),
    StructField("_bad_encoding", BooleanType(), False),
    StructField("_source_file", StringType(), False),
    StructField("_delivery_date", StringType(), False),
    StructField("_run_id", StringType(), False),
    StructField("_ingested_at", TimestampType(), False),
    StructField("_row_hash", StringType(), False),
)
PARTITION_BY = ("_delivery_date",)


def bronze_table(entity: Entity) -> str:
    return f"bronze.{entity.table}"


def data_schema(entity: Entity) -> StructType:
    """The delivered fields of ``entity``, all strings (nested ``properties`` for JSONL)."""
    fields = [StructField(c, StringType()) for c in entity.columns]
    if entity.nested_field:
        nested = StructType([StructField(c, StringType()) for c in entity.nested])
        fields.append(StructField(entity.nested_field, nested))
    return StructType(fields)


def bronze_schema(entity: Entity) -> StructType:
    return StructType([*data_schema(entity).fields, *METADATA_FIELDS])


@dataclass(frozen=True)
class FileResult:
    file: LandingFile
    rows_read: int
    rows_appended: int
    malformed: int
    bad_encoding: int
    missing_columns: tuple[str, ...]
    extra_columns: tuple[str, ...]
    duplicate_of: str | None = None


@dataclass
class IngestReport:
    date: str
    run_id: str
    files: list[FileResult] = field(default_factory=list)
    table_versions: dict[str, int] = field(default_factory=dict)
    already_recorded: list[str] = field(default_factory=list)
    """Files of this date already in the ledger (a rerun); neither appended nor recorded."""

    @property
    def rows_appended(self) -> int:
        return sum(f.rows_appended for f in self.files)

    @property
    def rows_read(self) -> int:
        return sum(f.rows_read for f in self.files)


# --------------------------------------------------------------------------- pure transforms


def read_csv_file(spark: SparkSession, file: LandingFile) -> DataFrame:
    """One CSV file as delivered: header columns as strings plus the corrupt-record column."""
    schema = StructType(
        [StructField(h, StringType()) for h in file.header] + [StructField(CORRUPT, StringType())]
    )
    return (
        spark.read.schema(schema)
        .option("header", True)
        .option("enforceSchema", False)
        .option("mode", "PERMISSIVE")
        .option("columnNameOfCorruptRecord", CORRUPT)
        .option("escape", '"')  # RFC 4180: a quote inside a quoted field is doubled
        .option("multiLine", False)
        .option("encoding", "UTF-8")
        .csv(str(file.path))
    )


def conform_csv(df: DataFrame, entity: Entity, header: Sequence[str]) -> DataFrame:
    """Project a delivered CSV frame onto the declared columns; rescue undeclared ones."""
    extras = [h for h in header if h not in entity.columns]
    declared = [
        (F.col(f"`{c}`") if c in header else F.lit(None).cast(StringType())).alias(c)
        for c in entity.columns
    ]
    rescued = (
        F.to_json(F.create_map(*[x for h in extras for x in (F.lit(h), F.col(f"`{h}`"))]))
        if extras
        else F.lit(None).cast(StringType())
    )
    content = F.concat_ws(
        "\u0001",
        *[F.coalesce(F.col(f"`{h}`"), F.lit("\u0000")) for h in header],
        F.coalesce(F.col(CORRUPT), F.lit("")),
    )
    every_text = [F.col(f"`{h}`") for h in header] + [F.col(CORRUPT)]
    return df.select(
        *declared,
        F.col(CORRUPT),
        rescued.alias("_rescued"),
        _has_replacement_char(every_text).alias("_bad_encoding"),
        F.sha2(content, 256).alias("_row_hash"),
    )


def read_jsonl_file(spark: SparkSession, file: LandingFile) -> DataFrame:
    """One JSONL file as lines of text (blank lines are not records).

    The text reader keeps invalid UTF-8 bytes as they are; they are flagged in ``raw_invalid``
    and replaced by U+FFFD, because Parquet strings must be valid UTF-8 for other readers.
    """
    lines = spark.read.text(str(file.path)).where(F.trim("value") != "")
    return lines.select(
        F.make_valid_utf8("value").alias("value"), (~F.is_valid_utf8("value")).alias("raw_invalid")
    )


def conform_jsonl(lines: DataFrame, entity: Entity) -> DataFrame:
    """Parse JSON lines against the declared fields; rescue unknown keys; keep bad lines."""
    schema = StructType([*data_schema(entity).fields, StructField(CORRUPT, StringType())])
    parsed = F.from_json(
        "value", schema, {"mode": "PERMISSIVE", "columnNameOfCorruptRecord": CORRUPT}
    )
    as_map = F.from_json("value", "map<string,string>")
    known_top = F.array(
        *[
            F.lit(c)
            for c in (*entity.columns, *([entity.nested_field] if entity.nested_field else []))
        ]
    )
    top_extra = F.map_filter(as_map, lambda k, _v: ~F.array_contains(known_top, k))
    rescued_map: Column = top_extra
    if entity.nested_field:
        nested_map = F.from_json(as_map[entity.nested_field], "map<string,string>")
        known_nested = F.array(*[F.lit(c) for c in entity.nested])
        nested_extra = F.transform_keys(
            F.map_filter(nested_map, lambda k, _v: ~F.array_contains(known_nested, k)),
            lambda k, _v: F.concat(F.lit(f"{entity.nested_field}."), k),
        )
        rescued_map = F.map_concat(
            top_extra, F.coalesce(nested_extra, F.create_map().cast("map<string,string>"))
        )
    rows = lines.select("value", "raw_invalid", parsed.alias("r"), rescued_map.alias("rescued"))
    corrupt = F.when(F.col("r").isNull() | F.col(f"r.{CORRUPT}").isNotNull(), F.col("value"))
    columns = [F.col(f"r.{c}").alias(c) for c in entity.columns]
    if entity.nested_field:
        columns.append(F.col(f"r.{entity.nested_field}").alias(entity.nested_field))
    return rows.select(
        *columns,
        corrupt.alias(CORRUPT),
        F.when(F.size("rescued") > 0, F.to_json("rescued")).alias("_rescued"),
        (F.col("raw_invalid") | _has_replacement_char([F.col("value")])).alias("_bad_encoding"),
        F.sha2(F.col("value"), 256).alias("_row_hash"),
    )


def _has_replacement_char(columns: Sequence[Column]) -> Column:
    return F.coalesce(F.concat_ws("", *columns).contains(REPLACEMENT_CHAR), F.lit(False))


def with_ingest_metadata(
    df: DataFrame, *, source_file: str, delivery_date: str, run_id: str, ingested_at: dt.datetime
) -> DataFrame:
    return df.select(
        *[c for c in df.columns if c not in ("_bad_encoding", "_row_hash", "_rescued", CORRUPT)],
        F.col(CORRUPT),
        F.col("_rescued"),
        F.col("_bad_encoding"),
        F.lit(source_file).alias("_source_file"),
        F.lit(delivery_date).alias("_delivery_date"),
        F.lit(run_id).alias("_run_id"),
        F.lit(ingested_at).cast(TimestampType()).alias("_ingested_at"),
        F.col("_row_hash"),
    )


def read_file(spark: SparkSession, file: LandingFile) -> DataFrame:
    """A landing file conformed to its entity's declared columns (no metadata yet)."""
    if entity_format(file.entity) is FileFormat.CSV:
        return conform_csv(read_csv_file(spark, file), file.entity, file.header)
    return conform_jsonl(read_jsonl_file(spark, file), file.entity)


# --------------------------------------------------------------------------- the step


def ingest(
    spark: SparkSession,
    port: DeltaPort,
    lake: Lake,
    landing: Path,
    date: str,
    run_id: str,
    ingested_at: dt.datetime | None = None,
) -> IngestReport:
    """Append every new file delivered for ``date`` to its Bronze table.

    A file already in ``ops.ingested_files`` (a rerun) is skipped; a new file whose content
    hash is known (the same content delivered again under another name) is recorded once as a
    duplicate and not appended. So a rerun adds nothing to Bronze or to the file ledger.
    Each Bronze write carries a transaction id derived from the files' hashes, so a run that
    died between the Bronze commit and the ledger commit does not append twice on rerun.
    """
    ingested_at = ingested_at or dt.datetime.now(dt.UTC)
    ledger = FileLedger(port, lake)
    report = IngestReport(date=date, run_id=run_id)
    files = discover(landing, date)
    seen, recorded_paths = ledger.known()
    by_table: dict[str, list[LandingFile]] = {}
    duplicates: list[FileResult] = []
    first_of_hash: dict[str, LandingFile] = {}
    for f in files:
        if _relative(f.path, landing) in recorded_paths:
            report.already_recorded.append(_relative(f.path, landing))
            continue  # a rerun: this file is in the ledger already (ingested or duplicate)
        earlier = seen.get(f.content_hash) or (
            _relative(first_of_hash[f.content_hash].path, landing)
            if f.content_hash in first_of_hash
            else None
        )
        if earlier is not None:
            duplicates.append(FileResult(f, f.data_lines, 0, 0, 0, (), (), duplicate_of=earlier))
            continue
        first_of_hash[f.content_hash] = f
        by_table.setdefault(bronze_table(f.entity), []).append(f)

    for table, table_files in by_table.items():
        results, version = _ingest_table(
            spark, port, lake, landing, table, table_files, date, run_id, ingested_at
        )
        report.files.extend(results)
        report.table_versions[table] = version
    report.files.extend(duplicates)
    ledger.record(
        [
            IngestedFile(
                content_hash=r.file.content_hash,
                source_file=_relative(r.file.path, landing),
                source=r.file.entity.source,
                entity=r.file.entity.name,
                bronze_table=bronze_table(r.file.entity),
                delivery_date=date,
                run_id=run_id,
                ingested_at=ingested_at,
                size_bytes=r.file.size_bytes,
                rows_read=r.rows_read,
                rows_appended=r.rows_appended,
                malformed_rows=r.malformed,
                bad_encoding_rows=r.bad_encoding,
                missing_columns=list(r.missing_columns),
                extra_columns=list(r.extra_columns),
                status="duplicate" if r.duplicate_of else "ingested",
                duplicate_of=r.duplicate_of,
            )
            for r in report.files
        ],
        txn=Txn(f"ledger:{date}:{_batch_id(report.files)}") if report.files else None,
    )
    return report


def _ingest_table(
    spark: SparkSession,
    port: DeltaPort,
    lake: Lake,
    landing: Path,
    table: str,
    files: list[LandingFile],
    date: str,
    run_id: str,
    ingested_at: dt.datetime,
) -> tuple[list[FileResult], int]:
    entity = files[0].entity
    location = lake.location(table)
    port.create(
        location,
        bronze_schema(entity),
        partition_by=PARTITION_BY,
        description=f"Bronze: {entity.table} rows as delivered",
    )
    frames = [
        with_ingest_metadata(
            read_file(spark, f),
            source_file=_relative(f.path, landing),
            delivery_date=date,
            run_id=run_id,
            ingested_at=ingested_at,
        )
        for f in files
    ]
    df = frames[0]
    for other in frames[1:]:
        df = df.unionByName(other)
    df = df.persist()
    try:
        counts = {
            r["_source_file"]: (r["rows"], r["malformed"], r["bad"])
            for r in df.groupBy("_source_file")
            .agg(
                F.count(F.lit(1)).alias("rows"),
                F.count(CORRUPT).alias("malformed"),
                F.count(F.when(F.col("_bad_encoding"), 1)).alias("bad"),
            )
            .collect()
        }
        results = []
        for f in files:
            rel = _relative(f.path, landing)
            rows, malformed, bad = counts.get(rel, (0, 0, 0))
            if rows != f.data_lines:
                raise IngestError(
                    f"{f.path}: Spark read {rows} rows but the file has {f.data_lines} "
                    f"non-blank data lines; refusing to append a partial file"
                )
            missing = tuple(c for c in f.entity.columns if f.header and c not in f.header)
            extra = tuple(h for h in f.header if h not in f.entity.columns)
            results.append(FileResult(f, rows, rows, malformed, bad, missing, extra))
        result = port.append(location, df, txn=Txn(f"bronze:{date}:{_batch_id_files(files)}"))
        if (
            not result.skipped
            and result.rows_written is not None
            and result.rows_written != sum(r.rows_read for r in results)
        ):
            raise IngestError(
                f"{table}: appended {result.rows_written} rows but read "
                f"{sum(r.rows_read for r in results)} from {[str(f.path) for f in files]}"
            )
        return results, result.version
    finally:
        df.unpersist()


def _relative(path: Path, landing: Path) -> str:
    try:
        return path.resolve().relative_to(landing.resolve()).as_posix()
    except ValueError:
        return path.as_posix()


def _batch_id_files(files: Sequence[LandingFile]) -> str:
    return hashlib.sha256("".join(sorted(f.content_hash for f in files)).encode()).hexdigest()[:16]


def _batch_id(results: Sequence[FileResult]) -> str:
    return _batch_id_files([r.file for r in results])
