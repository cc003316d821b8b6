"""Benchmark of the synthetic generator: wall time, throughput and peak memory.

Usage::

    .venv/bin/python bench/generator_bench.py [--scale 1000000] [--seed 42] [--date 2026-11-20]
        [--delta-date 2026-11-21] [--workers N] [--out DIR] [--keep]

Generates a full dump (and, with ``--delta-date``, the delta of the next date) into a temporary
landing folder with the default fault rates of ``conf/base.yaml`` and prints scale, seconds,
records per second and peak resident memory (``ru_maxrss``): of this process, and of the
largest worker process when the run is sharded. Peaks are maxima over the process lifetime, so
each measurement should run in a fresh process.
"""

from __future__ import annotations

import argparse
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

from crm_lakehouse.config import load_settings
from crm_lakehouse.synthetic import generate

ROOT = Path(__file__).resolve().parents[1]


def _peak_rss_mib(who: int) -> float:
    # Linux reports ru_maxrss in KiB; for RUSAGE_CHILDREN it is the largest waited-for child.
    return resource.getrusage(who).ru_maxrss / 1024


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--scale", type=int, default=1_000_000)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--date", default="2026-11-20")
    ap.add_argument("--delta-date", default=None, help="also generate this later date (a delta)")
    ap.add_argument("--workers", type=int, default=None, help="worker processes (default: auto)")
    ap.add_argument("--out", type=Path, default=None, help="landing folder (default: a temp dir)")
    ap.add_argument("--keep", action="store_true", help="keep the generated files")
    args = ap.parse_args(argv)

    faults = load_settings("local", ROOT / "conf").generator.faults
    out = args.out or Path(tempfile.mkdtemp(prefix="generator-bench-"))
    try:
        runs = [args.date] + ([args.delta_date] if args.delta_date else [])
        for date in runs:
            t0 = time.perf_counter()
            report = generate(
                out,
                scale=args.scale,
                seed=args.seed,
                date=date,
                faults=faults,
                workers=args.workers,
            )
            seconds = time.perf_counter() - t0
            size = sum(f.bytes for f in report.files)
            print(
                f"mode={report.mode} date={date} scale={args.scale} records={report.total_records} "
                f"seconds={seconds:.2f} records_per_s={report.total_records / seconds:,.0f} "
                f"bytes={size:,} peak_rss_mib={_peak_rss_mib(resource.RUSAGE_SELF):.1f} "
                f"worker_peak_rss_mib={_peak_rss_mib(resource.RUSAGE_CHILDREN):.1f}",
                flush=True,
            )
    finally:
        if not args.keep and args.out is None:
            shutil.rmtree(out, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
