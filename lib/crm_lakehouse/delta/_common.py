"""Rules both Delta adapters share, so the two behave the same under the contract tests.

Everything here is engine-neutral: schema checks, the rules on which table features the lake
allows, the JSON the adapters put in a commit's ``userMetadata``, and SQL quoting. Nothing here
touches storage.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql.types import DataType, StructType, TimestampNTZType

from crm_lakehouse.delta.port import Txn
from crm_lakehouse.errors import DeltaTableError, UnsupportedOperationError

DELTA_EXTENSION = "io.delta.sql.DeltaSparkSessionExtension"

# Key under which the adapters record their own facts in a commit's userMetadata (JSON). Other
# writers' userMetadata is left alone and ignored when it is not JSON or lacks this key.
METADATA_KEY = "crm_lakehouse"

# Table properties that turn on features the lake must not use: Spark cannot read delta-rs tables
# through plain Parquet when files carry deletion vectors or physical column names, and delta-rs
# cannot write row tracking, identity columns or clustering (ARCHITECTURE.md, Engine and storage).
_FORBIDDEN_PROPERTIES: dict[str, set[str]] = {
    "delta.enableDeletionVectors": {"false"},
    "delta.columnMapping.mode": {"none"},
    "delta.enableRowTracking": {"false"},
}


def is_connect_session(spark: SparkSession) -> bool:
    """True for a Spark Connect session, without importing the Connect client (grpc) eagerly."""
    return type(spark).__module__.startswith("pyspark.sql.connect")


def has_delta_extension(spark: SparkSession) -> bool:
    """True when the session is configured with the Delta Spark connector's SQL extension."""
    try:
        extensions = spark.conf.get("spark.sql.extensions", "") or ""
    except Exception:  # a Connect server may refuse to show static confs
        return False
    return DELTA_EXTENSION in extensions


def quote(name: str) -> str:
    """Backtick-quote an identifier; both Spark SQL and delta-rs (DataFusion) accept backticks."""
    return "`" + name.replace("`", "``") + "`"


def sql_string(value: str) -> str:
    """A SQL string literal (single quotes, backslash and quote escaped)."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def in_predicate(column: str, values: Sequence[str]) -> str:
    """``<column> IN (<values>)``: the predicate of a write that replaces the rows of some key
    values (``FALSE`` for none)."""
    if not values:
        return "FALSE"
    return f"{quote(column)} IN ({', '.join(sql_string(v) for v in values)})"


def key_predicate(keys: Sequence[str]) -> str:
    """The merge ON clause: equality of every key between target ``t`` and source ``s``."""
    return " AND ".join(f"t.{quote(k)} = s.{quote(k)}" for k in keys)


def check_keys(location: str, keys: Sequence[str], schema: StructType) -> None:
    if not keys:
        raise DeltaTableError(f"merge into {location}: at least one key column is required")
    missing = [k for k in keys if k not in schema.names]
    if missing:
        raise DeltaTableError(
            f"merge into {location}: key columns {missing} are not in the table "
            f"(columns: {schema.names})"
        )


def check_new_table(location: str, schema: StructType, properties: Mapping[str, str]) -> None:
    """Refuse what the lake's rules forbid before anything is written.

    Timestamps without time zone: Spark cannot read such columns in delta-rs tables
    (delta-rs #2882), so either engine's tables must stay readable by the other.
    """
    ntz = [f.name for f in schema.fields if _contains_ntz(f.dataType)]
    if ntz:
        raise UnsupportedOperationError(
            f"create table {location}: columns {ntz} are timestamp without time zone "
            "(TIMESTAMP_NTZ); this lake only allows TIMESTAMP (UTC instants), because Spark "
            "cannot read delta-rs tables with timestamp_ntz columns (delta-rs #2882)"
        )
    for key, allowed in _FORBIDDEN_PROPERTIES.items():
        value = properties.get(key)
        if value is not None and value.strip().lower() not in allowed:
            raise UnsupportedOperationError(
                f"create table {location}: table property {key}={value!r} enables a Delta feature "
                f"this lake does not use (allowed values: {sorted(allowed)})"
            )


def _contains_ntz(dt: DataType) -> bool:
    if isinstance(dt, TimestampNTZType):
        return True
    return any(_contains_ntz(child) for child in _children(dt))


def _children(dt: DataType) -> list[DataType]:
    from pyspark.sql.types import ArrayType, MapType

    if isinstance(dt, StructType):
        return [f.dataType for f in dt.fields]
    if isinstance(dt, ArrayType):
        return [dt.elementType]
    if isinstance(dt, MapType):
        return [dt.keyType, dt.valueType]
    return []


def conform_columns(
    location: str, operation: str, table: StructType, found: StructType
) -> list[str]:
    """Check ``found`` (a DataFrame's schema) against the table's and return the table's column
    order, so the caller can select the DataFrame's columns by name.

    Names must match exactly and types must be equal (nullability and field metadata aside):
    a silent cast or a dropped column would corrupt the table, so any difference is an error
    that lists every problem at once.
    """
    expected = {f.name: f.dataType for f in table.fields}
    actual = {f.name: f.dataType for f in found.fields}
    problems: list[str] = []
    duplicated = sorted({n for n in found.names if found.names.count(n) > 1})
    if duplicated:
        problems.append(f"duplicate columns {duplicated}")
    missing = [n for n in table.names if n not in actual]
    if missing:
        problems.append(f"missing columns {missing}")
    extra = [n for n in found.names if n not in expected]
    if extra:
        problems.append(f"unexpected columns {extra}")
    retyped = [
        f"{n} (expected {expected[n].simpleString()}, found {actual[n].simpleString()})"
        for n in table.names
        if n in actual and expected[n].simpleString() != actual[n].simpleString()
    ]
    if retyped:
        problems.append(f"columns of another type: {', '.join(retyped)}")
    if problems:
        raise DeltaTableError(
            f"{operation} {location}: the DataFrame does not match the table's schema: "
            + "; ".join(problems)
            + f". Table columns: {[f'{f.name} {f.dataType.simpleString()}' for f in table.fields]}"
        )
    return list(table.names)


def user_metadata(write_id: str, txn: Txn | None, **facts: Any) -> str:
    """The JSON the adapters store as a commit's ``userMetadata``.

    It carries the Txn so that engines without Delta's ``txn`` writer options can still make a
    rerun a no-op (see :func:`txn_from_user_metadata`), and a write id so the adapter can find
    the commit its own write produced even when other writers commit concurrently.
    """
    body: dict[str, Any] = {"writeId": write_id}
    if txn is not None:
        body["txn"] = {"appId": txn.app_id, "version": txn.version}
    body.update({k: v for k, v in facts.items() if v is not None})
    return json.dumps({METADATA_KEY: body}, sort_keys=True)


def parse_user_metadata(value: str | None) -> dict[str, Any]:
    """This package's facts from a commit's userMetadata, or {} for anyone else's."""
    if not value:
        return {}
    try:
        body = json.loads(value)
    except ValueError:
        return {}
    if not isinstance(body, dict):
        return {}
    ours = body.get(METADATA_KEY)
    return ours if isinstance(ours, dict) else {}


def txn_from_user_metadata(value: str | None) -> tuple[str, int] | None:
    txn = parse_user_metadata(value).get("txn")
    if not isinstance(txn, dict):
        return None
    app_id, version = txn.get("appId"), txn.get("version")
    if isinstance(app_id, str) and isinstance(version, int):
        return app_id, version
    return None


def first_line(exc: BaseException, limit: int = 400) -> str:
    """An engine exception's message, short enough for our own error message."""
    text = [t.strip(" :") for t in str(exc).strip().splitlines() if t.strip(" :")]
    if len(text) > 1 and text[0].startswith("An error occurred while calling"):
        text = text[1:]  # py4j's wrapper line says nothing; the Java exception follows
    line = text[0] if text else type(exc).__name__
    return line if len(line) <= limit else line[: limit - 3] + "..."


def as_int(value: Any) -> int | None:
    """Engine metrics arrive as ints (delta-rs, Sail) or strings (delta-spark)."""
    if value is None:
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def check_unique_keys(location: str, source: DataFrame, keys: Sequence[str]) -> None:
    """Merge sources must be unique on the keys: several source rows for one target row is
    what Delta's MERGE refuses, and which of them would win is arbitrary. Rows with a NULL
    key never match, so they are not counted. Costs one Spark job over ``source``."""
    not_null = " AND ".join(f"{quote(k)} IS NOT NULL" for k in keys)
    dups = source.where(not_null).groupBy(*[quote(k) for k in keys]).count().where("`count` > 1")
    examples = dups.limit(3).collect()
    if examples:
        n = dups.count()
        shown = "; ".join(", ".join(f"{k}={r[k]!r}" for k in keys) for r in examples)
        raise DeltaTableError(
            f"merge into {location}: the source has {n} key value(s) occurring more than once "
            f"on keys {list(keys)} (e.g. {shown}); deduplicate the source first"
        )
