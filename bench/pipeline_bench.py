"""The nightly pipeline at scale: time, memory, files and matching cost per step, the floor.

Usage (``make bench`` runs it with ``SCALES``)::

    .venv/bin/python bench/pipeline_bench.py [--scales 100000,1000000,10000000] [--seed 42]
        [--work DIR] [--keep] [--no-day2] [--no-peer] [--no-write]

For each scale: generate a full delivery with the project's generator (default fault rates),
run ``lakehouse run`` (Bronze -> Silver -> Gold, contracts on, embedded local defaults) in its
own process, then deliver and run a day-2 delta (about 1 % of records changed or new). Per step
it records wall time, rows/s, contract enforcement time, candidate pairs in matching; per run
the peak resident memory of the driver (Python) and of its JVM, and the Parquet files written.
The **floor** is measured in the same run: a Spark process that reads every landing file of
the day once and writes its rows once as Parquet; the pipeline's step time is reported as a
multiple of it. Step figures come from ``ops.runs`` (the run ledger), read without a JVM.
The **peer** runs after each full run: ``bench/splink_peer.py`` (Splink, DuckDB backend, against
our company resolution on the same Silver company records, both scored against the truth).

Each run's figures are merged into ``bench/results/pipeline.json`` (keyed by scale and run, so
``--scales 1000000`` after ``--scales 100000`` keeps both); the table in the "Nightly pipeline at
scale" section of BENCHMARKS.md (other sections are kept) and the chart of time vs scale per
step, ``bench/results/pipeline_scale.svg``, are drawn from all stored runs.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from chart import loglog_chart

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
BIN = Path(sys.executable).parent
SECTION = "## Nightly pipeline at scale"
DAY1, DAY2 = "2026-11-20", "2026-11-21"


# --------------------------------------------------------------------------- process memory


def _children(pid: int) -> list[int]:
    out: list[int] = []
    try:
        for task in os.listdir(f"/proc/{pid}/task"):
            text = Path(f"/proc/{pid}/task/{task}/children").read_text()
            out += [int(c) for c in text.split()]
    except OSError:
        pass
    return out


def _rss_kib(pid: int) -> tuple[int, str]:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
        name = Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return 0, ""
    m = re.search(r"^VmRSS:\s+(\d+) kB", status, re.M)
    return (int(m.group(1)) if m else 0), name


@dataclass
class Measured:
    seconds: float
    returncode: int
    stdout: str
    stderr: str
    peak_python_mib: float = 0.0
    peak_jvm_mib: float = 0.0


def run_measured(cmd: list[str], env: dict[str, str] | None = None) -> Measured:
    """Run ``cmd``; poll the resident memory of it and its descendants (Python vs java)."""
    peaks = {"python": 0, "java": 0}
    started = time.monotonic()
    proc = subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=ROOT
    )
    stop = threading.Event()

    def poll() -> None:
        while not stop.is_set():
            todo, seen = [proc.pid], set()
            py = jvm = 0
            while todo:
                pid = todo.pop()
                if pid in seen:
                    continue
                seen.add(pid)
                kib, name = _rss_kib(pid)
                if name == "java":
                    jvm += kib
                elif name.startswith("python") or name == "lakehouse":
                    py += kib
                todo += _children(pid)
            peaks["python"] = max(peaks["python"], py)
            peaks["java"] = max(peaks["java"], jvm)
            stop.wait(0.25)

    poller = threading.Thread(target=poll, daemon=True)
    poller.start()
    out, err = proc.communicate()
    stop.set()
    poller.join()
    return Measured(
        time.monotonic() - started,
        proc.returncode,
        out,
        err,
        peaks["python"] / 1024,
        peaks["java"] / 1024,
    )


# --------------------------------------------------------------------------- one run


def _parquet_files(root: Path) -> int:
    return sum(1 for _ in root.rglob("*.parquet")) if root.exists() else 0


@dataclass
class StepFigures:
    step: str
    seconds: float
    rows_in: int
    rows_out: int
    contract_seconds: float
    metrics: dict[str, Any]


@dataclass
class RunFigures:
    scale: int
    label: str  # "full" | "day-2"
    records: int
    wall: float
    peak_python_mib: float
    peak_jvm_mib: float
    files_written: int
    steps: list[StepFigures] = field(default_factory=list)

    @property
    def step_seconds(self) -> float:
        return sum(s.seconds for s in self.steps)

    @property
    def contract_seconds(self) -> float:
        return sum(s.contract_seconds for s in self.steps)

    def metric(self, name: str) -> Any:
        for s in self.steps:
            if name in s.metrics:
                return s.metrics[name]
        return None


def _ledger(lake: Path, date: str) -> list[StepFigures]:
    """The latest run's steps for ``date`` from ``ops.runs`` (delta-rs, no JVM)."""
    from deltalake import DeltaTable

    rows = DeltaTable(str(lake / "ops" / "runs")).to_pyarrow_table().to_pylist()
    rows = [r for r in rows if r["logical_date"] in (date, dt.date.fromisoformat(date))]
    if not rows:
        raise RuntimeError(f"no ops.runs rows for {date} in {lake}")
    latest = max(rows, key=lambda r: r["started_at"])["run_id"]
    out = []
    for r in sorted((r for r in rows if r["run_id"] == latest), key=lambda r: r["started_at"]):
        metrics = r["metrics"]
        if isinstance(metrics, str):
            metrics = json.loads(metrics)
        metrics = dict(metrics or {})
        out.append(
            StepFigures(
                step=r["step"],
                seconds=(r["finished_at"] - r["started_at"]).total_seconds(),
                rows_in=r["rows_in"] or 0,
                rows_out=r["rows_out"] or 0,
                contract_seconds=float(metrics.get("contract_seconds") or 0.0),
                metrics=metrics,
            )
        )
    return out


def run_pipeline(scale: int, label: str, date: str, landing: Path, lake: Path) -> RunFigures:
    before = _parquet_files(lake)
    env = dict(os.environ)
    env.setdefault("LAKEHOUSE_PII_KEY", "bench-only-key-not-a-secret-0123456789")
    m = run_measured(
        [
            str(BIN / "lakehouse"),
            "run",
            "--date",
            date,
            "--landing",
            str(landing),
            "--lake",
            str(lake),
        ],
        env,
    )
    if m.returncode != 0:
        raise RuntimeError(f"lakehouse run {date} exited {m.returncode}:\n{m.stderr[-4000:]}")
    manifest = json.loads((landing / "_truth" / date / "manifest.json").read_text())
    records = int(manifest["totals"]["records"])
    return RunFigures(
        scale=scale,
        label=label,
        records=records,
        wall=m.seconds,
        peak_python_mib=m.peak_python_mib,
        peak_jvm_mib=m.peak_jvm_mib,
        files_written=_parquet_files(lake) - before,
        steps=_ledger(lake, date),
    )


# --------------------------------------------------------------------------- the floor

FLOOR_CODE = r"""
import json, sys, time
from pathlib import Path
from crm_lakehouse.config import load_settings
from crm_lakehouse.session import create_session
landing, date, out = Path(sys.argv[1]), sys.argv[2], sys.argv[3]
spark = create_session(load_settings("local", Path("conf")))
started = time.monotonic()
files = sorted(
    p for p in landing.glob(f"*/{date}/*")
    if p.suffix in (".csv", ".jsonl") and not p.parts[-3].startswith("_")
)
for i, f in enumerate(files):
    if f.suffix == ".csv":
        df = spark.read.option("header", True).option("multiLine", True).csv(str(f))
    else:  # one JSON object per line; as text, so no schema-inference pass
        df = spark.read.text(str(f))
    df.write.mode("overwrite").parquet(f"{out}/{i}")
seconds = time.monotonic() - started
# Rows written, from the Parquet footers (not timed: the floor is one read and one write).
import pyarrow.dataset as ds
rows = sum(ds.dataset(f"{out}/{i}", format="parquet").count_rows() for i in range(len(files)))
print(json.dumps({"seconds": seconds, "rows": rows, "files": len(files)}))
"""


def measure_floor(landing: Path, date: str, work: Path) -> dict[str, Any]:
    out = work / "floor"
    shutil.rmtree(out, ignore_errors=True)
    m = run_measured([sys.executable, "-c", FLOOR_CODE, str(landing), date, str(out)])
    if m.returncode != 0:
        raise RuntimeError(f"floor run failed:\n{m.stderr[-4000:]}")
    result: dict[str, Any] = json.loads(m.stdout.strip().splitlines()[-1])
    result["wall"] = m.seconds
    shutil.rmtree(out, ignore_errors=True)
    return result


# --------------------------------------------------------------------------- the peer


def run_peer(landing: Path, lake: Path, work: Path) -> dict[str, Any]:
    """Splink against our company resolution on the lake's Silver company records."""
    out = work / "peer.json"
    m = run_measured(
        [sys.executable, str(ROOT / "bench" / "splink_peer.py"), "--lake", str(lake),
         "--landing", str(landing), "--dates", DAY1, "--json", str(out)]
    )  # fmt: skip
    if m.returncode != 0:
        raise RuntimeError(f"splink_peer exited {m.returncode}:\n{m.stderr[-4000:]}")
    figures: dict[str, Any] = json.loads(out.read_text())
    return figures


# --------------------------------------------------------------------------- stored results


def _run_from_dict(d: dict[str, Any]) -> RunFigures:
    steps = [StepFigures(**s) for s in d.get("steps", [])]
    return RunFigures(**{**{k: v for k, v in d.items() if k != "steps"}, "steps": steps})


def merge_results(
    path: Path, runs: list[RunFigures], floors: dict[int, dict[str, Any]], measured_on: str
) -> tuple[list[RunFigures], dict[int, dict[str, Any]], dict[str, str]]:
    """Merge this invocation's runs and floors into the JSON store at ``path`` and return every
    stored run (ordered by scale, full before day-2), floor and measurement date by scale."""
    stored: dict[str, Any] = (
        json.loads(path.read_text()) if path.exists() else {"runs": [], "floors": {}}
    )
    keyed = {(r["scale"], r["label"]): r for r in stored["runs"]}
    dates: dict[str, str] = stored.get("measured_on", {})
    for r in runs:
        keyed[(r.scale, r.label)] = asdict(r)
        dates[f"{r.scale}"] = measured_on
    all_floors = {int(k): v for k, v in stored.get("floors", {}).items()}
    all_floors.update(floors)
    ordered = sorted(keyed.values(), key=lambda r: (r["scale"], r["label"] != "full"))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        json.dumps(
            {
                "runs": ordered,
                "floors": {str(k): v for k, v in sorted(all_floors.items())},
                "measured_on": dict(sorted(dates.items(), key=lambda kv: int(kv[0]))),
            },
            indent=1,
        )
        + "\n"
    )
    return [_run_from_dict(r) for r in ordered], all_floors, dates


def merge_peers(path: Path, peers: dict[int, dict[str, Any]]) -> dict[int, dict[str, Any]]:
    """Merge this invocation's peer figures into the JSON store at ``path``; return all."""
    stored = json.loads(path.read_text()) if path.exists() else {}
    merged = {int(k): v for k, v in stored.items()}
    merged.update(peers)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({str(k): v for k, v in sorted(merged.items())}, indent=1) + "\n")
    return merged


def scale_chart(runs: list[RunFigures], floors: dict[int, dict[str, Any]]) -> str:
    """Time vs scale per step (full runs), with the total and the floor, on log-log axes."""
    series: dict[str, list[tuple[float, float]]] = {}
    for r in runs:
        if r.label != "full":
            continue
        for s in r.steps:
            series.setdefault(s.step, []).append((r.records, s.seconds))
        series.setdefault("total", []).append((r.records, r.step_seconds))
    series["floor"] = [
        (next((r.records for r in runs if r.scale == sc), sc), f["seconds"])
        for sc, f in sorted(floors.items())
    ]
    return loglog_chart(
        series,
        title="Nightly pipeline: step time vs source records (full runs)",
        x_label="source records delivered",
        y_label="seconds",
    )


# --------------------------------------------------------------------------- report


def _fmt_s(x: float) -> str:
    return f"{x:,.1f}"


def table_rows(runs: list[RunFigures], floors: dict[int, dict[str, Any]]) -> list[str]:
    head = (
        "| scale | run | records | step | time (s) | rows/s | contracts (s) | contract share "
        "| candidate pairs (companies / people) | peak driver / JVM RSS (MiB) | files written "
        "| x floor |"
    )
    lines = [head, "|" + "---|" * 12]
    for r in runs:
        floor = floors.get(r.scale, {}).get("seconds")
        for s in r.steps:
            pairs = ""
            if s.step == "silver":
                pairs = (
                    f"{s.metrics.get('companies.candidate_pairs', 0):,} / "
                    f"{s.metrics.get('people.candidate_pairs', 0):,}"
                )
            rate = s.rows_in / s.seconds if s.seconds else 0
            share = s.contract_seconds / s.seconds if s.seconds else 0
            lines.append(
                f"| {r.scale:,} | {r.label} | {r.records:,} | {s.step} | {_fmt_s(s.seconds)} "
                f"| {rate:,.0f} | {_fmt_s(s.contract_seconds)} | {share:.0%} | {pairs} | | | |"
            )
        total_share = r.contract_seconds / r.step_seconds if r.step_seconds else 0
        # Zero: the run's bench process stopped before storing them (see the notes below).
        memory = (
            f"{r.peak_python_mib:,.0f} / {r.peak_jvm_mib:,.0f}"
            if r.peak_python_mib
            else "not recorded"
        )
        wall = f" (wall {_fmt_s(r.wall)})" if r.wall else ""
        ratio = f"{r.step_seconds / floor:.1f}" if floor and r.label == "full" else ""
        lines.append(
            f"| {r.scale:,} | {r.label} | {r.records:,} | **total**{wall} "
            f"| **{_fmt_s(r.step_seconds)}** | {r.records / r.step_seconds:,.0f} "
            f"| {_fmt_s(r.contract_seconds)} | {total_share:.0%} | "
            f"| {memory} | {r.files_written:,} "
            f"| {ratio} |"
        )
    return lines


def floor_rows(floors: dict[int, dict[str, Any]]) -> list[str]:
    lines = ["| scale | landing files | rows read and written | floor (s) | wall with JVM start (s) |",
             "|---|---|---|---|---|"]  # fmt: skip
    for scale, f in sorted(floors.items()):
        lines.append(
            f"| {scale:,} | {f['files']} | {f['rows']:,} | {_fmt_s(f['seconds'])} "
            f"| {_fmt_s(f['wall'])} |"
        )
    return lines


def peer_rows(peers: dict[int, dict[str, Any]]) -> list[str]:
    lines = [
        "| scale | company records | ours: time (s) / pairs / precision / recall / F1 "
        "| Splink: time (s) / pairs / precision / recall / F1 | Splink threshold |",
        "|---|---|---|---|---|",
    ]
    for scale, p in sorted(peers.items()):
        timing = "" if p.get("warm", True) else " (cold)"
        lines.append(
            f"| {scale:,} | {p['records']:,} | {_fmt_s(p['ours_seconds'])}{timing} / "
            f"{p['ours_candidate_pairs']:,} / {p['ours_precision']:.4f} / "
            f"{p['ours_recall']:.4f} / **{p['ours_f1']:.4f}** | {_fmt_s(p['splink_seconds'])}{timing} / "
            f"{p['splink_pairs_scored']:,} / {p['splink_precision']:.4f} / "
            f"{p['splink_recall']:.4f} / **{p['splink_f1']:.4f}** "
            f"| p >= {p['threshold']} (Splink {p['splink_version']}) |"
        )
    for scale, p in sorted(peers.items()):
        training = "; ".join(p.get("splink_training") or [])
        if "after" in training or "skipped" in training:
            lines.append(f"\nSplink training at {scale:,}: {training}.")
    return lines


def machine() -> str:
    import deltalake
    import pyspark

    cores = os.cpu_count()
    mem = ""
    try:
        kib = int(re.search(r"MemTotal:\s+(\d+)", Path("/proc/meminfo").read_text()).group(1))  # type: ignore[union-attr]
        mem = f", {kib / 1024 / 1024:.0f} GiB RAM"
    except (OSError, AttributeError):
        pass
    return (
        f"{cores} cores{mem}, {platform.system()} {platform.release()}; Python "
        f"{platform.python_version()}, PySpark {pyspark.__version__}, deltalake "
        f"{deltalake.__version__}, Java: {_java()}"
    )


def _java() -> str:
    try:
        out = subprocess.run(["java", "-version"], capture_output=True, text=True).stderr
        return out.splitlines()[0].strip()
    except (OSError, IndexError):
        return "?"


def write_section(command: str, lines: list[str]) -> None:
    body = "\n".join([SECTION, "", *lines, ""]) + "\n"
    path = ROOT / "BENCHMARKS.md"
    text = path.read_text(encoding="utf-8") if path.exists() else "# Benchmarks\n"
    pattern = re.compile(rf"^{re.escape(SECTION)}\n.*?(?=^## |\Z)", re.S | re.M)
    text = pattern.sub(body, text) if pattern.search(text) else text.rstrip() + "\n\n" + body
    path.write_text(text, encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--scales", default="100000,1000000,10000000")
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--work", type=Path, help="scratch folder (default: a temporary folder)")
    ap.add_argument("--keep", action="store_true", help="keep the generated data and lakes")
    ap.add_argument("--no-day2", action="store_true", help="skip the day-2 incremental runs")
    ap.add_argument(
        "--no-peer", action="store_true", help="skip the Splink peer (bench/splink_peer.py)"
    )
    ap.add_argument("--no-write", action="store_true", help="do not update BENCHMARKS.md")
    args = ap.parse_args(argv)
    scales = [int(s.replace("_", "")) for s in args.scales.split(",") if s.strip()]
    work = args.work or Path(tempfile.mkdtemp(prefix="lakehouse-bench-"))
    runs: list[RunFigures] = []
    floors: dict[int, dict[str, Any]] = {}
    peers: dict[int, dict[str, Any]] = {}
    try:
        for scale in scales:
            landing, lake = work / f"s{scale}" / "landing", work / f"s{scale}" / "lake"
            shutil.rmtree(work / f"s{scale}", ignore_errors=True)
            gen = [str(BIN / "lakehouse"), "generate", "--scale", str(scale), "--seed",
                   str(args.seed), "--landing", str(landing)]  # fmt: skip
            subprocess.run([*gen, "--date", DAY1], check=True, cwd=ROOT, stdout=subprocess.DEVNULL)
            print(f"[{scale:,}] floor ...", flush=True)
            floors[scale] = measure_floor(landing, DAY1, work)
            print(f"[{scale:,}] floor {floors[scale]['seconds']:.1f} s; full run ...", flush=True)
            full = run_pipeline(scale, "full", DAY1, landing, lake)
            runs.append(full)
            print(f"[{scale:,}] full run {full.step_seconds:.1f} s", flush=True)
            if not args.no_peer:
                print(f"[{scale:,}] Splink peer on the same company records ...", flush=True)
                peers[scale] = run_peer(landing, lake, work)
            if not args.no_day2:
                subprocess.run([*gen, "--date", DAY2], check=True, cwd=ROOT,
                               stdout=subprocess.DEVNULL)  # fmt: skip
                day2 = run_pipeline(scale, "day-2", DAY2, landing, lake)
                runs.append(day2)
                print(
                    f"[{scale:,}] day-2 run {day2.step_seconds:.1f} s "
                    f"({day2.step_seconds / full.step_seconds:.0%} of the full run)",
                    flush=True,
                )
            if not args.keep:
                shutil.rmtree(work / f"s{scale}", ignore_errors=True)
    finally:
        if not args.keep and args.work is None:
            shutil.rmtree(work, ignore_errors=True)
    today = dt.date.today().isoformat()
    runs, floors, dates = merge_results(RESULTS / "pipeline.json", runs, floors, today)
    peers = merge_peers(RESULTS / "peer.json", peers)
    chart = RESULTS / "pipeline_scale.svg"
    chart.write_text(scale_chart(runs, floors), encoding="utf-8")
    command = ".venv/bin/python bench/pipeline_bench.py --scales <scale>"
    measured = ", ".join(f"{int(k):,} on {v}" for k, v in dates.items())
    lines = [
        f"Command: `{command}` per scale (`make bench SCALES=...`); this invocation: "
        f"`{' '.join(sys.argv[1:]) or '(defaults)'}`. Machine: {machine()}. Measured: {measured}.",
        "",
        "Step times come from `ops.runs` (the run ledger); they exclude starting the JVM, "
        "which the wall time includes. Contract time is the enforcement time the "
        "ContractGuard records per step. Peak memory is the largest resident set seen of the "
        "driver's Python process and of its JVM (polled every 0.25 s). Stored figures: "
        "`bench/results/pipeline.json`.",
        "",
        *table_rows(runs, floors),
        "",
        f"![Step time vs scale, log-log](bench/results/{chart.name})",
        "",
        "**Floor**: one Spark process reads every landing file of the full delivery once and "
        "writes its rows once as Parquet (no parsing, no contracts, no Delta).",
        "",
        *floor_rows(floors),
        "",
        "**Peer**: Splink (DuckDB backend) and our company resolution on the same Silver "
        "company records of the full run's lake, scored by the same pairwise F1 against the "
        "generator's truth (`bench/splink_peer.py`; each side runs once untimed first unless "
        "marked cold).",
        "",
        *peer_rows(peers),
    ]
    print("\n".join(lines))
    if not args.no_write:
        write_section(command, lines)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
