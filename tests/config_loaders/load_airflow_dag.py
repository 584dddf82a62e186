"""Parses one DAG file with Airflow's own DagBag (what the DAG processor runs) and prints what it
found as JSON: import errors, and each DAG's tasks, their order, schedule, params and retries.

Run with the Python of a venv holding apache-airflow (AIRFLOW_HOME set by the caller).
"""

import json
import sys

from airflow.dag_processing.dagbag import DagBag

bag = DagBag(dag_folder=sys.argv[1])
print(
    json.dumps(
        {
            "import_errors": {path: str(error) for path, error in bag.import_errors.items()},
            "dags": {
                dag_id: {
                    "schedule": type(dag.timetable).__name__,
                    "params": {key: dag.params[key] for key in dag.params},
                    "tasks": {
                        task.task_id: {"retries": task.retries, "downstream": sorted(task.downstream_task_ids)}
                        for task in dag.tasks
                    },
                }
                for dag_id, dag in bag.dags.items()
            },
        }
    )
)
