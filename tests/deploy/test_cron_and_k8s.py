"""The cron entry, its wrapper script, the install script and the Kubernetes CronJob manifest.

The wrapper (deploy/cron/crm-lakehouse-nightly.sh) is run for real against a minimal install
folder with a stand-in ``spark-submit`` that records its working directory and arguments and
exits with a chosen code; the packaged pipeline itself, run by the same wrapper with the real
``spark-submit``, is covered by tests/integration/test_spark_submit.py.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import subprocess
import tarfile
import zipfile
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
WRAPPER = ROOT / "deploy" / "cron" / "crm-lakehouse-nightly.sh"
CRON = ROOT / "deploy" / "cron" / "crm-lakehouse.cron"
INSTALL = ROOT / "deploy" / "install.sh"
CRONJOB = ROOT / "deploy" / "k8s" / "cronjob.yaml"
FAKE_SPARK_SUBMIT = """#!/bin/sh
pwd > "$PROBE_DIR/cwd"
printf '%s\\n' "$@" > "$PROBE_DIR/argv"
echo "spark-submit output line"
exit "${PROBE_EXIT:-0}"
"""
# One cron time field: *, a number or name, a range, a list, with an optional step.
_FIELD = re.compile(
    r"^(\*|[0-9A-Za-z]+(-[0-9A-Za-z]+)?)(/[0-9]+)?(,(\*|[0-9A-Za-z]+(-[0-9A-Za-z]+)?)(/[0-9]+)?)*$"
)


@pytest.fixture
def home(tmp_path: Path) -> Path:
    """An install folder with the files the wrapper checks for (contents unused by the fake)."""
    home = tmp_path / "home"
    for rel in ("dist/crm_lakehouse.zip", "dist/jobs/pipeline.py", "conf/base.yaml"):
        (home / rel).parent.mkdir(parents=True, exist_ok=True)
        (home / rel).write_text("", encoding="utf-8")
    (home / "environment" / "bin").mkdir(parents=True)
    (home / "environment" / "bin" / "python").write_text("", encoding="utf-8")
    fake = tmp_path / "spark-submit"
    fake.write_text(FAKE_SPARK_SUBMIT, encoding="utf-8")
    fake.chmod(0o755)
    return home


def run_wrapper(home: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    probe = home.parent
    base = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "CRM_LAKEHOUSE_HOME": str(home),
        "SPARK_SUBMIT": str(probe / "spark-submit"),
        "PROBE_DIR": str(probe),
    }
    return subprocess.run(
        ["bash", str(WRAPPER), *args],
        env={**base, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def recorded(home: Path) -> tuple[Path, list[str]]:
    probe = home.parent
    return (
        Path((probe / "cwd").read_text("utf-8").strip()),
        (probe / "argv").read_text("utf-8").splitlines(),
    )


def test_the_wrapper_submits_the_packaged_pipeline_for_the_date(home: Path) -> None:
    done = run_wrapper(home, "2026-11-20", "--steps", "silver,gold")
    assert done.returncode == 0, done.stderr
    cwd, argv = recorded(home)
    assert cwd == home.resolve()
    app = argv.index("dist/jobs/pipeline.py")
    assert argv[app:] == [
        "dist/jobs/pipeline.py",
        *("--env", "cluster", "--date", "2026-11-20", "--steps", "silver,gold"),
    ]
    options = argv[:app]
    assert options[options.index("--master") + 1] == "yarn"
    assert options[options.index("--deploy-mode") + 1] == "client"
    assert options[options.index("--py-files") + 1] == "dist/crm_lakehouse.zip"
    assert options[options.index("--archives") + 1] == "dist/crm-lakehouse-env.tar.gz#environment"
    assert options[options.index("--packages") + 1] == "io.delta:delta-spark_4.2_2.13:4.4.1"
    assert "spark.pyspark.driver.python=./environment/bin/python" in options
    log = (home / "logs" / "crm-lakehouse-2026-11-20.log").read_text("utf-8")
    assert "spark-submit output line" in log
    assert "end: exit 0 (done)" in log


def test_the_date_defaults_to_yesterday_utc(home: Path) -> None:
    before = dt.datetime.now(dt.UTC).date() - dt.timedelta(days=1)
    done = run_wrapper(home)
    after = dt.datetime.now(dt.UTC).date() - dt.timedelta(days=1)
    assert done.returncode == 0, done.stderr
    _, argv = recorded(home)
    date = argv[argv.index("--date") + 1]
    assert date in {before.isoformat(), after.isoformat()}


def test_a_local_master_ships_no_archive_and_settings_come_from_the_environment(
    home: Path,
) -> None:
    done = run_wrapper(
        home,
        "2026-11-20",
        CRM_LAKEHOUSE_MASTER="local[2]",
        CRM_LAKEHOUSE_DELTA_PACKAGE="",
        CRM_LAKEHOUSE_ENV="prod",
        CRM_LAKEHOUSE_SPARK_ARGS="--driver-memory 1g --conf spark.ui.enabled=false",
    )
    assert done.returncode == 0, done.stderr
    _, argv = recorded(home)
    assert "--archives" not in argv and "--packages" not in argv
    assert not any(a.startswith("spark.sql.extensions=") for a in argv)
    assert argv[argv.index("--master") + 1] == "local[2]"
    assert argv[argv.index("--env") + 1] == "prod"
    assert argv[argv.index("--driver-memory") + 1] == "1g"
    assert "spark.ui.enabled=false" in argv


@pytest.mark.parametrize(
    ("code", "meaning"),
    [
        pytest.param(5, "another run holds the lake's lock", id="lock-held"),
        pytest.param(4, "a data contract failed", id="contract-failed"),
        pytest.param(1, "a step failed", id="step-failed"),
    ],
)
def test_the_exit_code_is_passed_on_and_explained(home: Path, code: int, meaning: str) -> None:
    done = run_wrapper(home, "2026-11-20", PROBE_EXIT=str(code))
    assert done.returncode == code
    log = home / "logs" / "crm-lakehouse-2026-11-20.log"
    assert f"exit {code} ({meaning}" in done.stderr
    assert str(log) in done.stderr
    assert f"end: exit {code} ({meaning}" in log.read_text("utf-8")


def test_log_dir_dash_writes_to_the_output_for_containers(home: Path) -> None:
    done = run_wrapper(home, "2026-11-20", CRM_LAKEHOUSE_LOG_DIR="-")
    assert done.returncode == 0, done.stderr
    assert "spark-submit output line" in done.stdout
    assert "end: exit 0 (done)" in done.stdout
    assert not (home / "logs").exists()


def test_a_bad_date_or_a_missing_install_is_exit_2(home: Path) -> None:
    bad = run_wrapper(home, "20-11-2026")
    assert bad.returncode == 2
    assert "'20-11-2026' is not a date in YYYY-MM-DD form" in bad.stderr
    (home / "environment" / "bin" / "python").unlink()
    missing = run_wrapper(home, "2026-11-20")
    assert missing.returncode == 2
    assert f"{home}/environment/bin/python missing" in missing.stderr
    assert not (home.parent / "argv").exists(), "spark-submit ran anyway"


def test_install_refuses_an_incomplete_build(tmp_path: Path) -> None:
    dist = tmp_path / "dist"
    (dist / "bin").mkdir(parents=True)
    script = dist / "bin" / "install.sh"
    script.write_text(INSTALL.read_text("utf-8"), encoding="utf-8")
    (dist / "crm_lakehouse.zip").write_text("", encoding="utf-8")
    done = subprocess.run(
        ["bash", str(script), str(tmp_path / "target")],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert f"{dist}/conf.zip missing" in done.stderr


def test_install_refuses_an_environment_whose_python_is_missing_here(tmp_path: Path) -> None:
    dist = tmp_path / "dist"
    (dist / "bin").mkdir(parents=True)
    (dist / "jobs").mkdir()
    script = dist / "bin" / "install.sh"
    script.write_text(INSTALL.read_text("utf-8"), encoding="utf-8")
    for name in ("crm_lakehouse.zip", "jobs/pipeline.py"):
        (dist / name).write_text("", encoding="utf-8")
    for name in ("conf.zip", "contracts.zip"):
        with zipfile.ZipFile(dist / name, "w") as zf:
            zf.writestr("base.yaml", "")
    with tarfile.open(dist / "crm-lakehouse-env.tar.gz", "w:gz") as tf:
        link = tarfile.TarInfo("bin/python")
        link.type, link.linkname = tarfile.SYMTYPE, "/nonexistent/python3.11"
        tf.addfile(link)
    target = tmp_path / "target"
    done = subprocess.run(
        ["bash", str(script), str(target)], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 2, done.stderr
    assert "does not run here: it links to /nonexistent/python3.11" in done.stderr
    assert not (target / "environment").exists(), "a broken environment was swapped in"


def _cron_entries(text: str) -> tuple[dict[str, str], list[list[str]]]:
    env: dict[str, str] = {}
    jobs = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        m = re.fullmatch(r"([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*)", line)
        if m:
            env[m.group(1)] = m.group(2)
        else:
            jobs.append(line.split(None, 5))
    return env, jobs


def test_the_cron_entry_has_five_time_fields_and_runs_the_wrapper() -> None:
    env, jobs = _cron_entries(CRON.read_text("utf-8"))
    assert len(jobs) == 1, jobs
    (job,) = jobs
    assert len(job) == 6, f"expected 5 time fields and a command: {job}"
    assert all(_FIELD.match(f) for f in job[:5]), job[:5]
    assert job[:5] == ["0", "2", "*", "*", "*"]
    assert job[5].split()[0].endswith("/dist/bin/crm-lakehouse-nightly.sh")
    assert env["CRM_LAKEHOUSE_HOME"] == job[5].split()[0].removesuffix(
        "/dist/bin/crm-lakehouse-nightly.sh"
    )
    assert "LAKEHOUSE_PII_KEY" not in env, "the key itself must not be in the crontab"
    assert env["LAKEHOUSE_PII_KEY_FILE"].startswith("/")
    assert os.access(WRAPPER, os.X_OK)


def _cronjob() -> tuple[dict[str, Any], list[dict[str, Any]]]:
    docs = [d for d in yaml.safe_load_all(CRONJOB.read_text("utf-8")) if d]
    (cronjob,) = [d for d in docs if d["kind"] == "CronJob"]
    return cronjob, docs


def test_the_cronjob_never_overlaps_and_retries_only_what_a_retry_can_fix() -> None:
    cronjob, _ = _cronjob()
    assert cronjob["apiVersion"] == "batch/v1"
    spec = cronjob["spec"]
    assert len(spec["schedule"].split()) == 5
    assert all(_FIELD.match(f) for f in spec["schedule"].split())
    assert spec["concurrencyPolicy"] == "Forbid"
    job = spec["jobTemplate"]["spec"]
    assert isinstance(job["backoffLimit"], int) and job["backoffLimit"] >= 1
    (fail_job,) = [r for r in job["podFailurePolicy"]["rules"] if r["action"] == "FailJob"]
    assert sorted(fail_job["onExitCodes"]["values"]) == [2, 4]
    assert job["template"]["spec"]["restartPolicy"] == "Never"


def test_the_cronjob_runs_the_wrapper_with_the_pii_key_from_a_secret() -> None:
    cronjob, docs = _cronjob()
    pod = cronjob["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert container["command"] == ["/opt/crm-lakehouse/dist/bin/crm-lakehouse-nightly.sh"]
    env = {e["name"]: e for e in container["env"]}
    key = env["LAKEHOUSE_PII_KEY"]
    assert "value" not in key
    assert set(key["valueFrom"]["secretKeyRef"]) == {"name", "key"}
    assert env["CRM_LAKEHOUSE_MASTER"]["value"].startswith("k8s://")
    assert env["CRM_LAKEHOUSE_HOME"]["value"] == "/opt/crm-lakehouse"
    spark_args = env["CRM_LAKEHOUSE_SPARK_ARGS"]["value"]
    assert "spark.kubernetes.container.image=" + container["image"] in spark_args
    accounts = {d["metadata"]["name"] for d in docs if d["kind"] == "ServiceAccount"}
    assert pod["serviceAccountName"] in accounts
    (binding,) = [d for d in docs if d["kind"] == "RoleBinding"]
    assert binding["subjects"][0]["name"] == pod["serviceAccountName"]
