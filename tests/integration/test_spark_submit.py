"""The packaged build, run for real by pyspark's own ``spark-submit``, the way it is deployed.

``make package package-env`` builds ``dist/``; ``dist/bin/install.sh`` lays out an install folder
outside the repository (``dist/``, ``environment/`` from the venv-pack archive, ``conf/`` and
``contracts/``: what a cluster container gets from ``--archives``), and the cron wrapper
``dist/bin/crm-lakehouse-nightly.sh`` submits ``dist/jobs/pipeline.py`` for a date in client
mode on ``local[2]``. Then one step job, ``dist/jobs/gold_build.py`` (what the Airflow DAG
submits), is run for the same date.

The driver and the Python workers run ``./environment/bin/python``, which holds the runtime
dependencies but neither crm_lakehouse nor pyspark (checked below), with no PYTHONPATH and the
install folder as working directory: the only crm_lakehouse they can import is the one in
``dist/crm_lakehouse.zip`` on ``--py-files``.
"""

from __future__ import annotations

import dataclasses
import os
import subprocess
from collections.abc import Mapping
from pathlib import Path

import pyspark
import pytest
from deltalake import DeltaTable

from crm_lakehouse.config import Settings
from crm_lakehouse.lake import Lake
from crm_lakehouse.synthetic import generate

ROOT = Path(__file__).resolve().parents[2]
SPARK_SUBMIT = ROOT / ".venv" / "bin" / "spark-submit"
DATE = "2026-11-20"
SCALE = 300
PII_KEY = "spark-submit-test-key-0123456789"
SPARK_ARGS = (
    "--driver-memory 1g --conf spark.sql.shuffle.partitions=2 --conf spark.ui.enabled=false"
)
# A site overlay for this machine: no master (spark-submit sets it), Delta through delta-rs (the
# connector's jars cannot be fetched here), paths relative to the install folder.
OVERLAY = """\
paths:
  landing: landing
  lake: lake
  reports: reports
spark:
  master: null
  shuffle_partitions: 2
delta:
  adapter: delta_rs
"""


def _run(
    cmd: list[str],
    *,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
    timeout: float = 600,
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )


def _explain(what: str, done: subprocess.CompletedProcess[str], log: Path | None = None) -> str:
    text = log.read_text("utf-8", errors="replace") if log and log.is_file() else done.stderr
    tail = "\n".join(text.splitlines()[-40:])
    return f"{what} exited {done.returncode}\n{done.stderr[-2000:]}\n--- output (tail) ---\n{tail}"


def _clean_env(**extra: str) -> dict[str, str]:
    """A minimal environment: no PYTHONPATH, no virtualenv, nothing of the repository on PATH."""
    path = os.pathsep.join(
        p
        for p in os.environ.get("PATH", "/usr/bin:/bin").split(os.pathsep)
        if p and not Path(p).resolve().is_relative_to(ROOT)
    )
    env = {
        "PATH": path,
        "HOME": os.environ.get("HOME", "/tmp"),
        "TZ": "UTC",
        "LANG": "C.UTF-8",
        # pyspark's Spark (jars, bin/spark-class, python/lib/pyspark.zip), as on a cluster node
        "SPARK_HOME": str(Path(pyspark.__file__).parent),
        "LAKEHOUSE_PII_KEY": PII_KEY,
        **extra,
    }
    if "JAVA_HOME" in os.environ:
        env["JAVA_HOME"] = os.environ["JAVA_HOME"]
    return env


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory, base_settings: Settings) -> Path:
    """The build, made by make and installed by its own install script outside the repo."""
    make_env = {
        k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL")
    }
    made = _run(
        ["make", "--no-print-directory", "package", "package-env"],
        cwd=ROOT,
        env=make_env,
        timeout=1500,
    )
    assert made.returncode == 0, f"make package package-env failed:\n{made.stdout}\n{made.stderr}"
    home = tmp_path_factory.mktemp("install") / "crm-lakehouse"
    assert not home.resolve().is_relative_to(ROOT)
    installed = _run(["bash", str(ROOT / "dist" / "bin" / "install.sh"), str(home)], timeout=600)
    assert installed.returncode == 0, _explain("install.sh", installed)
    (home / "conf" / "submit_test.yaml").write_text(OVERLAY, encoding="utf-8")
    generate(
        home / "landing", scale=SCALE, seed=7, date=DATE, faults=base_settings.generator.faults
    )
    return home


def _versions(lake: Lake) -> dict[str, int]:
    return {t: DeltaTable(lake.location(t)).version() for t in lake.tables()}


def _rows(lake: Lake, table: str) -> int:
    return DeltaTable(lake.location(table)).to_pyarrow_dataset().count_rows()


def _ledger(lake: Lake) -> list[dict[str, object]]:
    columns = ["run_id", "logical_date", "step", "status"]
    return DeltaTable(lake.location("ops.runs")).to_pyarrow_table(columns=columns).to_pylist()


@dataclasses.dataclass(frozen=True)
class Runs:
    home: Path
    nightly: subprocess.CompletedProcess[str]
    ledger_after_nightly: list[dict[str, object]]
    versions_after_nightly: Mapping[str, int]
    gold_job: subprocess.CompletedProcess[str]
    versions_after_gold_job: Mapping[str, int]

    @property
    def lake(self) -> Lake:
        return Lake(self.home / "lake")

    @property
    def log(self) -> Path:
        return self.home / "logs" / f"crm-lakehouse-{DATE}.log"


@pytest.fixture(scope="module")
def runs(home: Path) -> Runs:
    lake = Lake(home / "lake")
    nightly = _run(
        ["bash", str(home / "dist" / "bin" / "crm-lakehouse-nightly.sh"), DATE],
        env=_clean_env(
            SPARK_SUBMIT=str(SPARK_SUBMIT),
            CRM_LAKEHOUSE_MASTER="local[2]",
            CRM_LAKEHOUSE_ENV="submit_test",
            CRM_LAKEHOUSE_DELTA_PACKAGE="",
            CRM_LAKEHOUSE_SPARK_ARGS=SPARK_ARGS,
        ),
        timeout=900,
    )
    ledger = _ledger(lake) if "ops.runs" in lake.tables() else []
    after_nightly = _versions(lake)
    gold_job = _run(
        [
            str(SPARK_SUBMIT),
            *("--master", "local[2]", *SPARK_ARGS.split()),
            *("--conf", "spark.pyspark.python=./environment/bin/python"),
            *("--py-files", "dist/crm_lakehouse.zip"),
            "dist/jobs/gold_build.py",
            *("--env", "submit_test", "--date", DATE),
        ],
        cwd=home,
        env=_clean_env(),
        timeout=600,
    )
    return Runs(home, nightly, ledger, after_nightly, gold_job, _versions(lake))


def test_the_environment_has_the_dependencies_but_not_the_library(home: Path) -> None:
    python = str(home / "environment" / "bin" / "python")
    deps = _run(
        [python, "-c", "import deltalake, great_expectations, yaml, tldextract"], env=_clean_env()
    )
    assert deps.returncode == 0, deps.stderr
    for module in ("crm_lakehouse", "pyspark"):
        probe = _run([python, "-c", f"import {module}"], env=_clean_env())
        assert probe.returncode != 0, f"{module} importable from the packed environment"
        assert f"No module named '{module}'" in probe.stderr


def test_the_nightly_wrapper_runs_the_packaged_pipeline(runs: Runs) -> None:
    assert runs.nightly.returncode == 0, _explain(
        "crm-lakehouse-nightly.sh", runs.nightly, runs.log
    )
    log = runs.log.read_text("utf-8")
    assert f"start: crm-lakehouse run for {DATE}" in log
    assert "end: exit 0 (done)" in log


def test_bronze_silver_and_gold_tables_have_rows(runs: Runs) -> None:
    tables = runs.lake.tables()
    for tier in ("bronze", "silver", "gold"):
        in_tier = [t for t in tables if t.startswith(f"{tier}.") and "__" not in t]
        assert in_tier, f"no {tier} tables in {runs.lake.root}: {tables}"
        assert sum(_rows(runs.lake, t) for t in in_tier) > 0, f"{tier} tables are empty"
    for table in ("bronze.salesforce_accounts", "silver.companies", "gold.pipeline_summary"):
        assert table in tables, f"{table} missing; tables: {tables}"
        assert _rows(runs.lake, table) > 0, f"{table} has no rows"


def test_the_run_ledger_records_every_step_of_the_date(runs: Runs) -> None:
    succeeded = {
        r["step"]
        for r in runs.ledger_after_nightly
        if r["logical_date"] == DATE and r["status"] == "succeeded"
    }
    assert {"bronze", "silver", "gold"} <= succeeded, runs.ledger_after_nightly


def test_a_step_job_runs_only_its_step_and_a_rerun_changes_no_data(runs: Runs) -> None:
    assert runs.gold_job.returncode == 0, _explain("spark-submit gold_build.py", runs.gold_job)
    before = {r["run_id"] for r in runs.ledger_after_nightly}
    new = [r for r in _ledger(runs.lake) if r["run_id"] not in before]
    assert {r["step"] for r in new} == {"gold"}, new
    data = {t for t in runs.versions_after_nightly if not t.startswith("ops.")}
    assert data, "no data tables after the nightly run"
    changed = {
        t: (runs.versions_after_nightly[t], runs.versions_after_gold_job.get(t))
        for t in data
        if runs.versions_after_gold_job.get(t) != runs.versions_after_nightly[t]
    }
    assert not changed, f"the rerun wrote to data tables (version before, after): {changed}"
