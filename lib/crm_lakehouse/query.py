"""SQL over the lake for analysts, without a JVM: DuckDB over the tables' Arrow datasets.

Tables are named as everywhere else in the project, ``<tier>.<table>`` (``gold.pipeline_summary``,
``silver.companies``, ``ops.runs``): the connection has one DuckDB schema per tier, and each table
a query mentions is registered there as a view over ``deltalake.DeltaTable(location)
.to_pyarrow_dataset()`` (the current snapshot, read by delta-rs) the first time it is needed, so
a query only opens the tables it reads. Only single read-only statements run (``SELECT``, ``WITH``,
``FROM t``, ``VALUES``, ``DESCRIBE``, ``SUMMARIZE``); anything else is refused before DuckDB sees it.

Neither Spark nor the JVM is involved, so ``lakehouse query`` answers in well under a second on
small tables. Typical use::

    with LakeQuery(Lake(settings.paths.lake)) as q:
        result = q.fetch("SELECT stage, sum(amount) FROM gold.pipeline_summary GROUP BY 1", limit=50)
        print(render_table(result))
        q.write("SELECT * FROM silver.companies", Path("companies.parquet"), OutputFormat.PARQUET)
"""

from __future__ import annotations

import datetime as dt
import decimal
import enum
import json
import re
import shutil
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import IO, Any

import duckdb
import pyarrow as pa

from crm_lakehouse.catalog import message_line
from crm_lakehouse.errors import QueryError
from crm_lakehouse.lake import Lake, Tier, split_name

DEFAULT_LIMIT = 50  # rows printed as a table unless told otherwise
MAX_CELL = 48  # characters of one printed value before it is cut with an ellipsis

# DuckDB statement types a query may be: plain SELECT covers WITH, FROM-first, VALUES,
# DESCRIBE, SUMMARIZE and SHOW. Everything else (CREATE, COPY, INSTALL, ATTACH, ...) is refused.
_ALLOWED_STATEMENTS = frozenset({duckdb.StatementType.SELECT})


class OutputFormat(enum.StrEnum):
    TABLE = "table"
    CSV = "csv"
    PARQUET = "parquet"


_EXTENSIONS = {
    ".csv": OutputFormat.CSV,
    ".parquet": OutputFormat.PARQUET,
    ".pq": OutputFormat.PARQUET,
}


def format_for(path: Path | None, explicit: OutputFormat | None) -> OutputFormat:
    """The output format: ``explicit`` if given, else by ``path``'s extension, else a table."""
    if explicit is not None:
        if explicit is OutputFormat.PARQUET and path is None:
            raise QueryError("--format parquet writes a file: give it with --out FILE")
        return explicit
    if path is None:
        return OutputFormat.TABLE
    try:
        return _EXTENSIONS[path.suffix.lower()]
    except KeyError:
        raise QueryError(
            f"--out {path}: cannot tell the format from the extension {path.suffix or '(none)'!r} "
            f"(known: {sorted(_EXTENSIONS)}); pass --format csv|parquet|table"
        ) from None


@dataclass(frozen=True)
class QueryResult:
    """The first rows of a query's result, and how many rows it has in all."""

    columns: tuple[str, ...]
    types: tuple[pa.DataType, ...]
    rows: tuple[tuple[Any, ...], ...]
    total_rows: int

    @property
    def truncated(self) -> bool:
        return self.total_rows > len(self.rows)


class LakeQuery:
    """A DuckDB connection over one lake; close it (or use it as a context manager) when done."""

    def __init__(self, lake: Lake) -> None:
        self.lake = lake
        self._known = lake.tables()
        self._registered: set[str] = set()
        self.con = duckdb.connect(":memory:")
        # Timestamps in the lake are UTC instants; show them in UTC whatever the machine's zone.
        # No extension downloads: a query over the lake never needs one, and it must not hang on
        # the network when someone tries read_csv('https://...').
        self.con.execute("SET TimeZone = 'UTC'")
        self.con.execute("SET autoinstall_known_extensions = false")
        for tier in Tier:
            self.con.execute(f"CREATE SCHEMA {_ident(tier.value)}")

    # ------------------------------------------------------------------ context manager

    def __enter__(self) -> LakeQuery:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        self.con.close()

    # ------------------------------------------------------------------ queries

    def fetch(self, sql: str, limit: int | None = DEFAULT_LIMIT) -> QueryResult:
        """Run ``sql``; keep its first ``limit`` rows (all when None) and count the rest."""
        query = self.prepare(sql)
        rel = self._relation(query, sql)
        kept: list[pa.RecordBatch] = []
        kept_rows = total = 0
        try:
            with rel.to_arrow_reader(batch_size=max(limit or 0, 2048)) as reader:
                schema = reader.schema
                for batch in reader:
                    total += batch.num_rows
                    room = batch.num_rows if limit is None else limit - kept_rows
                    if room > 0:
                        kept.append(batch.slice(0, room))
                        kept_rows += min(room, batch.num_rows)
        except duckdb.Error as exc:
            raise _query_error(exc, sql, self._known) from exc
        table = pa.Table.from_batches(kept, schema=schema)
        return QueryResult(
            columns=tuple(schema.names),
            types=tuple(schema.types),
            rows=tuple(tuple(r.values()) for r in table.to_pylist()),
            total_rows=total,
        )

    def write(self, sql: str, out: Path | IO[str], fmt: OutputFormat) -> int:
        """Write every row of ``sql``'s result as CSV (with a header) or Parquet; return the
        number of rows. ``out`` is a path, or a text stream for CSV (e.g. stdout)."""
        if fmt is OutputFormat.TABLE:
            raise ValueError("write() writes csv or parquet; render_table() prints a table")
        query = self.prepare(sql)
        if isinstance(out, Path):
            out.parent.mkdir(parents=True, exist_ok=True)
            return self._copy(query, sql, out, fmt)
        if fmt is not OutputFormat.CSV:
            raise QueryError("parquet output needs a file (--out FILE), not a text stream")
        # Same bytes as a CSV file (DuckDB's writer), then streamed to the text stream.
        with tempfile.TemporaryDirectory(prefix="lakehouse-query-") as tmp:
            path = Path(tmp) / "result.csv"
            rows = self._copy(query, sql, path, fmt)
            with path.open(encoding="utf-8", newline="") as f:
                shutil.copyfileobj(f, out)
        return rows

    def prepare(self, sql: str) -> str:
        """Check ``sql`` is one read-only query, register the lake tables it names, and return
        the statement's text (without a trailing semicolon)."""
        try:
            statements = duckdb.extract_statements(sql)
        except duckdb.Error as exc:
            raise _query_error(exc, sql, self._known) from exc
        if len(statements) != 1:
            raise QueryError(
                f"lakehouse query runs exactly one statement; found {len(statements)} in:\n    {sql}"
            )
        statement = statements[0]
        if statement.type is duckdb.StatementType.MULTI:  # DuckDB's form of a bare PIVOT
            raise QueryError(
                "a PIVOT needs the values to pivot on listed here (PIVOT t ON col IN ('a', 'b') "
                f"USING ...), so that it stays one read-only statement:\n    {sql}"
            )
        if statement.type not in _ALLOWED_STATEMENTS:
            raise QueryError(
                "lakehouse query only runs read-only queries (SELECT, WITH, FROM, DESCRIBE, "
                f"SUMMARIZE); found a {statement.type.name} statement:\n    {sql}"
            )
        query = statement.query.strip().rstrip(";").strip()
        for table in self.referenced_tables(query):
            self._register(table)
        return query

    def referenced_tables(self, sql: str) -> list[str]:
        """The lake tables ``sql`` names, as ``tier.table``; raises naming any unknown one.

        Names come from DuckDB's parse tree (``json_serialize_sql``: parsing only, so a
        ``JOIN ... USING`` over tables not registered yet is fine).
        """
        refs = self._table_refs(sql)
        known = {t.lower(): t for t in self._known}
        tiers = {t.value for t in Tier}
        found: set[str] = set()
        unknown: set[str] = set()
        for schema, table in refs:
            if schema.lower() not in tiers:
                continue  # not a lake table: a CTE, a DuckDB catalog table, or a typo DuckDB reports
            name = f"{schema.lower()}.{table}"
            if name.lower() in known:
                found.add(known[name.lower()])
            else:
                unknown.add(name)
        if unknown:
            raise QueryError(_unknown_tables_message(sorted(unknown), self._known, self.lake, sql))
        return sorted(found)

    def _table_refs(self, sql: str) -> list[tuple[str, str]]:
        """``(schema, table)`` of every base-table reference in the SELECT statement ``sql``."""
        try:
            rows = self.con.execute("SELECT json_serialize_sql(?)", [sql]).fetchall()
        except duckdb.Error as exc:
            raise _query_error(exc, sql, self._known) from exc
        tree = json.loads(rows[0][0]) if rows else {}
        if tree.get("error"):
            raise QueryError(
                f"query failed: {tree.get('error_message') or 'DuckDB cannot parse it'}\n  in: {sql}"
            )
        refs: list[tuple[str, str]] = []
        stack: list[Any] = [tree]
        while stack:
            node = stack.pop()
            if isinstance(node, dict):
                if node.get("type") == "BASE_TABLE" and not node.get("catalog_name"):
                    refs.append((node.get("schema_name") or "", node.get("table_name") or ""))
                stack.extend(node.values())
            elif isinstance(node, list):
                stack.extend(node)
        return refs

    # ------------------------------------------------------------------ internals

    def _register(self, table: str) -> None:
        if table in self._registered:
            return
        tier, name = split_name(table)
        location = self.lake.location(table)
        try:
            from deltalake import DeltaTable

            dataset = DeltaTable(location).to_pyarrow_dataset()
        except Exception as exc:
            raise QueryError(
                f"{table}: cannot read the Delta table at {location}: {message_line(exc)}"
            ) from exc
        hidden = f"__lake__{tier.value}__{name}"
        self.con.register(hidden, dataset)
        self.con.execute(
            f"CREATE VIEW {_ident(tier.value)}.{_ident(name)} AS SELECT * FROM {_ident(hidden)}"
        )
        self._registered.add(table)

    def _relation(self, query: str, sql: str) -> duckdb.DuckDBPyRelation:
        try:
            return self.con.sql(query)
        except duckdb.Error as exc:
            raise _query_error(exc, sql, self._known) from exc

    def _copy(self, query: str, sql: str, path: Path, fmt: OutputFormat) -> int:
        options = "FORMAT csv, HEADER true" if fmt is OutputFormat.CSV else "FORMAT parquet"
        # The newline before ')' keeps a trailing '-- comment' in the query from eating it.
        copy = f"COPY (\n{query}\n) TO {_literal(str(path))} ({options})"
        try:
            rows = self.con.execute(copy).fetchall()
        except duckdb.Error as exc:
            raise _query_error(exc, sql, self._known) from exc
        return int(rows[0][0]) if rows else 0


# ---------------------------------------------------------------------- rendering


def render_table(result: QueryResult, *, max_cell: int = MAX_CELL) -> str:
    """The rows as an aligned text table (numbers right-aligned), with a row-count footer."""
    numeric = [_is_numeric(t) for t in result.types]
    cells = [[_cell(v, max_cell) for v in row] for row in result.rows]
    headers = [_cell(c, max_cell) for c in result.columns]
    widths = [max([len(headers[i])] + [len(row[i]) for row in cells]) for i in range(len(headers))]

    def line(values: Sequence[str]) -> str:
        parts = [
            v.rjust(w) if num else v.ljust(w)
            for v, w, num in zip(values, widths, numeric, strict=True)
        ]
        return "  ".join(parts).rstrip()

    out = [line(headers), "  ".join("-" * w for w in widths)]
    out += [line(row) for row in cells]
    shown, total = len(result.rows), result.total_rows
    if result.truncated:
        out.append(
            f"({shown:,} of {total:,} rows shown; --limit N shows more, --out FILE writes all)"
        )
    else:
        out.append(f"({total:,} row{'' if total == 1 else 's'})")
    return "\n".join(out)


def _cell(value: Any, max_cell: int) -> str:
    text = _text(value)
    text = text.replace("\\", "\\\\").replace("\n", "\\n").replace("\r", "\\r").replace("\t", "\\t")
    return text if len(text) <= max_cell else text[: max_cell - 1] + "…"


def _text(value: Any) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return format(value, ".15g")
    if isinstance(value, dt.datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, dt.date | dt.time | decimal.Decimal):
        return str(value)
    if isinstance(value, bytes):
        return "0x" + value.hex()
    if isinstance(value, dict | list | tuple):
        return json.dumps(value, default=str, ensure_ascii=False, separators=(", ", ": "))
    return str(value)


def _is_numeric(t: pa.DataType) -> bool:
    return bool(pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_decimal(t))


# ---------------------------------------------------------------------- names and errors


def _ident(name: str) -> str:
    """A double-quoted DuckDB identifier."""
    return '"' + name.replace('"', '""') + '"'


def _literal(value: str) -> str:
    """A single-quoted DuckDB string literal."""
    return "'" + value.replace("'", "''") + "'"


def _tables_of_tier(known: Iterable[str], tier: str) -> list[str]:
    return [t for t in known if t.startswith(tier + ".")]


def _unknown_tables_message(
    unknown: Sequence[str], known: Sequence[str], lake: Lake, sql: str
) -> str:
    lines = []
    for name in unknown:
        tier = name.partition(".")[0]
        in_tier = _tables_of_tier(known, tier)
        listed = ", ".join(in_tier) if in_tier else "none"
        lines.append(f"unknown table {name} in the lake at {lake.root}; {tier} tables: {listed}")
    return "\n".join(lines) + f"\n  in: {sql}"


_MISSING_TABLE = re.compile(r"Table with name (\S+) does not exist", re.IGNORECASE)


def _query_error(exc: duckdb.Error, sql: str, known: Sequence[str]) -> QueryError:
    """DuckDB's message, the SQL, and a hint when an unqualified name is a lake table's."""
    message = str(exc).strip()
    hint = ""
    missing = _MISSING_TABLE.search(message)
    if missing:
        # DuckDB's own "Did you mean" points at its catalog tables; ours names lake tables.
        message = "\n".join(
            line for line in message.splitlines() if not line.startswith("Did you mean")
        )
        bare = missing.group(1).strip('"!').lower()
        candidates = [t for t in known if t.partition(".")[2].lower() == bare]
        hint = (
            f"\n  hint: did you mean {' or '.join(candidates)}? " if candidates else "\n  hint: "
        ) + "lake tables are named <tier>.<table>; `lakehouse tables` lists them"
    return QueryError(f"query failed: {message}\n  in: {sql}{hint}")
