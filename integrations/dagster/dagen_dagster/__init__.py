"""Dagster integration for dagen: a dataset as an asset, and where dagen runs as a resource.

from dagster import Definitions
from dagen_dagster import DagenResource, dagen_asset

people = dagen_asset("people", "examples/people.yaml", 10_000, output_root="data")
defs = Definitions(assets=[people], resources={"dagen": DagenResource()})
"""

from dagen_dagster.assets import dagen_asset
from dagen_dagster.resources import DagenResource

__all__ = ["DagenResource", "dagen_asset"]
