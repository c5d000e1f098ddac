"""Test-only DAG (a separate DAG bundle of the test session, never in dags/): succeeds, or fails
when triggered with ``{"fail": true}``, to exercise the shared failure/success callbacks."""

from datetime import timedelta

from airflow.sdk import dag, task

from heliosgrid.orchestration.dagkit import dag_kwargs


@dag(**dag_kwargs(dag_id="heliosgrid_test_callback_probe", schedule=None, doc_md=__doc__, tags=["test"],
                  dagrun_timeout=timedelta(minutes=2), retries=0))
def heliosgrid_test_callback_probe() -> None:
    @task
    def maybe_fail(**context: object) -> int:
        dag_run = context["dag_run"]
        if (getattr(dag_run, "conf", None) or {}).get("fail"):
            raise RuntimeError("planted failure")
        return 1

    maybe_fail()


heliosgrid_test_callback_probe()
