"""The ``lakehouse`` command line.

Exit codes (for schedulers): 0 success (also when every step was skipped because it had
already succeeded for the date); 1 a step failed (its error is recorded in ops.runs) or an
unexpected error; 2 bad arguments, configuration or environment (e.g. no Java 17); 4 a data
contract failed; 5 another run holds the lake's lock.

Logs go to stderr, as JSON lines for `run` (one object per line, with the run id on every line
of a run) and as text for the other commands; --log-format json|text chooses. Results go to
stdout.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import logging
import signal
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from crm_lakehouse.config import Settings, Step, load_settings
from crm_lakehouse.errors import ConfigError, LakehouseError, RunInterrupted
from crm_lakehouse.lake import Lake, Tier
from crm_lakehouse.ops.logs import LogFormat, configure_logging, remove_logging

log = logging.getLogger("crm_lakehouse")
DEFAULT_LOCK_MAX_AGE_MINUTES = 60


def _date(text: str) -> str:
    try:
        return dt.date.fromisoformat(text).isoformat()
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date in YYYY-MM-DD form") from None


def _steps(text: str) -> tuple[Step, ...]:
    names = [s.strip() for s in text.split(",") if s.strip()]
    try:
        return tuple(Step(n) for n in names)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"--steps {text!r}: each step must be one of {[s.value for s in Step]}"
        ) from None


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number >= 1")
    return value


def _non_negative(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number >= 0")
    return value


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--env", default="local", help="config overlay conf/<env>.yaml (default: local)"
    )
    common.add_argument(
        "--conf-dir", default="conf", type=Path, help="config folder (default: conf)"
    )
    common.add_argument("--lake", type=Path, help="override paths.lake")
    common.add_argument("--landing", type=Path, help="override paths.landing")
    common.add_argument("--contracts", type=Path, help="override paths.contracts")
    common.add_argument("--reports", type=Path, help="override paths.reports")
    common.add_argument(
        "--log-format",
        choices=[f.value for f in LogFormat],
        help="stderr log format (default: json for run, text otherwise)",
    )

    parser = argparse.ArgumentParser(
        prog="lakehouse", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = parser.add_subparsers(dest="command", required=True)

    gen = sub.add_parser(
        "generate", parents=[common], help="write synthetic CRM and provider dumps"
    )
    gen.add_argument("--scale", type=int, help="source records (default: generator.scale)")
    gen.add_argument("--seed", type=int, help="random seed (default: generator.seed)")
    gen.add_argument("--date", type=_date, help="delivery date (default: generator.date)")

    run = sub.add_parser(
        "run",
        parents=[common],
        help="run pipeline steps for a logical date or a range of dates (backfill)",
    )
    when = run.add_mutually_exclusive_group(required=True)
    when.add_argument("--date", type=_date, help="logical date YYYY-MM-DD")
    when.add_argument(
        "--from", dest="date_from", type=_date, metavar="D1", help="first date of a backfill"
    )
    run.add_argument(
        "--to", dest="date_to", type=_date, metavar="D2", help="last date (with --from)"
    )
    run.add_argument("--steps", type=_steps, help="comma-separated subset of bronze,silver,gold")
    run.add_argument(
        "--full-refresh",
        action="store_true",
        help="run every step even if it already succeeded for the date with the same inputs",
    )
    run.add_argument(
        "--lock-max-age",
        type=_positive,
        default=DEFAULT_LOCK_MAX_AGE_MINUTES,
        metavar="MINUTES",
        help="a lock held from another host counts as abandoned after this long without a "
        f"heartbeat (default: {DEFAULT_LOCK_MAX_AGE_MINUTES})",
    )

    demo = sub.add_parser(
        "demo", parents=[common], help="generate the demo dataset and run every step on it"
    )
    demo.add_argument("--scale", type=int, help="source records (default: generator.scale)")

    con = sub.add_parser("contracts", help="data contracts: lint, Data Docs")
    con_sub = con.add_subparsers(dest="contracts_command", required=True)
    con_sub.add_parser(
        "lint", parents=[common], help="parse every contract and check it against its table"
    )
    docs = con_sub.add_parser(
        "docs", parents=[common], help="build Great Expectations Data Docs for a run's results"
    )
    docs.add_argument("--run-id", help="the run to document (default: the latest)")
    docs.add_argument("--out", type=Path, help="folder (default: <reports>/data_docs)")

    qua = sub.add_parser("quarantine", help="rows held back by contracts")
    qua_sub = qua.add_subparsers(dest="quarantine_command", required=True)
    replay = qua_sub.add_parser(
        "replay", parents=[common], help="re-submit a table's held rows through its contract"
    )
    replay.add_argument("--table", required=True, help="e.g. silver.company_records")

    tiers = [t.value for t in Tier]
    tab = sub.add_parser(
        "tables",
        parents=[common],
        help="list the lake's tables: version, rows, last update, description (no JVM)",
    )
    tab.add_argument("--tier", choices=tiers, help="only this tier's tables")
    tab.add_argument("--json", action="store_true", help="print JSON (one object per table)")

    qry = sub.add_parser(
        "query",
        parents=[common],
        help="run SQL over the lake's tables (named tier.table) with DuckDB (no JVM)",
    )
    qry.add_argument("sql", help='one query, e.g. "SELECT * FROM gold.pipeline_summary"')
    qry.add_argument("--out", type=Path, help="write every row to FILE (.csv or .parquet)")
    qry.add_argument(
        "--format",
        choices=["table", "csv", "parquet"],
        help="output format (default: from --out's extension, else table)",
    )
    qry.add_argument(
        "--limit",
        type=_non_negative,
        help="rows printed as a table (default: 50; 0 prints all)",
    )

    reg = sub.add_parser(
        "register",
        parents=[common],
        help="create metastore entries <database>.<tier>_<table> for the lake's Delta tables",
    )
    reg.add_argument(
        "--database", default="crm_lakehouse", help="database name (default: crm_lakehouse)"
    )
    reg.add_argument("--tier", choices=tiers, help="only this tier's tables")
    reg.add_argument(
        "--print", action="store_true", help="only print the SQL statements, run nothing"
    )
    sub.add_parser("check-java", parents=[common], help="check that Java 17+ is available")

    status = sub.add_parser(
        "status",
        parents=[common],
        help="recent runs, the lock, per-table freshness and data quality (no JVM)",
    )
    status.add_argument("--runs", type=_positive, default=10, help="runs to show (default: 10)")
    history = sub.add_parser(
        "history", parents=[common], help="a table's Delta commits with their runs (no JVM)"
    )
    history.add_argument("table", help="e.g. silver.companies")
    history.add_argument("--limit", type=_positive, default=20, help="commits (default: 20)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse: --help (0) or a usage error (2), already printed
        return exc.code if isinstance(exc.code, int) else 2
    fmt = LogFormat(
        getattr(args, "log_format", None)
        or (LogFormat.JSON if args.command == "run" else LogFormat.TEXT)
    )
    handler = configure_logging(fmt)
    try:
        settings = _settings(args)
        command = args.command
        if command in ("contracts", "quarantine"):
            command = f"{command} {getattr(args, command + '_command')}"
        return int(COMMANDS[command](args, settings) or 0)
    except LakehouseError as exc:
        return _failed(args.command, fmt, exc, exc.exit_code)
    except Exception as exc:  # a bug or an engine error nobody wrapped: still a clean exit 1
        return _failed(args.command, fmt, exc, 1, unexpected=True)
    finally:
        remove_logging(handler)


def _failed(
    command: str, fmt: LogFormat, exc: BaseException, code: int, *, unexpected: bool = False
) -> int:
    """Report the error that ends the command on stderr (a JSON event in JSON mode); an
    unexpected one comes with its traceback."""
    if fmt is LogFormat.JSON or unexpected:
        log.error(
            "lakehouse %s: %s: %s",
            command,
            "unexpected error" if unexpected else "error",
            exc,
            exc_info=exc if unexpected else None,
            extra={
                "event": "command_failed",
                "fields": {"exit_code": code, "error": f"{type(exc).__name__}: {exc}"},
            },
        )
    else:
        print(f"lakehouse {command}: error: {exc}", file=sys.stderr)
    return code


def _settings(args: argparse.Namespace) -> Settings:
    overrides: dict[str, Any] = {}
    if args.lake:
        overrides.setdefault("paths", {})["lake"] = str(args.lake)
    if args.landing:
        overrides.setdefault("paths", {})["landing"] = str(args.landing)
    if args.contracts:
        overrides.setdefault("paths", {})["contracts"] = str(args.contracts)
    if args.reports:
        overrides.setdefault("paths", {})["reports"] = str(args.reports)
    if not args.conf_dir.is_dir():
        raise ConfigError(f"--conf-dir {args.conf_dir}: not a folder")
    return load_settings(args.env, args.conf_dir, overrides)


def cmd_generate(args: argparse.Namespace, settings: Settings) -> int:
    from crm_lakehouse.synthetic import generate

    g = settings.generator
    report = generate(
        settings.paths.landing,
        scale=args.scale if args.scale is not None else g.scale,
        seed=args.seed if args.seed is not None else g.seed,
        date=args.date or g.date,
        faults=g.faults,
    )
    print(
        f"generated {report.total_records:,} source records ({report.mode} delivery) for "
        f"{report.date} into {settings.paths.landing} in {report.elapsed_seconds:.1f} s"
    )
    return 0


def cmd_run(args: argparse.Namespace, settings: Settings) -> int:
    if args.date_from is not None:
        if args.date_to is None:
            raise ConfigError("--from needs --to (the last date of the backfill)")
        if args.date_to < args.date_from:
            raise ConfigError(f"--to {args.date_to} is before --from {args.date_from}")
        first = dt.date.fromisoformat(args.date_from)
        days = (dt.date.fromisoformat(args.date_to) - first).days
        dates = [(first + dt.timedelta(days=i)).isoformat() for i in range(days + 1)]
    elif args.date_to is not None:
        raise ConfigError("--to goes with --from (use --date for a single date)")
    else:
        dates = [args.date]
    return _run_dates(
        settings,
        dates,
        args.steps,
        full_refresh=args.full_refresh,
        lock_max_age=dt.timedelta(minutes=args.lock_max_age),
    )


def cmd_demo(args: argparse.Namespace, settings: Settings) -> int:
    from crm_lakehouse.gold.pii import KEY_ENV, KEY_FILE_ENV, ensure_demo_key
    from crm_lakehouse.synthetic import generate

    started = time.monotonic()
    key_file = ensure_demo_key(settings.paths.lake)
    if key_file is not None:
        print(
            f"no PII key set ({KEY_ENV} / {KEY_FILE_ENV}): the demo uses the key file "
            f"{key_file} (random, mode 0600; set {KEY_FILE_ENV}={key_file} to reuse it)"
        )
    g = settings.generator
    report = generate(
        settings.paths.landing,
        scale=args.scale or g.scale,
        seed=g.seed,
        date=g.date,
        faults=g.faults,
    )
    print(
        f"generated {report.total_records:,} source records ({report.mode} delivery) for "
        f"{g.date} in {report.elapsed_seconds:.1f} s"
    )
    return _run(settings, g.date, None, started=started)


def _run(
    settings: Settings, date: str, steps: Sequence[Step] | None, started: float | None = None
) -> int:
    return _run_dates(settings, [date], steps, started=started)


def _run_dates(
    settings: Settings,
    dates: Sequence[str],
    steps: Sequence[Step] | None,
    *,
    full_refresh: bool = False,
    lock_max_age: dt.timedelta | None = None,
    started: float | None = None,
) -> int:
    """Take the lake's lock, then run the dates in order (see pipeline.run_dates)."""
    from crm_lakehouse.ops.lock import DEFAULT_MAX_AGE, LakeLock
    from crm_lakehouse.pipeline import RunResult, new_run_id, run_dates

    started = started if started is not None else time.monotonic()

    def show(result: RunResult) -> None:
        print(f"run {result.run_id} for {result.date}: {result.status} in {result.seconds:.1f} s")
        for rec in result.steps:
            print(
                f"  {rec.step:<7} {rec.status:<9} rows in {rec.rows_in or 0:>9,}  "
                f"out {rec.rows_out or 0:>9,}  dropped {rec.rows_dropped or 0:>6,}  "
                f"quarantined {rec.rows_quarantined or 0:>6,}"
            )

    with (
        LakeLock(
            settings.paths.lake, new_run_id(dates[0]), max_age=lock_max_age or DEFAULT_MAX_AGE
        ) as lock,
        _sigterm_raises(),
    ):
        from crm_lakehouse.delta import open_port
        from crm_lakehouse.session import create_session

        spark = create_session(settings)
        port = open_port(
            spark, settings.delta.adapter, target_file_rows=settings.delta.target_file_rows
        )
        results = run_dates(
            spark,
            port,
            settings,
            dates,
            steps,
            full_refresh=full_refresh,
            lock=lock,
            reports=settings.paths.reports,
            on_run=show,
        )
    _print_tables(settings)
    print(
        f"{len(results)} run(s) for {dates[0]}"
        + (f" to {dates[-1]}" if len(dates) > 1 else "")
        + f"; total time {time.monotonic() - started:.1f} s; "
        f"reports in {settings.paths.reports / 'runs'}"
    )
    return 0


@contextlib.contextmanager
def _sigterm_raises() -> Iterator[None]:
    """Turn SIGTERM (a scheduler's timeout) into an exception, so the running step is recorded
    as failed and the lock is released; restored afterwards. SIGKILL cannot be caught: the next
    run finds the lock stale and the step marked running, and takes over."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupted(signum: int, frame: object) -> None:
        raise RunInterrupted(f"interrupted by signal {signal.Signals(signum).name}")

    previous = signal.signal(signal.SIGTERM, interrupted)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def cmd_tables(args: argparse.Namespace, settings: Settings) -> int:
    import json

    from crm_lakehouse.catalog import list_tables

    tables = list_tables(
        Lake(settings.paths.lake),
        tiers=[Tier(args.tier)] if args.tier else None,
        contracts_dir=settings.paths.contracts,
    )
    if args.json:
        print(json.dumps([t.as_json() for t in tables], indent=2))
    else:
        _print_tables(settings, tables)
    return 0


def _print_tables(settings: Settings, tables: Sequence[Any] | None = None) -> None:
    """Print the lake's tables (all of them unless given) as an aligned listing, from the Delta
    logs alone (no Spark job)."""
    from crm_lakehouse.catalog import list_tables, render_tables

    if tables is None:
        tables = list_tables(Lake(settings.paths.lake), contracts_dir=settings.paths.contracts)
    if tables:
        print(render_tables(tables))
    else:
        print(f"  no tables in {settings.paths.lake}")


def cmd_query(args: argparse.Namespace, settings: Settings) -> int:
    from crm_lakehouse.query import DEFAULT_LIMIT, LakeQuery, OutputFormat, format_for, render_table

    fmt = format_for(args.out, OutputFormat(args.format) if args.format else None)
    if args.limit is not None and fmt is not OutputFormat.TABLE:
        raise ConfigError(
            f"--limit caps the rows printed as a table; {fmt.value} output gets every row "
            "(put a LIMIT in the SQL to cap it)"
        )
    with LakeQuery(Lake(settings.paths.lake)) as q:
        if fmt is OutputFormat.TABLE:
            limit = DEFAULT_LIMIT if args.limit is None else args.limit
            text = render_table(q.fetch(args.sql, limit=limit or None))
            if args.out:
                args.out.parent.mkdir(parents=True, exist_ok=True)
                args.out.write_text(text + "\n", encoding="utf-8")
                print(f"wrote the table to {args.out}")
            else:
                print(text)
        elif args.out:
            rows = q.write(args.sql, args.out, fmt)
            print(f"wrote {rows:,} rows to {args.out} ({fmt.value})")
        else:
            sys.stdout.flush()
            q.write(args.sql, sys.stdout, fmt)
    return 0


def cmd_register(args: argparse.Namespace, settings: Settings) -> int:
    from crm_lakehouse.catalog import register, register_statements
    from crm_lakehouse.config import DeltaAdapterKind
    from crm_lakehouse.errors import EnvironmentCheckError

    lake = Lake(settings.paths.lake)
    names = [t for t in lake.tables() if not args.tier or t.startswith(f"{args.tier}.")]
    statements = register_statements(lake, args.database, tables=names)
    if args.print:
        print(";\n".join(statements) + ";")
        return 0
    if settings.delta.adapter is DeltaAdapterKind.DELTA_RS:
        raise EnvironmentCheckError(
            f"registering tables needs the Delta Spark connector; the {args.env!r} "
            "configuration uses delta.adapter delta_rs (use --env cluster under spark-submit), "
            "or --print the statements to run elsewhere"
        )
    from crm_lakehouse.session import create_session

    register(create_session(settings), statements)
    print(f"registered {len(names)} tables in database {args.database}")
    return 0


def cmd_contracts_lint(args: argparse.Namespace, settings: Settings) -> int:
    from crm_lakehouse.contracts import lint, load_contracts
    from crm_lakehouse.lake import Lake

    contracts = load_contracts(settings.paths.contracts)  # raises with every parse problem
    lake = Lake(settings.paths.lake)
    present = set(lake.tables())
    problems: list[str] = []
    checked = 0
    if present & set(contracts):
        spark, port = _session_and_port(settings)
        for table in sorted(present & set(contracts)):
            checked += 1
            schema = port.read(lake.location(table)).schema
            problems += [f"{table}: {p}" for p in lint(contracts[table], schema, spark=spark)]
    without = sorted(t for t in present if t not in contracts)
    problems += [f"{t}: table in the lake has no contract" for t in without]
    for p in problems:
        print(f"  - {p}")
    print(
        f"{len(contracts)} contracts parsed; {checked} checked against their tables in "
        f"{lake.root}; {len(problems)} problem(s)"
    )
    return 2 if problems else 0


def cmd_contracts_docs(args: argparse.Namespace, settings: Settings) -> int:
    from crm_lakehouse.contracts import build_data_docs, load_contracts, read_results
    from crm_lakehouse.lake import Lake

    contracts = load_contracts(settings.paths.contracts)
    _spark, port = _session_and_port(settings)
    results = read_results(port, Lake(settings.paths.lake), run_id=args.run_id)
    if not results:
        raise ConfigError("no data-quality results recorded yet (or none for that --run-id)")
    index = build_data_docs(
        results, args.out or settings.paths.reports / "data_docs", contracts=contracts
    )
    print(f"Data Docs for run {results[0].run_id}: {index}")
    return 0


def cmd_quarantine_replay(args: argparse.Namespace, settings: Settings) -> int:
    from crm_lakehouse.contracts import load_contracts
    from crm_lakehouse.contracts.guard import ContractGuard
    from crm_lakehouse.contracts.replay import replay_quarantine
    from crm_lakehouse.lake import Lake
    from crm_lakehouse.pipeline import new_run_id

    contracts = load_contracts(settings.paths.contracts)
    _spark, port = _session_and_port(settings)
    now = dt.datetime.now(dt.UTC)
    guard = ContractGuard(
        port,
        Lake(settings.paths.lake),
        contracts,
        run_id=new_run_id(f"replay-{now:%Y-%m-%d}"),
        reference_time=now,
    )
    out = replay_quarantine(guard, args.table)
    print(
        f"{out.table}: {out.released} held rows released, {out.published} published, "
        f"{out.held_again} held again (run {guard.run_id})"
    )
    return 0


def _session_and_port(settings: Settings) -> tuple[Any, Any]:
    from crm_lakehouse.delta import open_port
    from crm_lakehouse.session import create_session

    spark = create_session(settings)
    port = open_port(
        spark, settings.delta.adapter, target_file_rows=settings.delta.target_file_rows
    )
    return spark, port


def cmd_status(args: argparse.Namespace, settings: Settings) -> int:
    from crm_lakehouse.ops.status import render_status

    print(render_status(Lake(settings.paths.lake), runs=args.runs))
    return 0


def cmd_history(args: argparse.Namespace, settings: Settings) -> int:
    from crm_lakehouse.ops.status import render_history

    lake = Lake(settings.paths.lake)
    if args.table not in lake.tables():
        known = ", ".join(lake.tables()) or "none"
        raise ConfigError(f"history: no table {args.table!r} in the lake {lake.root} ({known})")
    print(render_history(lake, args.table, args.limit))
    return 0


def cmd_check_java(args: argparse.Namespace, settings: Settings) -> int:
    from crm_lakehouse.session import check_java

    print(f"java {check_java()} found: ok")
    return 0


COMMANDS = {
    "generate": cmd_generate,
    "run": cmd_run,
    "demo": cmd_demo,
    "tables": cmd_tables,
    "query": cmd_query,
    "register": cmd_register,
    "contracts lint": cmd_contracts_lint,
    "contracts docs": cmd_contracts_docs,
    "quarantine replay": cmd_quarantine_replay,
    "check-java": cmd_check_java,
    "status": cmd_status,
    "history": cmd_history,
}

if __name__ == "__main__":
    raise SystemExit(main())
