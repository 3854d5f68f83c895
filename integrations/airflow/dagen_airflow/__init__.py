"""Airflow integration for dagen: an operator that generates a dataset and resumes on retry.

from airflow.sdk import DAG
from dagen_airflow import GenerateDatasetOperator

with DAG("people", schedule=None):
    GenerateDatasetOperator(
        task_id="generate", config="examples/people.yaml", num_records=10_000,
        output_dir="out/people/{{ ds }}", retries=2,
    )
"""

from dagen_airflow.operators import GenerateDatasetOperator

__all__ = ["GenerateDatasetOperator"]
