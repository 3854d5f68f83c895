"""Prefect integration for dagen: a task that generates a dataset and resumes on retry.

from prefect import flow
from dagen_prefect import generate_dataset

@flow
def people():
    return generate_dataset("examples/people.yaml", 10_000, "out/people")
"""

from dagen_prefect.tasks import generate_dataset

__all__ = ["generate_dataset"]
