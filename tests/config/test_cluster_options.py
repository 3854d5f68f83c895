"""Cluster choices as written on the command line and in cluster files (pure parsing)."""

from __future__ import annotations

import pytest

import dagen
from dagen.config.cluster import load_cluster_file, parse_adapt, parse_options
from dagen.errors import ConfigSyntaxError, ConfigValidationError


def test_option_values_read_as_yaml_scalars():
    options = parse_options(
        ["cores=4", "memory=8GB", "processes=false", "walltime=01:00:00",
         "job_extra_directives=[--exclusive, --gres=gpu:1]", "account=", "ratio=0.5"]
    )  # fmt: skip

    assert options == {
        "cores": 4, "memory": "8GB", "processes": False, "walltime": "01:00:00",
        "job_extra_directives": ["--exclusive", "--gres=gpu:1"], "account": "", "ratio": 0.5,
    }  # fmt: skip


@pytest.mark.parametrize(
    ("pair", "named"),
    [("cores", "'cores'"), ("=4", "'=4'"), ("two words=1", "'two words=1'"),
     ("env=[a, b", "'env'")],
)  # fmt: skip
def test_a_malformed_option_is_refused_naming_it(pair, named):
    with pytest.raises(ValueError, match=f"cluster option {named}"):
        parse_options([pair])


@pytest.mark.parametrize(
    ("text", "bounds"), [("1:10", (1, 10)), ("0:3", (0, 3)), ("4", (0, 4)), ("2:2", (2, 2))]
)
def test_adapt_bounds(text, bounds):
    assert parse_adapt(text) == bounds


@pytest.mark.parametrize("text", ["3:1", "0:0", "a:b", "1:", "-1:2", "1:2:3"])
def test_adapt_bounds_that_cannot_be_are_refused(text):
    with pytest.raises(ValueError, match="adapt"):
        parse_adapt(text)


def test_a_cluster_file_gives_the_class_its_options_adaptive_bounds_and_wait(tmp_path):
    path = tmp_path / "cluster.yaml"
    path.write_text(
        "cluster_class: slurm\n"
        "cluster_kwargs: {cores: 4, memory: 8GB, walltime: '01:00:00'}\n"
        "adapt_kwargs: {minimum: 1, maximum: 10}\n"
        "timeout: 300\n"
    )

    fields = load_cluster_file(path)

    assert fields == {
        "cluster_class": "slurm",
        "cluster_kwargs": {"cores": 4, "memory": "8GB", "walltime": "01:00:00"},
        "adapt": (1, 10),
        "start_timeout": 300.0,
    }
    settings = dagen.ClusterSettings(**fields)
    assert settings.chosen and settings.adapt == (1, 10)


@pytest.mark.parametrize(
    ("text", "error", "message"),
    [
        ("cluster_class: slurm\nkwargs: {cores: 4}\n", ConfigValidationError,
         "unknown key 'kwargs'"),
        ("cluster_kwargs: [cores, 4]\n", ConfigValidationError, "cluster_kwargs must be a mapping"),
        ("adapt_kwargs: {minimum: 5, maximum: 2}\n", ConfigValidationError,
         "adapt_kwargs: adapt needs 0 <= minimum <= maximum"),
        ("adapt_kwargs: {minimum: 1, interval: 2s}\n", ConfigValidationError,
         "adapt_kwargs takes minimum and maximum, not 'interval'"),
        ("adapt_kwargs: {minimum: 1}\n", ConfigValidationError, "maximum is needed"),
        ("timeout: soon\n", ConfigValidationError, "timeout must be seconds > 0"),
        ("- slurm\n", ConfigValidationError, "must be a mapping"),
        ("cluster_class: [unclosed\n", ConfigSyntaxError, "not YAML"),
    ],
)  # fmt: skip
def test_a_bad_cluster_file_is_a_config_error_naming_the_file_and_the_key(
    tmp_path, text, error, message
):
    path = tmp_path / "cluster.yaml"
    path.write_text(text)

    with pytest.raises(error, match=message) as caught:
        load_cluster_file(path)
    assert str(path) in str(caught.value)


def test_a_missing_cluster_file_names_it(tmp_path):
    with pytest.raises(ConfigSyntaxError, match=r"cluster file .*nope\.yaml: cannot be read"):
        load_cluster_file(tmp_path / "nope.yaml")


@pytest.mark.parametrize(
    ("fields", "error", "message"),
    [
        ({"cluster_class": 3}, TypeError, "cluster_class must be a class path"),
        ({"cluster_class": " "}, TypeError, "cluster_class must be a class path"),
        ({"cluster_kwargs": ["cores"]}, TypeError, "cluster_kwargs must be a mapping"),
        ({"adapt": (4, 2)}, ValueError, "adapt needs 0 <= minimum <= maximum"),
        ({"adapt": 3}, TypeError, "adapt must be a pair of ints"),
        ({"start_timeout": 0}, ValueError, "start_timeout must be more than 0"),
    ],
)
def test_cluster_settings_refuse_a_choice_that_cannot_be(fields, error, message):
    with pytest.raises(error, match=message):
        dagen.ClusterSettings(**fields)


def test_plain_cluster_settings_choose_no_cluster_class():
    assert not dagen.ClusterSettings(n_workers=2).chosen
    assert dagen.ClusterSettings(adapt=(0, 4)).chosen  # an adaptive LocalCluster
