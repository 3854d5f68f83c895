"""Property: whatever a config file or dict holds, loading and validating it either gives a
config or raises a ConfigError naming the fault: never another exception, never a hang.
And a small run of a valid config writes every row or says why not."""

from __future__ import annotations

import contextlib
import json
import string

import yaml
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import dagen
from dagen.cli import cli
from dagen.config.dataset import DatasetConfig, load_config
from dagen.config.run import RunSettings
from dagen.errors import ConfigError
from dagen.runner.spec import RunSpec

FAST = settings(
    max_examples=60, deadline=5000, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
NAMES = st.sampled_from(["a", "b", "city", "n", "x", "é", ""])


@st.composite
def valid_columns(draw) -> list[dict]:
    """Columns that always generate: samplers, then expressions over earlier columns."""
    columns: list[dict] = [
        {"name": "c0", "column_type": "sampler", "sampler_type": "category",
         "params": {"values": draw(st.lists(st.text(string.ascii_letters, min_size=1, max_size=5),
                                            min_size=1, max_size=4))}},
    ]  # fmt: skip
    for i in range(1, draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["uniform", "poisson", "expression", "subcategory"]))
        name = f"c{i}"
        if kind == "uniform":
            low = draw(st.integers(-1000, 1000))
            columns.append({"name": name, "column_type": "sampler", "sampler_type": "uniform",
                            "params": {"low": low, "high": low + draw(st.integers(1, 50))},
                            "convert_to": draw(st.sampled_from([None, "int", "float", "str"]))})  # fmt: skip
        elif kind == "poisson":
            columns.append({"name": name, "column_type": "sampler", "sampler_type": "poisson",
                            "params": {"mean": draw(st.floats(0.1, 50))}})  # fmt: skip
        elif kind == "subcategory":
            parents = columns[0]["params"]["values"]
            columns.append({"name": name, "column_type": "sampler", "sampler_type": "subcategory",
                            "params": {"category": "c0",
                                       "values": {str(p): ["s1", "s2"] for p in parents}}})  # fmt: skip
        else:
            used = draw(
                st.lists(st.sampled_from([c["name"] for c in columns]), min_size=1, max_size=3)
            )
            columns.append({"name": name, "column_type": "expression",
                            "expr": " / ".join("{{ " + u + " }}" for u in used)})  # fmt: skip
    return columns


def mutate(value, draw):
    """One hostile change somewhere in a JSON-like value."""
    junk = st.one_of(st.none(), st.integers(-(10**20), 10**20), st.floats(allow_nan=True),
                     st.text(max_size=20), st.lists(st.integers(), max_size=3),
                     st.dictionaries(NAMES, st.integers(), max_size=2), st.booleans())  # fmt: skip
    if isinstance(value, dict) and value and draw(st.booleans()):
        key = draw(st.sampled_from(sorted(value, key=str)))
        action = draw(st.sampled_from(["replace", "delete", "recurse", "add"]))
        copy = dict(value)
        if action == "replace":
            copy[key] = draw(junk)
        elif action == "delete":
            del copy[key]
        elif action == "add":
            copy[draw(NAMES)] = draw(junk)
        else:
            copy[key] = mutate(value[key], draw)
        return copy
    if isinstance(value, list) and value and draw(st.booleans()):
        i = draw(st.integers(0, len(value) - 1))
        copy = list(value)
        copy[i] = mutate(value[i], draw) if draw(st.booleans()) else draw(junk)
        return copy
    return draw(junk)


@st.composite
def config_dicts(draw) -> tuple[dict, bool]:
    data = {"seed": draw(st.integers(0, 2**31)), "columns": draw(valid_columns())}
    if draw(st.booleans()):
        return data, True
    return mutate(data, draw), False


YAML_PIECES = st.sampled_from(["columns:", "\n", "  - ", "{", "}", "[", "]", ": ", ", ", "&a ", "*a",
    "name: x", "column_type: sampler", "sampler_type: category", "params: {values: [1, 2]}",
    "expr: '{{ x }}'", "!!python/object:os.system", "\t", "é", "\x00", "'", '"', "#", "? ", "--- ",
    "<<: *a", "&b [*a, *a, *a]", "*b", "- *b"])  # fmt: skip


def validate(tmp_path, text: str | bytes, suffix: str = ".yaml"):
    path = tmp_path / f"config{suffix}"
    path.write_bytes(text if isinstance(text, bytes) else text.encode("utf-8", "surrogatepass"))
    return path, CliRunner().invoke(cli, ["validate", str(path)])


def assert_clean(result) -> None:
    """``dagen validate`` ended by exiting 0 or 2 with a message: no exception escaped."""
    assert result.exit_code in (0, 2), (result.output, result.exception)
    assert isinstance(result.exception, (SystemExit, type(None))), repr(result.exception)
    assert "Traceback" not in result.output


@FAST
@given(text=st.lists(YAML_PIECES, max_size=40).map("".join))
def test_any_yaml_text_is_a_config_or_a_clear_error(tmp_path, text):
    path, result = validate(tmp_path, text)
    assert_clean(result)
    with contextlib.suppress(ConfigError):
        load_config(path)


@FAST
@given(data=st.binary(max_size=200))
def test_any_bytes_are_a_config_or_a_clear_error(tmp_path, data):
    for suffix in (".yaml", ".json"):
        assert_clean(validate(tmp_path, data, suffix)[1])


@FAST
@given(case=config_dicts())
def test_any_config_dict_is_a_config_or_a_clear_error(tmp_path, case):
    data, valid = case
    try:
        config = DatasetConfig.from_dict(data)
        RunSpec.build(config, RunSettings(), 10)  # all a run builds before it starts
    except ConfigError:
        assert not valid, "a valid config was refused"
    for text, suffix in (
        (yaml.safe_dump(data, allow_unicode=True), ".yaml"),
        (json.dumps(data), ".json"),
    ):
        assert_clean(validate(tmp_path, text, suffix)[1])


@settings(
    max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(case=config_dicts())
def test_a_small_run_of_a_config_writes_every_row_or_says_why(client, case):
    data, _ = case
    try:
        config = DatasetConfig.from_dict(data)
    except ConfigError:
        return
    try:
        result = dagen.runner.preview.preview_result(config, 7, client=client)
    except ConfigError:
        return
    frame = result.to_pandas()
    if len(frame) < 7:
        assert result.metadata["drop_summary"], "rows went missing with no reason recorded"
    else:
        assert list(frame.columns) == [c["name"] for c in data["columns"]]
