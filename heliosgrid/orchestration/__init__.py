"""Library functions behind the Airflow DAGs that belong to no other package: database access
from Airflow, alert writes, DAG defaults and failure callbacks, stream supervision and
housekeeping. DAG files in ``dags/`` stay thin and call these."""
