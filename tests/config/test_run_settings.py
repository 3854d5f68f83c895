"""Run settings: how a run is cut up; nonsense sizes are config errors."""

from __future__ import annotations

import pytest

from dagen.config.run import RunSettings
from dagen.errors import ConfigValidationError


@pytest.mark.parametrize(
    "setting", ["row_group_size", "max_concurrent_row_groups", "cells_per_task"]
)
@pytest.mark.parametrize("value", [0, -5])
def test_sizes_below_one_are_rejected_naming_the_setting(setting, value):
    with pytest.raises(ConfigValidationError) as info:
        RunSettings(**{setting: value})
    assert setting in str(info.value)
    assert str(value) in str(info.value)


def test_sizes_of_one_are_fine():
    settings = RunSettings(row_group_size=1, max_concurrent_row_groups=1, cells_per_task=1)
    assert settings.row_group_size == 1
