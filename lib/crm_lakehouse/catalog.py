"""What the lake holds, read from the Delta logs alone, and its entries for a Spark metastore.

:func:`list_tables` describes every table (version, rows, last commit time, description) with
delta-rs, without Spark or a JVM: the row count is the sum of the ``numRecords`` statistics of
the snapshot's files (Parquet footers when a file has no statistics), never a scan.

:func:`register_statements` builds the ``CREATE TABLE ... USING delta LOCATION`` statements that
make the lake's tables visible to SQL users of a cluster's metastore, and :func:`register` runs
them on a Spark session that has Delta support (the Delta Spark connector, or a Spark Connect
server with native Delta such as Sail). Each table becomes ``<database>.<tier>_<table>`` in one
database (``crm_lakehouse`` unless told otherwise): one database keeps the whole lake together
in a metastore and the tier prefix keeps the names unique and sorted by tier.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.compute as pc
import yaml

from crm_lakehouse.config import load_yaml
from crm_lakehouse.errors import (
    ConfigError,
    DeltaTableError,
    EnvironmentCheckError,
    TableNotFoundError,
)
from crm_lakehouse.lake import Lake, Tier, split_name

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

DEFAULT_DATABASE = "crm_lakehouse"


@dataclass(frozen=True)
class TableInfo:
    """One table of the lake as its Delta log describes it."""

    table: str  # tier.table
    location: str
    version: int | None
    rows: int | None
    files: int | None
    size_bytes: int | None
    last_updated: dt.datetime | None  # the latest commit's timestamp (UTC)
    description: str | None  # the Delta table description, else the contract's
    error: str | None = None  # why the log could not be read (the other facts are then None)

    def as_json(self) -> dict[str, Any]:
        out = asdict(self)
        out["last_updated"] = self.last_updated.isoformat() if self.last_updated else None
        return out


def list_tables(
    lake: Lake, *, tiers: Iterable[Tier] | None = None, contracts_dir: Path | None = None
) -> list[TableInfo]:
    """Every table of ``lake`` (optionally only of ``tiers``), sorted by tier then name.

    A table whose Delta description is empty takes its contract's description when
    ``contracts_dir`` holds one (``contracts/<tier>/<table>.yaml``). A table whose log cannot
    be read is listed with the reason in ``error`` rather than hiding the others.
    """
    wanted = {Tier(t) for t in tiers} if tiers is not None else set(Tier)
    out = []
    for name in lake.tables():
        if split_name(name)[0] not in wanted:
            continue
        try:
            out.append(table_info(lake, name, contracts_dir=contracts_dir))
        except DeltaTableError as exc:
            out.append(
                TableInfo(name, lake.location(name), None, None, None, None, None, None, str(exc))
            )
    return out


def table_info(lake: Lake, table: str, *, contracts_dir: Path | None = None) -> TableInfo:
    """The facts of one table, from its Delta log (and files' footers when stats are missing)."""
    from deltalake import DeltaTable
    from deltalake.exceptions import DeltaError
    from deltalake.exceptions import TableNotFoundError as RsTableNotFoundError

    location = lake.location(table)
    try:
        delta = DeltaTable(location)
        version = delta.version()
        description = delta.metadata().description or None
        adds = pa.table(delta.get_add_actions(flatten=False)).select(["size_bytes", "num_records"])
        history = delta.history(1)
    except RsTableNotFoundError as exc:
        raise TableNotFoundError(f"{table}: no Delta table at {location}") from exc
    except DeltaError as exc:
        raise DeltaTableError(
            f"{table}: cannot read the Delta log at {location}: {message_line(exc)}"
        ) from exc
    records = adds.column("num_records")
    if records.null_count:  # a writer left some files without statistics: count from footers
        rows = delta.to_pyarrow_dataset().count_rows()
    else:
        rows = int(pc.sum(records).as_py() or 0)
    stamp = history[0].get("timestamp") if history else None
    return TableInfo(
        table=table,
        location=location,
        version=version,
        rows=rows,
        files=adds.num_rows,
        size_bytes=int(pc.sum(adds.column("size_bytes")).as_py() or 0),
        last_updated=dt.datetime.fromtimestamp(stamp / 1000, dt.UTC) if stamp else None,
        description=description
        or (_contract_description(contracts_dir, table) if contracts_dir else None),
    )


def message_line(exc: BaseException) -> str:
    """An exception's first message line: delta-rs appends a Rust backtrace to some messages."""
    lines = [line.strip() for line in str(exc).strip().splitlines() if line.strip()]
    return lines[0] if lines else type(exc).__name__


def _contract_description(contracts_dir: Path, table: str) -> str | None:
    """The table description in ``contracts/<tier>/<table>.yaml``, for display only.

    Reads just the ODCS ``schema[0].description`` (else ``description.purpose``) without
    validating the file, so listing tables needs neither Spark nor Great Expectations;
    ``lakehouse contracts lint`` is where contracts are checked.
    """
    tier, name = split_name(table)
    path = contracts_dir / tier.value / f"{name}.yaml"
    if not path.is_file():
        return None
    try:
        data = load_yaml(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError):
        return None
    if not isinstance(data, dict):
        return None
    schema = data.get("schema")
    if isinstance(schema, list) and schema and isinstance(schema[0], dict):
        text = schema[0].get("description")
        if isinstance(text, str) and text.strip():
            return " ".join(text.split())
    contract = data.get("description")
    if isinstance(contract, dict) and isinstance(contract.get("purpose"), str):
        return " ".join(contract["purpose"].split())
    return None


def render_tables(tables: Sequence[TableInfo], *, max_description: int = 72) -> str:
    """An aligned listing: table, version, rows, last update (UTC), description."""
    headers = ("table", "version", "rows", "last update (UTC)", "description")
    rows = [
        (
            t.table,
            "?" if t.version is None else str(t.version),
            "?" if t.rows is None else f"{t.rows:,}",
            t.last_updated.strftime("%Y-%m-%d %H:%M:%S") if t.last_updated else "",
            f"ERROR: {t.error}" if t.error else _shorten(t.description or "", max_description),
        )
        for t in tables
    ]
    widths = [max([len(h)] + [len(r[i]) for r in rows]) for i, h in enumerate(headers)]
    right = (False, True, True, False, False)

    def line(values: Sequence[str]) -> str:
        cells = [
            v.rjust(w) if r else v.ljust(w) for v, w, r in zip(values, widths, right, strict=True)
        ]
        return "  " + "  ".join(cells).rstrip()

    return "\n".join([line(headers)] + [line(r) for r in rows])


def _shorten(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


# ---------------------------------------------------------------------- metastore entries


def catalog_name(table: str) -> str:
    """The metastore name of a lake table: ``silver.companies`` -> ``silver_companies``."""
    tier, name = split_name(table)
    return f"{tier.value}_{name}"


def register_statements(
    lake: Lake, database: str = DEFAULT_DATABASE, *, tables: Iterable[str] | None = None
) -> list[str]:
    """``CREATE DATABASE`` then one ``CREATE TABLE IF NOT EXISTS <database>.<tier>_<table>
    USING delta LOCATION '<location>'`` per table (every table of the lake by default).

    The statements are idempotent: an entry that exists is left alone. The table's schema,
    partitioning and description come from its Delta log, so none is repeated here.
    """
    from crm_lakehouse.delta._common import quote, sql_string

    if not database or not database.strip():
        raise ConfigError("--database: the database name is empty")
    names = list(tables) if tables is not None else lake.tables()
    statements = [f"CREATE DATABASE IF NOT EXISTS {quote(database)}"]
    statements += [
        f"CREATE TABLE IF NOT EXISTS {quote(database)}.{quote(catalog_name(t))} "
        f"USING delta LOCATION {sql_string(lake.location(t))}"
        for t in names
    ]
    return statements


def register(spark: SparkSession, statements: Sequence[str]) -> None:
    """Run the statements of :func:`register_statements` on ``spark``.

    Refuses a classic session without the Delta Spark connector before running anything:
    ``USING delta`` would fail there (and ``CREATE DATABASE`` would already have run).
    """
    from crm_lakehouse.delta._common import first_line, has_delta_extension, is_connect_session

    if not (is_connect_session(spark) or has_delta_extension(spark)):
        raise EnvironmentCheckError(
            "registering tables needs a Spark session with Delta support (the Delta Spark "
            "connector, e.g. --env cluster under spark-submit with --packages "
            "io.delta:delta-spark_2.13:4.4.1); this session has none. "
            "`lakehouse register --print` prints the statements to run elsewhere"
        )
    for sql in statements:
        try:
            spark.sql(sql).collect()
        except Exception as exc:
            raise DeltaTableError(
                f"register: the statement failed: {sql}\n  {first_line(exc)}"
            ) from exc
