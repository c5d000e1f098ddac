-- Both backends. The first and latest successful run of each Airflow DAG, written by the DAGs'
-- success callback (heliosgrid/orchestration/dagkit.py, on_success; times = the run's data-interval
-- end). The contract checks use it to tell "the producing DAG has not run yet" (a fresh stack:
-- pending, no alert) from "the data product is late or wrong" (violation, alert) — issue 11 #12.
CREATE TABLE pipeline_runs (
    dag_id           text PRIMARY KEY,
    first_success_at timestamptz NOT NULL,
    last_success_at  timestamptz NOT NULL,
    last_run_id      text
);
