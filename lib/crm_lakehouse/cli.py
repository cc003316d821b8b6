"""The ``lakehouse`` command line.

Exit codes: 0 success; 1 a step failed; 2 bad arguments, configuration or environment (e.g. no
Java 17); 4 a data contract failed; 5 another run holds the lock.
"""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from crm_lakehouse.config import Settings, Step, load_settings
from crm_lakehouse.errors import ConfigError, LakehouseError

log = logging.getLogger("crm_lakehouse")


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

    run = sub.add_parser("run", parents=[common], help="run pipeline steps for a logical date")
    run.add_argument("--date", type=_date, required=True, help="logical date YYYY-MM-DD")
    run.add_argument("--steps", type=_steps, help="comma-separated subset of bronze,silver,gold")

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

    sub.add_parser("tables", parents=[common], help="list the lake's tables with version and rows")
    sub.add_parser("check-java", parents=[common], help="check that Java 17+ is available")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    logging.basicConfig(
        level=logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    logging.getLogger("great_expectations").setLevel(logging.WARNING)
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        settings = _settings(args)
        command = args.command
        if command in ("contracts", "quarantine"):
            command = f"{command} {getattr(args, command + '_command')}"
        return int(COMMANDS[command](args, settings) or 0)
    except LakehouseError as exc:
        print(f"lakehouse {args.command}: error: {exc}", file=sys.stderr)
        return exc.exit_code


def _settings(args: argparse.Namespace) -> Settings:
    overrides: dict[str, Any] = {}
    if args.lake:
        overrides.setdefault("paths", {})["lake"] = str(args.lake)
    if args.landing:
        overrides.setdefault("paths", {})["landing"] = str(args.landing)
    if args.contracts:
        overrides.setdefault("paths", {})["contracts"] = str(args.contracts)
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
    return _run(settings, args.date, args.steps)


def cmd_demo(args: argparse.Namespace, settings: Settings) -> int:
    from crm_lakehouse.synthetic import generate

    started = time.monotonic()
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
    from crm_lakehouse.delta import open_port
    from crm_lakehouse.lake import Lake
    from crm_lakehouse.pipeline import run_steps, summarise
    from crm_lakehouse.session import create_session

    started = started if started is not None else time.monotonic()
    spark = create_session(settings)
    port = open_port(
        spark, settings.delta.adapter, target_file_rows=settings.delta.target_file_rows
    )
    result = run_steps(spark, port, settings, date, steps)
    for rec in result.steps:
        print(
            f"  {rec.step:<7} {rec.status:<9} rows in {rec.rows_in or 0:>9,}  out {rec.rows_out or 0:>9,}"
            f"  dropped {rec.rows_dropped or 0:>6,}"
        )
    _print_tables(summarise(port, Lake(settings.paths.lake)))
    print(
        f"run {result.run_id}: {len(result.steps)} steps for {date}; "
        f"total time {time.monotonic() - started:.1f} s"
    )
    return 0


def cmd_tables(args: argparse.Namespace, settings: Settings) -> int:
    from crm_lakehouse.delta import open_port
    from crm_lakehouse.lake import Lake
    from crm_lakehouse.pipeline import summarise
    from crm_lakehouse.session import create_session

    spark = create_session(settings)
    _print_tables(
        summarise(
            open_port(
                spark, settings.delta.adapter, target_file_rows=settings.delta.target_file_rows
            ),
            Lake(settings.paths.lake),
        )
    )
    return 0


def _print_tables(tables: Sequence[Any]) -> None:
    print(f"  {'table':<36} {'version':>7} {'rows':>10}")
    for t in tables:
        print(f"  {t.table:<36} {t.version:>7} {t.rows:>10,}")


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


def cmd_check_java(args: argparse.Namespace, settings: Settings) -> int:
    from crm_lakehouse.session import check_java

    print(f"java {check_java()} found: ok")
    return 0


COMMANDS = {
    "generate": cmd_generate,
    "run": cmd_run,
    "demo": cmd_demo,
    "tables": cmd_tables,
    "contracts lint": cmd_contracts_lint,
    "contracts docs": cmd_contracts_docs,
    "quarantine replay": cmd_quarantine_replay,
    "check-java": cmd_check_java,
}

if __name__ == "__main__":
    raise SystemExit(main())
