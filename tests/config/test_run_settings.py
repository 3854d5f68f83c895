"""Run settings: how a run is cut up; nonsense values are the caller's mistake (ValueError,
TypeError), not config errors, and name the setting."""

from __future__ import annotations

import pytest

from dagen.config.run import ClusterSettings, EarlyShutdown, RunSettings
from dagen.errors import DagenError


@pytest.mark.parametrize(
    "setting", ["row_group_size", "max_concurrent_row_groups", "cells_per_task"]
)
@pytest.mark.parametrize("value", [0, -5])
def test_sizes_below_one_are_rejected_naming_the_setting(setting, value):
    with pytest.raises(ValueError) as info:
        RunSettings(**{setting: value})
    assert not isinstance(info.value, DagenError)
    assert f"RunSettings {setting} must be at least 1, got {value}" == str(info.value)


@pytest.mark.parametrize(
    ("make", "error", "named"),
    [
        (lambda: RunSettings(row_group_size="100"), TypeError, "row_group_size"),
        (lambda: RunSettings(cells_per_task=True), TypeError, "cells_per_task"),
        (lambda: RunSettings(seed=1.5), TypeError, "seed"),
        (lambda: RunSettings(salvage_rounds=-1), ValueError, "salvage_rounds"),
        (lambda: RunSettings(salvage_pause=-1.0), ValueError, "salvage_pause"),
        (lambda: RunSettings(progress_interval=float("nan")), ValueError, "progress_interval"),
        (lambda: RunSettings(cluster={"n_workers": 2}), TypeError, "cluster"),
        (lambda: RunSettings(early_shutdown=0.5), TypeError, "early_shutdown"),
        (lambda: ClusterSettings(n_workers=0), ValueError, "n_workers"),
        (lambda: ClusterSettings(threads_per_worker=2.5), TypeError, "threads_per_worker"),
        (lambda: EarlyShutdown(error_rate=1.5), ValueError, "error_rate"),
        (lambda: EarlyShutdown(window=0), ValueError, "window"),
        (lambda: EarlyShutdown(min_cells=-1), ValueError, "min_cells"),
    ],
    ids=lambda v: v if isinstance(v, str) else "",
)
def test_every_setting_is_checked_and_named(make, error, named):
    with pytest.raises(error, match=named):
        make()


def test_sizes_of_one_are_fine():
    settings = RunSettings(row_group_size=1, max_concurrent_row_groups=1, cells_per_task=1)
    assert settings.row_group_size == 1


def test_unset_optional_settings_and_numpy_ints_are_fine():
    import numpy as np

    settings = RunSettings(
        row_group_size=np.int64(10), cells_per_task=None, seed=None, progress_interval=None,
        early_shutdown=EarlyShutdown(error_rate=None, min_cells=0),
    )  # fmt: skip
    assert settings.row_group_size == 10
