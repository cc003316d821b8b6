"""Airflow DAG: the nightly crm-lakehouse run, Bronze >> Silver >> Gold, one spark-submit each.

Each task submits one job file of the packaged build (``make package package-env``) in cluster
deploy mode for the run's logical date (``--date {{ ds }}``), so a retry, a clear or a backfill
reruns exactly that date; the lakehouse is idempotent, so rerunning a finished step changes
nothing. The schedule has data-interval semantics: the run that starts at 02:00 on the 21st
covers the interval that began on the 20th, so ``{{ ds }}`` is the 20th, the day whose
deliveries it processes.

Cluster deploy mode, because the driver reads ``./conf`` and ``./contracts`` and runs
``./environment/bin/python`` from its working directory, which ``--archives`` fills in a YARN
or Kubernetes container; the Spark connection (``CRM_LAKEHOUSE_SPARK_CONN_ID``) gives the master
(``yarn`` or ``k8s://...``) and the queue or namespace. The build must be readable by the
Airflow workers, which run spark-submit (or give URLs the cluster reads, e.g. ``hdfs://``).

Settings, read when the file is parsed (environment of the DAG processor and workers):

==================================  ================================================  ============================================
variable                            meaning                                           default
==================================  ================================================  ============================================
``CRM_LAKEHOUSE_DIST``              folder (or URL) holding the build                 ``/opt/crm-lakehouse/dist``
``CRM_LAKEHOUSE_SPARK_CONN_ID``     Airflow Spark connection                          ``spark_default``
``CRM_LAKEHOUSE_SCHEDULE``          cron expression                                   ``0 2 * * *``
``CRM_LAKEHOUSE_TIMEZONE``          time zone of the schedule                         ``UTC``
``CRM_LAKEHOUSE_START_DATE``        first logical date                                ``2026-11-01``
``CRM_LAKEHOUSE_CATCHUP``           ``true``: run every missed date, oldest first     ``false``
``CRM_LAKEHOUSE_DELTA_PACKAGE``     Delta connector for ``--packages`` (empty: none)  ``io.delta:delta-spark_4.2_2.13:4.4.1``
``CRM_LAKEHOUSE_RETRIES``           retries per task                                  ``3``
``CRM_LAKEHOUSE_RETRY_DELAY_MIN``   minutes before the first retry                    ``10``
``CRM_LAKEHOUSE_PII_KEY_FILE``      YARN: file with the PII key, shipped as a         (none)
                                    private file to the driver's container
``CRM_LAKEHOUSE_PII_SECRET``        Kubernetes: ``secret:key`` holding the PII key    (none)
==================================  ================================================  ============================================

At run time the Airflow Variable ``crm_lakehouse_env`` picks the config overlay
(``conf/<env>.yaml`` inside ``conf.zip``; default ``cluster``): paths on shared storage belong
there, not in this file.

Exit codes of the lakehouse command decide what a failure means (see ``deploy/README.md``):
``5`` another run holds the lake's lock and ``1`` a step failed are retried after
``retry_delay`` (exponential back-off); ``4`` a data contract failed and ``2`` bad configuration
or environment would fail the same way again, so the task fails at once without retries and a
person has to look (fix the data or the contract, ``lakehouse quarantine replay``, then clear
the task). On Kubernetes spark-submit reports the driver's exit code; in YARN cluster mode it
only says "failed" (code 1), so there every failure is retried.

The PII key itself is never in this DAG or on a command line.
"""

from __future__ import annotations

import datetime as dt
import os
import re
from typing import Any

from airflow.providers.apache.spark.operators.spark_submit import SparkSubmitOperator
from airflow.sdk import DAG, CronDataIntervalTimetable, chain
from airflow.sdk.exceptions import AirflowException, AirflowFailException

DAG_ID = "crm_lakehouse_nightly"
STEPS = {"bronze": "bronze_ingest.py", "silver": "silver_build.py", "gold": "gold_build.py"}

# Exit codes of `lakehouse run` (crm_lakehouse.errors) that no retry can fix.
NOT_RETRIED = {
    2: "bad arguments, configuration or environment",
    4: "a data contract failed; nothing was published for the failing table",
}
_CODE_PATTERNS = (
    re.compile(r"Kubernetes spark exit code is: (\d+)"),
    re.compile(r"Error code is: (\d+)"),
)


def _setting(name: str, default: str) -> str:
    value = os.environ.get(f"CRM_LAKEHOUSE_{name}")
    return default if value is None else value.strip()


def _flag(name: str, default: bool) -> bool:
    text = _setting(name, "true" if default else "false").lower()
    if text not in ("true", "false"):
        raise ValueError(f"CRM_LAKEHOUSE_{name}={text!r}: expected true or false")
    return text == "true"


DIST = _setting("DIST", "/opt/crm-lakehouse/dist").rstrip("/")
CONN_ID = _setting("SPARK_CONN_ID", "spark_default")
SCHEDULE = _setting("SCHEDULE", "0 2 * * *")
TIMEZONE = _setting("TIMEZONE", "UTC")
START_DATE = dt.datetime.fromisoformat(_setting("START_DATE", "2026-11-01")).replace(tzinfo=dt.UTC)
CATCHUP = _flag("CATCHUP", default=False)
DELTA_PACKAGE = _setting("DELTA_PACKAGE", "io.delta:delta-spark_4.2_2.13:4.4.1")
RETRIES = int(_setting("RETRIES", "3"))
RETRY_DELAY = dt.timedelta(minutes=int(_setting("RETRY_DELAY_MIN", "10")))
PII_KEY_FILE = _setting("PII_KEY_FILE", "")
PII_SECRET = _setting("PII_SECRET", "")

# What spark-submit ships: the library for --py-files; the runtime dependencies (native code),
# the config and the contracts as archives, unpacked as ./environment, ./conf and ./contracts
# in the working directory of the driver's and the executors' containers.
PY_FILES = f"{DIST}/crm_lakehouse.zip"
ARCHIVES = ",".join(
    (
        f"{DIST}/crm-lakehouse-env.tar.gz#environment",
        f"{DIST}/conf.zip#conf",
        f"{DIST}/contracts.zip#contracts",
    )
)
SPARK_CONF = {"spark.pyspark.python": "./environment/bin/python"}
if DELTA_PACKAGE:
    SPARK_CONF["spark.sql.extensions"] = "io.delta.sql.DeltaSparkSessionExtension"
    SPARK_CONF["spark.sql.catalog.spark_catalog"] = (
        "org.apache.spark.sql.delta.catalog.DeltaCatalog"
    )
if PII_KEY_FILE:  # YARN localises --files into the container: the driver reads ./pii.key
    SPARK_CONF["spark.yarn.appMasterEnv.LAKEHOUSE_PII_KEY_FILE"] = "pii.key"
if PII_SECRET:
    SPARK_CONF["spark.kubernetes.driver.secretKeyRef.LAKEHOUSE_PII_KEY"] = PII_SECRET
FILES = f"{PII_KEY_FILE}#pii.key" if PII_KEY_FILE else None
APPLICATION_ARGS = [
    "--env",
    "{{ var.value.get('crm_lakehouse_env', 'cluster') }}",
    "--date",
    "{{ ds }}",
]


def lakehouse_exit_code(message: str) -> int | None:
    """The exit code spark-submit reported, from the Spark provider's failure message."""
    for pattern in _CODE_PATTERNS:
        found = pattern.search(message)
        if found:
            return int(found.group(1))
    return None


class LakehouseSubmitOperator(SparkSubmitOperator):
    """``SparkSubmitOperator`` that reads the lakehouse's exit code from a failed submit: the
    codes a retry cannot fix (:data:`NOT_RETRIED`) fail the task at once, the rest are retried."""

    def execute(self, context: Any) -> None:
        try:
            super().execute(context)
        except AirflowFailException:
            raise
        except AirflowException as exc:
            code = lakehouse_exit_code(str(exc))
            if code in NOT_RETRIED:
                raise AirflowFailException(
                    f"{self.task_id}: lakehouse exit code {code}, {NOT_RETRIED[code]}; "
                    "not retried: fix the cause, then clear this task"
                ) from exc
            raise


with DAG(
    dag_id=DAG_ID,
    description="crm-lakehouse: Bronze -> Silver -> Gold for the logical date",
    schedule=CronDataIntervalTimetable(SCHEDULE, timezone=TIMEZONE),
    start_date=START_DATE,
    catchup=CATCHUP,
    max_active_runs=1,  # the lake has its own lock too (exit code 5)
    default_args={
        "retries": RETRIES,
        "retry_delay": RETRY_DELAY,
        "retry_exponential_backoff": True,
        "max_retry_delay": dt.timedelta(hours=1),
    },
    tags=["crm-lakehouse", "spark"],
    doc_md=__doc__,
) as dag:
    chain(
        *(
            LakehouseSubmitOperator(
                task_id=step,
                conn_id=CONN_ID,
                deploy_mode="cluster",
                # A retry submits afresh (no RM API needed): safe, as a rerun is idempotent and
                # a run still going holds the lake's lock (the new one exits 5, retried later).
                durable=False,
                application=f"{DIST}/jobs/{job}",
                py_files=PY_FILES,
                archives=ARCHIVES,
                files=FILES,
                packages=DELTA_PACKAGE or None,
                conf=dict(SPARK_CONF),
                application_args=list(APPLICATION_ARGS),
                name=f"crm-lakehouse-{step}-{{{{ ds }}}}",
                execution_timeout=dt.timedelta(hours=4),
            )
            for step, job in STEPS.items()
        )
    )
