"""The run mode: one typed choice of what a run does with an output that holds data.

``mode=`` (a ``dagen.RunMode`` or its name) says it; the keywords of earlier versions
(``overwrite=``, ``resume=``, ``update=``) keep working and mean the same modes.
"""

from __future__ import annotations

import pandas as pd
import pytest

import dagen
from dagen.errors import OutputDirError
from dagen.runner.arguments import check_mode


def numbers_config() -> dagen.DatasetConfig:
    """n, the row's number, and its double."""
    return dagen.DatasetConfig.from_dict(
        {
            "seed": 7,
            "columns": [
                {"name": "n", "column_type": "custom", "function": "scenario_functions:row_ids",
                 "generation_strategy": "full_column", "required_columns": []},
                {"name": "label", "column_type": "expression", "expr": "row {{ n }}"},
            ],
        }
    )  # fmt: skip


@pytest.mark.parametrize(
    ("mode", "flags", "expected"),
    [
        (None, {}, dagen.RunMode.NEW),
        (None, {"overwrite": True}, dagen.RunMode.OVERWRITE),
        (None, {"resume": True}, dagen.RunMode.RESUME),
        (None, {"update": True}, dagen.RunMode.UPDATE),
        ("resume", {}, dagen.RunMode.RESUME),
        (dagen.RunMode.UPDATE, {"update": True}, dagen.RunMode.UPDATE),  # saying it twice
    ],
)
def test_a_mode_or_the_old_keyword_names_the_same_mode(mode, flags, expected):
    given = {"overwrite": False, "resume": False, "update": False, **flags}
    assert check_mode("generate", mode, **given) is expected


def test_modes_that_exclude_each_other_are_refused_naming_both():
    with pytest.raises(ValueError, match="resume and overwrite exclude each other"):
        check_mode("generate", None, overwrite=True, resume=True, update=False)
    with pytest.raises(ValueError, match="update and resume exclude each other"):
        check_mode("generate", None, overwrite=False, resume=True, update=True)
    with pytest.raises(ValueError, match=r"mode='overwrite' and resume=True contradict"):
        check_mode("generate", "overwrite", overwrite=False, resume=True, update=False)


def test_an_unknown_mode_or_a_flag_that_is_not_a_bool_is_a_type_error():
    with pytest.raises(TypeError, match=r"mode must be a RunMode or one of 'new', 'overwrite'"):
        check_mode("generate", "append", overwrite=False, resume=False, update=False)
    with pytest.raises(TypeError, match="resume must be True or False, got 'yes'"):
        check_mode("generate", None, overwrite=False, resume="yes", update=False)


def test_a_resume_or_an_update_needs_an_output(client):
    with pytest.raises(ValueError, match="resume needs the output_dir"):
        dagen.generate(numbers_config(), 5, client=client, mode="resume")
    with pytest.raises(ValueError, match="update needs the output_dir"):
        dagen.generate(numbers_config(), 5, client=client, mode=dagen.RunMode.UPDATE)


def test_new_refuses_a_folder_with_data_overwrite_replaces_it_resume_extends_it(client, tmp_path):
    out, cfg = tmp_path / "out", numbers_config()
    settings = dagen.RunSettings(row_group_size=5)
    dagen.generate(cfg, 10, out, client=client, settings=settings, mode="new")

    with pytest.raises(OutputDirError, match="not empty"):
        dagen.generate(cfg, 10, out, client=client, settings=settings, mode="new")
    dagen.generate(cfg, 5, out, client=client, settings=settings, mode="overwrite")
    assert len(pd.read_parquet(out / "data")) == 5
    resumed = dagen.generate(cfg, 15, out, client=client, settings=settings, mode="resume")

    assert resumed.metadata["rows_written"] == 15
    assert pd.read_parquet(out / "data")["n"].tolist() == list(range(15))
