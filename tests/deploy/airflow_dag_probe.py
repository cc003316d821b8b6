"""Load the Airflow DAG with Airflow itself and print what the tests check, as one JSON object.

Run by ``.venv-airflow/bin/python`` (Airflow is not installed in the project's ``.venv``) from
``tests/deploy/test_airflow_dag.py``::

    .venv-airflow/bin/python tests/deploy/airflow_dag_probe.py deploy/airflow 2026-11-20

The caller provides the environment: ``AIRFLOW_HOME`` (a temporary folder), the Spark connection
as ``AIRFLOW_CONN_SPARK_DEFAULT``, the Variable ``AIRFLOW_VAR_CRM_LAKEHOUSE_ENV``, and a
``spark-submit`` first on ``PATH`` that records its arguments in ``$PROBE_ARGS_FILE`` and exits
with ``$PROBE_EXIT``. Each task is rendered for the given logical date and executed once per
exit code, through the real ``SparkSubmitOperator`` and hook; what ran and what Airflow raised
is reported.
"""

from __future__ import annotations

import copy
import json
import os
import sys
from pathlib import Path
from typing import Any

EXIT_CODES = (0, 1, 2, 4, 5)


def main(folder: str, ds: str) -> dict[str, Any]:
    from airflow.dag_processing.dagbag import DagBag
    from airflow.sdk.execution_time.context import VariableAccessor
    from airflow.serialization.encoders import coerce_to_core_timetable
    from airflow.timetables.base import TimeRestriction

    bag = DagBag(dag_folder=folder)
    out: dict[str, Any] = {
        "import_errors": {str(k): str(v) for k, v in bag.import_errors.items()},
        "dag_ids": sorted(bag.dags),
    }
    if len(bag.dags) != 1:
        return out
    (dag,) = bag.dags.values()
    timetable = coerce_to_core_timetable(dag.timetable)
    first = timetable.next_dagrun_info(
        last_automated_data_interval=None,
        restriction=TimeRestriction(earliest=dag.start_date, latest=None, catchup=True),
    )
    out["dag"] = {
        "dag_id": dag.dag_id,
        "timetable": type(timetable).__name__,
        "schedule": timetable.summary,
        "catchup": dag.catchup,
        "max_active_runs": dag.max_active_runs,
        "start_date": dag.start_date.isoformat() if dag.start_date else None,
        "first_run_after": first.run_after.isoformat() if first else None,
        "first_logical_date": first.logical_date.isoformat() if first else None,
    }
    context = {
        "ds": ds,
        "var": {"value": VariableAccessor(deserialize_json=False)},
    }
    args_file = Path(os.environ["PROBE_ARGS_FILE"])
    tasks: dict[str, Any] = {}
    for task in dag.tasks:
        pristine = copy.deepcopy(task)
        info: dict[str, Any] = {
            "operator": type(task).__name__,
            "operator_bases": [c.__name__ for c in type(task).__mro__],
            "upstream": sorted(task.upstream_task_ids),
            "downstream": sorted(task.downstream_task_ids),
            "retries": task.retries,
            "retry_delay_s": task.retry_delay.total_seconds(),
            "retry_exponential_backoff": bool(task.retry_exponential_backoff),
            "conn_id": task._conn_id,
            "application_args": list(task.application_args or []),
            "runs": {},
        }
        for code in EXIT_CODES:
            op = copy.deepcopy(pristine)
            op.render_template_fields(context)
            os.environ["PROBE_EXIT"] = str(code)
            args_file.unlink(missing_ok=True)
            try:
                op.execute(context)
                raised = None
            except Exception as exc:
                raised = type(exc).__name__
            argv = args_file.read_text("utf-8").splitlines() if args_file.exists() else None
            info["runs"][str(code)] = {"raised": raised, "argv": argv}
        tasks[task.task_id] = info
    out["tasks"] = tasks
    return out


if __name__ == "__main__":
    result = main(sys.argv[1], sys.argv[2])
    print("PROBE-JSON " + json.dumps(result, default=str))
