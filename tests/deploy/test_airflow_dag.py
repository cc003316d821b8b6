"""The Airflow DAG (deploy/airflow/crm_lakehouse_dag.py), loaded by Airflow itself.

Airflow lives in its own venv, ``.venv-airflow`` (``make airflow-venv``; ``make test`` builds it
from ``deploy/airflow/requirements.lock``), so the DAG is loaded and its tasks executed in a
subprocess by ``tests/deploy/airflow_dag_probe.py``. The tasks run through the real
``SparkSubmitOperator`` and hook; the ``spark-submit`` they start is a stand-in on ``PATH`` that
records its arguments and exits with a chosen code, so the command the scheduler would run and
the way each lakehouse exit code ends the task are both checked without a cluster.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
AIRFLOW_PYTHON = ROOT / ".venv-airflow" / "bin" / "python"
PROBE = Path(__file__).with_name("airflow_dag_probe.py")
DAG_FOLDER = ROOT / "deploy" / "airflow"
DS = "2026-11-20"
DIST = "/srv/crm-lakehouse/dist"
FAKE_SPARK_SUBMIT = """#!/bin/sh
printf '%s\\n' "$@" > "$PROBE_ARGS_FILE"
exit "${PROBE_EXIT:-0}"
"""
JOBS = {"bronze": "bronze_ingest.py", "silver": "silver_build.py", "gold": "gold_build.py"}


def run_probe(tmp: Path, **settings: str) -> dict[str, Any]:
    if not AIRFLOW_PYTHON.is_file():
        pytest.fail(
            f"{AIRFLOW_PYTHON} not found: the DAG tests need Airflow in its own venv. "
            "Build it with 'make airflow-venv' ('make test' does it first)."
        )
    bin_dir = tmp / "bin"
    bin_dir.mkdir(parents=True, exist_ok=True)
    fake = bin_dir / "spark-submit"
    fake.write_text(FAKE_SPARK_SUBMIT, encoding="utf-8")
    fake.chmod(0o755)
    env = {
        "PATH": f"{bin_dir}{os.pathsep}/usr/bin{os.pathsep}/bin",
        "HOME": str(tmp),
        "AIRFLOW_HOME": str(tmp / "airflow-home"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW_CONN_SPARK_DEFAULT": json.dumps(
            {"conn_type": "spark", "host": "yarn", "extra": {"deploy-mode": "client"}}
        ),
        "AIRFLOW_VAR_CRM_LAKEHOUSE_ENV": "prod",
        "PROBE_ARGS_FILE": str(tmp / "spark-submit-args.txt"),
        "CRM_LAKEHOUSE_DIST": DIST,
        **settings,
    }
    done = subprocess.run(
        [str(AIRFLOW_PYTHON), str(PROBE), str(DAG_FOLDER), DS],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    lines = [ln for ln in done.stdout.splitlines() if ln.startswith("PROBE-JSON ")]
    assert done.returncode == 0 and lines, (
        f"the DAG probe failed (exit {done.returncode}):\n{done.stdout[-3000:]}\n"
        f"{done.stderr[-3000:]}"
    )
    return json.loads(lines[-1].removeprefix("PROBE-JSON "))  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def probe(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    return run_probe(tmp_path_factory.mktemp("airflow"))


def test_the_dag_imports_without_errors(probe: dict[str, Any]) -> None:
    assert probe["import_errors"] == {}
    assert probe["dag_ids"] == ["crm_lakehouse_nightly"]


def test_nightly_schedule_one_run_at_a_time_no_catchup_by_default(probe: dict[str, Any]) -> None:
    dag = probe["dag"]
    assert dag["schedule"] == "0 2 * * *"
    assert dag["timetable"] == "CronDataIntervalTimetable"
    assert dag["max_active_runs"] == 1
    assert dag["catchup"] is False


def test_a_run_processes_the_day_before_it_starts(probe: dict[str, Any]) -> None:
    dag = probe["dag"]
    assert dag["first_run_after"] == "2026-11-02T02:00:00+00:00"
    assert dag["first_logical_date"].startswith("2026-11-01")


def test_bronze_then_silver_then_gold(probe: dict[str, Any]) -> None:
    tasks = probe["tasks"]
    assert set(tasks) == {"bronze", "silver", "gold"}
    assert (tasks["bronze"]["upstream"], tasks["bronze"]["downstream"]) == ([], ["silver"])
    assert (tasks["silver"]["upstream"], tasks["silver"]["downstream"]) == (["bronze"], ["gold"])
    assert (tasks["gold"]["upstream"], tasks["gold"]["downstream"]) == (["silver"], [])


@pytest.mark.parametrize("task", sorted(JOBS))
def test_each_task_is_a_retried_spark_submit(probe: dict[str, Any], task: str) -> None:
    info = probe["tasks"][task]
    assert "SparkSubmitOperator" in info["operator_bases"]
    assert info["conn_id"] == "spark_default"
    assert info["retries"] == 3
    assert info["retry_delay_s"] == 600
    assert info["retry_exponential_backoff"] is True
    assert "{{ ds }}" in info["application_args"]


@pytest.mark.parametrize("task", sorted(JOBS))
def test_the_submitted_command_runs_the_job_for_the_logical_date(
    probe: dict[str, Any], task: str
) -> None:
    argv = probe["tasks"][task]["runs"]["0"]["argv"]
    assert argv is not None, "spark-submit was not started"
    app = argv.index(f"{DIST}/jobs/{JOBS[task]}")
    assert argv[app + 1 :] == ["--env", "prod", "--date", DS]
    options = dict(zip(argv[:app:2], argv[1:app:2], strict=True))
    assert options["--master"] == "yarn"
    assert options["--deploy-mode"] == "cluster"
    assert options["--py-files"] == f"{DIST}/crm_lakehouse.zip"
    assert options["--archives"].split(",") == [
        f"{DIST}/crm-lakehouse-env.tar.gz#environment",
        f"{DIST}/conf.zip#conf",
        f"{DIST}/contracts.zip#contracts",
    ]
    assert options["--packages"] == "io.delta:delta-spark_4.2_2.13:4.4.1"
    assert options["--name"] == f"crm-lakehouse-{task}-{DS}"
    confs = [argv[i + 1] for i in range(app) if argv[i] == "--conf"]
    assert "spark.pyspark.python=./environment/bin/python" in confs
    assert "spark.sql.extensions=io.delta.sql.DeltaSparkSessionExtension" in confs
    assert "--files" not in options
    assert not [c for c in confs if "PII" in c]


@pytest.mark.parametrize(
    ("code", "raised"),
    [
        pytest.param("0", None, id="success"),
        pytest.param("1", "AirflowException", id="step-failed-retried"),
        pytest.param("5", "AirflowException", id="lock-held-retried"),
        pytest.param("4", "AirflowFailException", id="contract-failed-not-retried"),
        pytest.param("2", "AirflowFailException", id="bad-config-not-retried"),
    ],
)
def test_exit_codes_decide_whether_airflow_retries(
    probe: dict[str, Any], code: str, raised: str | None
) -> None:
    for task in JOBS:
        assert probe["tasks"][task]["runs"][code]["raised"] == raised, task


def test_settings_come_from_the_environment(tmp_path: Path) -> None:
    probe = run_probe(
        tmp_path,
        CRM_LAKEHOUSE_CATCHUP="true",
        CRM_LAKEHOUSE_SCHEDULE="30 3 * * *",
        CRM_LAKEHOUSE_SPARK_CONN_ID="spark_default",
        CRM_LAKEHOUSE_PII_KEY_FILE="/etc/crm-lakehouse/pii.key",
        CRM_LAKEHOUSE_PII_SECRET="crm-lakehouse-pii:key",
        CRM_LAKEHOUSE_DELTA_PACKAGE="",
    )
    assert probe["dag"]["catchup"] is True
    assert probe["dag"]["schedule"] == "30 3 * * *"
    assert probe["dag"]["first_run_after"] == "2026-11-02T03:30:00+00:00"
    argv = probe["tasks"]["silver"]["runs"]["0"]["argv"]
    assert argv[argv.index("--files") + 1] == "/etc/crm-lakehouse/pii.key#pii.key"
    confs = [argv[i + 1] for i, a in enumerate(argv) if a == "--conf"]
    assert "spark.yarn.appMasterEnv.LAKEHOUSE_PII_KEY_FILE=pii.key" in confs
    assert "spark.kubernetes.driver.secretKeyRef.LAKEHOUSE_PII_KEY=crm-lakehouse-pii:key" in confs
    assert "--packages" not in argv
    assert not [c for c in confs if c.startswith("spark.sql.extensions=")]


def test_a_bad_setting_is_an_import_error_naming_it(tmp_path: Path) -> None:
    probe = run_probe(tmp_path, CRM_LAKEHOUSE_CATCHUP="sometimes")
    assert probe["dag_ids"] == []
    (error,) = probe["import_errors"].values()
    assert "CRM_LAKEHOUSE_CATCHUP='sometimes': expected true or false" in error
