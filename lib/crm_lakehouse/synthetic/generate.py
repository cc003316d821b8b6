"""The generator's entry point: one pass over the world's companies, streaming every file.

For each company index the company's tree is rebuilt from the seed, replayed through the
earlier deltas of the chain, and its records for this delivery are rendered straight into the
nine delivery files and the truth tables; then the tree is dropped. Memory is therefore one
company tree plus write buffers, whatever the scale, and a later date never needs to read
earlier files: only the earlier manifests, to learn the chain of dates and their fault rates.

Large runs are sharded: worker processes (``python -m crm_lakehouse.synthetic.shard``) each
write a contiguous range of companies into a scratch folder, and the parts are concatenated in
company order (with the truth's line numbers shifted). Every company's rows depend only on the
seed and its index, so the result is byte-identical to a single-process run, whatever the
number of workers.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import math
import os
import shutil
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

from crm_lakehouse.config import FaultRates
from crm_lakehouse.errors import ConfigError, LakehouseError
from crm_lakehouse.sources import FileFormat, source
from crm_lakehouse.synthetic.rand import mix, rng
from crm_lakehouse.synthetic.render import (
    EXTRA_ACCOUNT_COLUMN,
    EXTRA_HUBSPOT_PROPERTY,
    SPECS,
    Renderer,
    Row,
    Tally,
    epoch_day,
    older_lmd,
)
from crm_lakehouse.synthetic.report import FileReport, GenerationReport, SchemaChange
from crm_lakehouse.synthetic.truth import (
    TRUTH_FILES,
    TruthWriter,
    find_chain,
    truth_dir,
    write_manifest,
)
from crm_lakehouse.synthetic.world import (
    T_DELIVERY,
    T_DETAIL,
    T_REDELIVERY,
    Kind,
    Rec,
    Timeline,
    Tree,
    WorldParams,
    companies_for_scale,
    late_candidates,
    replay,
)
from crm_lakehouse.synthetic.writer import CsvSink, JsonlSink, copy_rows

REDELIVERY_SUFFIX = "redelivery"
PARALLEL_MIN_COMPANIES = 20_000  # below this (about 150k records) process start-up dominates
MAX_WORKERS = 8
_2_POW_M32 = 1.0 / (1 << 32)
_FAULT_ORDER = (
    "name_variant",
    "domain_variant",
    "email_variant",
    "typo",
    "missing_field",
    "provider_conflict",
    "stale_provider",
    "malformed_row",
    "invalid_utf8",
    "duplicate_file",
    "late_update",
)


def _file_name(kind: Kind, suffix: str = "") -> str:
    ext = source(kind.source).format.value
    return f"{kind.entity}{'-' + suffix if suffix else ''}.{ext}"


def _rel_path(kind: Kind, date: str) -> str:
    return f"{kind.source}/{date}/{_file_name(kind)}"


def _columns(kind: Kind, idx: int) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(delivered columns, columns beyond the registry) of ``kind`` in delivery ``idx``."""
    ent = source(kind.source).entity(kind.entity)
    extra: tuple[str, ...] = ()
    if idx > 0 and kind == Kind.ACCOUNT:
        extra = (EXTRA_ACCOUNT_COLUMN,)
    elif idx > 0 and kind == Kind.HS_COMPANY:
        extra = (f"properties.{EXTRA_HUBSPOT_PROPERTY}",)
    is_csv = source(kind.source).format == FileFormat.CSV
    return (ent.columns + extra if is_csv else ent.columns), extra


def _validate(scale: int, seed: int, date: str, faults: FaultRates, workers: int | None) -> None:
    problems: list[str] = []
    if isinstance(scale, bool) or not isinstance(scale, int) or scale < 1:
        problems.append(f"scale: expected a positive integer, found {scale!r}")
    if isinstance(seed, bool) or not isinstance(seed, int):
        problems.append(f"seed: expected an integer, found {seed!r}")
    try:
        if dt.date.fromisoformat(date).isoformat() != date:
            raise ValueError(date)
    except (TypeError, ValueError):
        problems.append(f"date: expected YYYY-MM-DD, found {date!r}")
    if workers is not None and (
        isinstance(workers, bool) or not isinstance(workers, int) or workers < 1
    ):
        problems.append(f"workers: expected a positive integer or None, found {workers!r}")
    for f in dataclasses.fields(FaultRates):
        value = getattr(faults, f.name)
        if f.name == "duplicate_file":
            if not isinstance(value, bool):
                problems.append(f"faults.duplicate_file: expected true or false, found {value!r}")
        elif (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or math.isnan(value)
            or not (0.0 <= value <= 1.0)
        ):
            problems.append(f"faults.{f.name}: expected a rate between 0 and 1, found {value!r}")
    if problems:
        raise ConfigError(problems)


def _clean(landing: Path, date: str) -> None:
    """Remove what an earlier run for the same date wrote (and only that), so a rerun with
    different settings leaves no stale file, e.g. an old redelivery copy."""
    for kind in Kind:
        folder = landing / kind.source / date
        for name in (_file_name(kind), _file_name(kind, REDELIVERY_SUFFIX)):
            (folder / name).unlink(missing_ok=True)
    for name in (*TRUTH_FILES, "manifest.json"):
        (truth_dir(landing, date) / name).unlink(missing_ok=True)


def _auto_workers(workers: int | None, companies: int) -> int:
    if not sys.executable:
        return 1  # an embedded interpreter: no way to start another Python
    if workers is not None:
        return max(1, min(workers, companies))
    if companies < PARALLEL_MIN_COMPANIES:
        return 1
    return max(1, min(os.cpu_count() or 1, MAX_WORKERS))


def generate(
    landing: Path,
    *,
    scale: int,
    seed: int,
    date: str,
    faults: FaultRates,
    workers: int | None = None,
) -> GenerationReport:
    """Write the five sources' dumps for ``date`` under ``landing`` plus the ground truth.

    The first date of a seed and scale gets a full dump of about ``scale`` records. When
    ``landing/_truth`` already holds manifests of earlier dates with the same seed and scale,
    ``date`` gets a delta instead: updates, new records, deletions, late-arriving older versions,
    refreshed provider rows, and a schema change (an extra trailing ``AccountSource`` column in
    Salesforce accounts, an extra ``hs_lead_status`` property in HubSpot companies).

    Output is a pure function of (seed, scale, the chain of dates, the fault rates of each):
    rerunning writes byte-identical files (only ``elapsed_seconds`` in the manifest differs),
    with any number of ``workers`` (default: one per CPU, up to 8, for large runs; 1 for small
    ones). Raises :class:`ConfigError` listing every invalid argument, and
    :class:`LakehouseError` (with the worker's error output) when a worker process fails.
    """
    started = time.perf_counter()
    _validate(scale, seed, date, faults, workers)
    landing = Path(landing)
    chain = find_chain(landing, seed, scale, date)
    dates = (*chain.dates, date)
    rates = (*(r or faults for r in chain.rates), faults)
    idx = len(dates) - 1
    timeline = Timeline(tuple(epoch_day(d) for d in dates))
    params = WorldParams(seed, scale, timeline, companies_for_scale(scale))
    _clean(landing, date)
    companies = params.companies_at(idx)
    n = _auto_workers(workers, companies)
    if n == 1:
        part = write_part(Task(landing, landing, params, idx, rates, date, 0, companies))
    else:
        part = _write_parallel(landing, params, idx, rates, date, companies, n)
    report = _report(landing, params, idx, rates, dates, part, started)
    write_manifest(report.manifest_path, report.to_manifest())
    return report


# ------------------------------------------------------------------------------- one shard


@dataclasses.dataclass(frozen=True)
class Task:
    """Companies ``lo..hi-1`` of delivery ``idx``, written under ``out`` (the landing folder
    itself, or a scratch folder for a shard)."""

    landing: Path
    out: Path
    params: WorldParams
    idx: int
    rates: tuple[FaultRates, ...]
    date: str
    lo: int
    hi: int


@dataclasses.dataclass
class _FileStat:
    rows: int = 0
    malformed_rows: int = 0
    invalid_utf8_rows: int = 0
    bytes: int = 0
    sha256: str = ""


@dataclasses.dataclass
class Part:
    """What a shard (or the whole run) wrote: counters only, so it pickles cheaply."""

    files: dict[Kind, _FileStat]
    tally: Tally
    changes: Counter[str]
    truth: Counter[str]


def write_part(task: Task) -> Part:
    """Write the rows of companies ``task.lo .. task.hi - 1`` (one shard, or the whole run)."""
    run = _Run(task)
    try:
        for c in range(task.lo, task.hi):
            run.company(replay(task.params, c, task.idx))
    finally:
        run.close()
    return run.part()


class _Run:
    """State of one pass over a range of companies: open files, counters, the renderer."""

    def __init__(self, task: Task) -> None:
        self.p = task.params
        self.idx = task.idx
        self.rates = task.rates[task.idx]
        self.day = self.p.timeline.days[task.idx]
        self.tally = Tally()
        self.renderer = Renderer(self.p, task.idx, task.rates, self.tally)
        self.changes: Counter[str] = Counter()
        self.truth = TruthWriter(truth_dir(task.out, task.date))
        self.truth_counts: Counter[str] = Counter()
        self.sinks: dict[Kind, CsvSink | JsonlSink] = {}
        self.rel: dict[Kind, str] = {}
        self.columns: dict[Kind, tuple[str, ...]] = {}
        self.text_idx: dict[Kind, list[int]] = {}
        self.json_paths: dict[Kind, list[tuple[str, ...]]] = {}
        for kind in Kind:
            self.rel[kind] = _rel_path(kind, task.date)
            cols, _ = _columns(kind, task.idx)
            self.columns[kind] = cols
            path = task.out / self.rel[kind]
            fields = SPECS[kind].text_fields
            if source(kind.source).format == FileFormat.CSV:
                self.sinks[kind] = CsvSink(path, cols)
                self.text_idx[kind] = [cols.index(f) for f in fields]
            else:
                self.sinks[kind] = JsonlSink(path)
                nested = kind in (Kind.HS_COMPANY, Kind.HS_CONTACT)
                self.json_paths[kind] = [("properties", f) if nested else (f,) for f in fields]

    def company(self, tree: Tree) -> None:
        self.renderer.begin(tree)
        self.truth.tree(tree, self.idx)
        self.truth_counts["companies"] += 1
        self.truth_counts["people"] += len(tree.people)
        if self.idx == 0:
            for rec in tree.records:
                self.deliver(tree, rec, "snapshot")
            return
        for rec in tree.records:
            if rec.event_idx == self.idx:
                self.deliver(tree, rec, rec.event)
        rate = self.rates.late_update
        for rec, u in late_candidates(self.p, tree, self.idx):
            if rec.lmd_ms - rec.created_ms < 2000:
                continue  # no room for an older version
            self.tally.eligible["late_update"] += 1
            if u < rate:
                lmd = older_lmd(rec, u / rate)
                if lmd is not None:
                    self.tally.counts["late_update"] += 1
                    self.deliver(tree, rec, "late_update", lmd)

    def deliver(self, tree: Tree, rec: Rec, change: str, late_lmd: int | None = None) -> None:
        """Render one record, apply this delivery's faults (malformed line, invalid bytes),
        write it, and map it to its true entity in ``source_records.csv``."""
        kind = rec.kind
        row = self.renderer.render(tree, rec, late_lmd=late_lmd)
        key = (int(kind), tree.index, rec.slot, self.day)
        self.tally.eligible["malformed_row"] += 1
        self.tally.eligible["invalid_utf8"] += 1
        # one hash per delivered row; its two 32-bit halves decide the two delivery faults
        h = mix(self.p.seed, T_DELIVERY, *key)
        malformed = (
            rng(self.p.seed, T_DETAIL, *key, 1)
            if (h >> 32) * _2_POW_M32 < self.rates.malformed_row
            else None
        )
        bad_bytes = (
            rng(self.p.seed, T_DETAIL, *key, 2)
            if (h & 0xFFFFFFFF) * _2_POW_M32 < self.rates.invalid_utf8
            else None
        )
        sink = self.sinks[kind]
        if isinstance(sink, CsvSink):
            values = row.values
            sink.write(
                [values.get(c) or "" for c in self.columns[kind]],
                self.text_idx[kind],
                malformed,
                bad_bytes,
            )
        else:
            sink.write(self._json(row), self.json_paths[kind], malformed, bad_bytes)
        if malformed is not None:
            row.tags.append("malformed_row")
            self.tally.counts["malformed_row"] += 1
        if bad_bytes is not None:
            row.tags.append("invalid_utf8")
            self.tally.counts["invalid_utf8"] += 1
        self.changes[change] += 1
        self.truth.record(
            (
                kind.source,
                kind.entity,
                row.source_id,
                kind.entity_kind,
                self.renderer.true_id(tree, rec),
                tree.company_id,
                change,
                ";".join(row.tags),
                self.rel[kind],
                str(sink.rows),
            )
        )
        self.truth_counts["source_records"] += 1

    @staticmethod
    def _json(row: Row) -> dict[str, object]:
        if row.top is not None:
            return {**row.top, "properties": dict(row.values)}
        out: dict[str, object] = dict(row.values)
        rk = out.get("revenue_k")
        out["revenue_k"] = int(rk) if isinstance(rk, str) and rk else None
        return out

    def close(self) -> None:
        for sink in self.sinks.values():
            sink.close()
        self.truth.close()

    def part(self) -> Part:
        files = {
            k: _FileStat(s.rows, s.malformed_rows, s.invalid_utf8_rows, s.bytes, s.sha256)
            for k, s in self.sinks.items()
        }
        return Part(files, self.tally, self.changes, self.truth_counts)


# ------------------------------------------------------------------------------- shards


def _write_parallel(
    landing: Path,
    params: WorldParams,
    idx: int,
    rates: tuple[FaultRates, ...],
    date: str,
    companies: int,
    n: int,
) -> Part:
    """Write ``n`` contiguous shards in worker processes, then concatenate them in order.

    Workers are fresh interpreters running :mod:`crm_lakehouse.synthetic.shard`, given their
    task as a JSON file. Unlike ``multiprocessing`` this never forks a caller that holds
    threads or a JVM gateway (a Spark driver) and never re-imports the caller's ``__main__``
    (a script read from stdin, a notebook, a script without a main guard).
    """
    scratch = truth_dir(landing, date) / f".parts-{os.getpid()}"
    bounds = [companies * i // n for i in range(n + 1)]
    tasks = [
        Task(landing, scratch / str(i), params, idx, rates, date, bounds[i], bounds[i + 1])
        for i in range(n)
    ]
    paths = [p for p in sys.path if p]
    if os.environ.get("PYTHONPATH"):
        paths.append(os.environ["PYTHONPATH"])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(paths)}
    procs: list[subprocess.Popen[bytes]] = []
    try:
        for i, task in enumerate(tasks):
            task_file = scratch / f"task-{i}.json"
            task_file.parent.mkdir(parents=True, exist_ok=True)
            task_file.write_text(json.dumps(task_to_json(task)), encoding="utf-8")
            procs.append(
                subprocess.Popen(
                    [sys.executable, "-m", "crm_lakehouse.synthetic.shard", str(task_file)],
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE,
                    env=env,
                )
            )
        parts = []
        for i, proc in enumerate(procs):
            out, err = proc.communicate()
            if proc.returncode != 0:
                tail = err.decode("utf-8", "replace").strip()[-2000:]
                raise LakehouseError(
                    f"generator shard {i} (companies {tasks[i].lo}..{tasks[i].hi - 1}) exited "
                    f"with code {proc.returncode}:\n{tail}"
                )
            parts.append(part_from_json(json.loads(out)))
        return _merge(landing, date, idx, tasks, parts)
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        shutil.rmtree(scratch, ignore_errors=True)


def task_to_json(task: Task) -> dict[str, Any]:
    p = task.params
    return {
        "landing": str(task.landing),
        "out": str(task.out),
        "seed": p.seed,
        "scale": p.scale,
        "days": list(p.timeline.days),
        "n_companies": p.n_companies,
        "idx": task.idx,
        "rates": [dataclasses.asdict(r) for r in task.rates],
        "date": task.date,
        "lo": task.lo,
        "hi": task.hi,
    }


def task_from_json(data: dict[str, Any]) -> Task:
    params = WorldParams(
        data["seed"], data["scale"], Timeline(tuple(data["days"])), data["n_companies"]
    )
    rates = tuple(FaultRates(**r) for r in data["rates"])
    return Task(
        Path(data["landing"]),
        Path(data["out"]),
        params,
        data["idx"],
        rates,
        data["date"],
        data["lo"],
        data["hi"],
    )


def part_to_json(part: Part) -> dict[str, Any]:
    return {
        "files": {k.name: dataclasses.astuple(v) for k, v in part.files.items()},
        "counts": dict(part.tally.counts),
        "eligible": dict(part.tally.eligible),
        "baseline_missing": dict(part.tally.baseline_missing),
        "changes": dict(part.changes),
        "truth": dict(part.truth),
    }


def part_from_json(data: dict[str, Any]) -> Part:
    files = {Kind[k]: _FileStat(*v) for k, v in data["files"].items()}
    tally = Tally(
        Counter(data["counts"]), Counter(data["eligible"]), Counter(data["baseline_missing"])
    )
    return Part(files, tally, Counter(data["changes"]), Counter(data["truth"]))


def _merge(landing: Path, date: str, idx: int, tasks: list[Task], parts: list[Part]) -> Part:
    files: dict[Kind, _FileStat] = {}
    offsets: list[dict[str, int]] = [{} for _ in parts]
    for kind in Kind:
        rel = _rel_path(kind, date)
        is_csv = source(kind.source).format == FileFormat.CSV
        stat = _FileStat()
        with (
            CsvSink(landing / rel, _columns(kind, idx)[0])
            if is_csv
            else JsonlSink(landing / rel) as out
        ):
            for i, (task, part) in enumerate(zip(tasks, parts, strict=True)):
                offsets[i][rel] = stat.rows
                copy_rows(task.out / rel, out, skip_header=is_csv)
                got = part.files[kind]
                stat.rows += got.rows
                stat.malformed_rows += got.malformed_rows
                stat.invalid_utf8_rows += got.invalid_utf8_rows
        stat.bytes, stat.sha256 = out.bytes, out.sha256
        files[kind] = stat
    folder = truth_dir(landing, date)
    for name in TRUTH_FILES:
        with open(folder / name, "wb") as out_f:
            for i, task in enumerate(tasks):
                with open(truth_dir(task.out, date) / name, "rb") as in_f:
                    header = in_f.readline()
                    if i == 0:
                        out_f.write(header)
                    if name != "source_records.csv":
                        shutil.copyfileobj(in_f, out_f, 1 << 20)
                        continue
                    shift = offsets[i]
                    for line in in_f:  # ...,<file>,<line>: paths never contain commas
                        head, file_b, number = line.rstrip(b"\n").rsplit(b",", 2)
                        new = int(number) + shift[file_b.decode()]
                        out_f.write(b"%s,%s,%d\n" % (head, file_b, new))
    tally = Tally()
    changes: Counter[str] = Counter()
    truth: Counter[str] = Counter()
    for part in parts:
        tally.counts.update(part.tally.counts)
        tally.eligible.update(part.tally.eligible)
        tally.baseline_missing.update(part.tally.baseline_missing)
        changes.update(part.changes)
        truth.update(part.truth)
    return Part(files, tally, changes, truth)


# ------------------------------------------------------------------------------- report


def _report(
    landing: Path,
    params: WorldParams,
    idx: int,
    rates: tuple[FaultRates, ...],
    dates: tuple[str, ...],
    part: Part,
    started: float,
) -> GenerationReport:
    """Add the redelivered copy (if configured) and summarise the run."""
    date = dates[-1]
    tally = part.tally
    files: list[FileReport] = []
    for kind, stat in part.files.items():
        cols, extra = _columns(kind, idx)
        files.append(
            FileReport(
                path=_rel_path(kind, date),
                source=kind.source,
                entity=kind.entity,
                format=source(kind.source).format.value,
                rows=stat.rows,
                malformed_rows=stat.malformed_rows,
                invalid_utf8_rows=stat.invalid_utf8_rows,
                bytes=stat.bytes,
                sha256=stat.sha256,
                columns=cols,
                extra_columns=extra,
            )
        )
    tally.eligible["duplicate_file"] += 1
    redelivered = 0
    if rates[idx].duplicate_file:
        candidates = [f for f in files if f.rows > 0]
        if candidates:
            day = params.timeline.days[idx]
            original = candidates[rng(params.seed, T_REDELIVERY, day).randrange(len(candidates))]
            kind = next(k for k in Kind if _rel_path(k, date) == original.path)
            copy = landing / kind.source / date / _file_name(kind, REDELIVERY_SUFFIX)
            shutil.copyfile(landing / original.path, copy)
            files.append(
                dataclasses.replace(
                    original,
                    path=copy.relative_to(landing).as_posix(),
                    redelivery_of=original.path,
                )
            )
            tally.counts["duplicate_file"] += 1
            redelivered = original.rows
    originals = [f for f in files if f.redelivery_of is None]
    schema_changes: tuple[SchemaChange, ...] = ()
    if idx > 0:
        first_delta = dates[1]
        schema_changes = (
            SchemaChange(
                "salesforce", "accounts", "added_column", EXTRA_ACCOUNT_COLUMN, "last", first_delta
            ),
            SchemaChange(
                "hubspot",
                "companies",
                "added_property",
                f"properties.{EXTRA_HUBSPOT_PROPERTY}",
                "properties",
                first_delta,
            ),
        )
    return GenerationReport(
        landing=landing,
        date=date,
        seed=params.seed,
        scale=params.scale,
        mode="full" if idx == 0 else "delta",
        base_date=dates[0],
        previous_dates=dates[:-1],
        faults=rates[idx],
        files=tuple(files),
        total_rows=sum(f.rows for f in files),
        total_records=sum(f.rows for f in originals),
        malformed_rows=sum(f.malformed_rows for f in originals),
        invalid_utf8_rows=sum(f.invalid_utf8_rows for f in originals),
        redelivered_rows=redelivered,
        fault_counts={k: tally.counts.get(k, 0) for k in _FAULT_ORDER},
        fault_eligible={k: tally.eligible.get(k, 0) for k in _FAULT_ORDER},
        changes=dict(sorted(part.changes.items())),
        baseline_missing=dict(sorted(tally.baseline_missing.items())),
        schema_changes=schema_changes,
        truth={k: part.truth.get(k, 0) for k in ("companies", "people", "source_records")},
        world_companies=params.companies_at(idx),
        elapsed_seconds=time.perf_counter() - started,
    )
