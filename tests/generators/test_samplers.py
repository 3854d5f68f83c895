"""Sampler generators without a cluster: distributions, bounds, and reproducible seeding."""

from __future__ import annotations

import re
import uuid

import numpy as np
import pandas as pd
import pytest

from dagen.config.columns import SamplerColumnConfig
from dagen.config.constraints import ColumnInequalityConstraint
from dagen.generators import BatchContext
from dagen.generators.samplers import SamplerGenerator

N = 20_000


def sampler(sampler_type: str, *, name: str = "col", convert_to=None, **params) -> SamplerGenerator:
    config = SamplerColumnConfig(
        name=name, sampler_type=sampler_type, params=params, convert_to=convert_to
    )
    return SamplerGenerator.from_config(config)


def draw(
    gen: SamplerGenerator,
    size: int = N,
    *,
    seed: int = 7,
    start_row: int = 0,
    row_group: int = 0,
    frame: pd.DataFrame | None = None,
) -> pd.Series:
    """The values of one row group of ``size`` rows (the rows of ``frame`` when given)."""
    frame = pd.DataFrame(index=range(size)) if frame is None else frame
    block = gen.run_batch(frame, BatchContext(gen.column, row_group, start_row, size, seed))
    assert not block.failures
    assert block.frame.columns.tolist() == [gen.column]
    return block.frame[gen.column]


# -- distributions -------------------------------------------------------------------------


def test_category_weights_are_respected():
    values = draw(sampler("category", values=["Oslo", "Lima", "Pune"], weights=[3, 1, 0]))
    share = values.value_counts(normalize=True)
    assert share["Oslo"] == pytest.approx(0.75, abs=0.02)
    assert share["Lima"] == pytest.approx(0.25, abs=0.02)
    assert "Pune" not in share  # weight 0: never drawn


def test_category_without_weights_is_uniform():
    share = draw(sampler("category", values=["a", "b", "c", "d"])).value_counts(normalize=True)
    assert sorted(share.index) == ["a", "b", "c", "d"]
    assert share.to_numpy() == pytest.approx([0.25] * 4, abs=0.02)


def test_category_values_keep_their_type():
    values = draw(sampler("category", values=[1, 2.5, "x"]), 300)
    assert set(values) == {1, 2.5, "x"}
    assert {type(v) for v in values} == {int, float, str}


def test_uniform_stays_within_low_and_high():
    values = draw(sampler("uniform", low=-2.5, high=7.5))
    assert values.min() >= -2.5
    assert values.max() < 7.5
    assert values.min() < -2.4 and values.max() > 7.4  # the whole range is used
    assert values.mean() == pytest.approx(2.5, abs=0.1)


def test_uniform_rounds_to_decimal_places():
    values = draw(sampler("uniform", low=0, high=1, decimal_places=1), 1000)
    assert np.allclose(values * 10, np.round(values * 10))
    assert values.nunique() > 5


def test_uniform_converted_to_int_gives_integers_within_the_bounds():
    values = draw(sampler("uniform", low=18, high=90, convert_to="int"))
    assert values.dtype == np.int64
    assert values.min() >= 18
    assert values.max() <= 90
    assert values.nunique() > 60


def test_convert_to_str_gives_text():
    values = draw(sampler("poisson", mean=3, convert_to="str"), 100)
    assert all(isinstance(v, str) and v.isdigit() for v in values)


def test_gaussian_mean_stddev_and_decimal_places():
    values = draw(sampler("gaussian", mean=100, stddev=15, decimal_places=2))
    assert values.mean() == pytest.approx(100, abs=0.5)
    assert values.std() == pytest.approx(15, abs=0.5)
    assert np.allclose(values * 100, np.round(values * 100))
    assert (np.round(values * 10) != values * 10).any()  # two places kept, not one


def test_gaussian_with_zero_decimal_places_is_whole():
    values = draw(sampler("gaussian", mean=0, stddev=3, decimal_places=0), 1000)
    assert (values == np.round(values)).all()


@pytest.mark.parametrize("p", [0.0, 0.3, 1.0])
def test_bernoulli_is_one_with_probability_p(p):
    values = draw(sampler("bernoulli", p=p))
    assert set(values.unique()) <= {0, 1}
    assert values.dtype == np.int64
    assert values.mean() == pytest.approx(p, abs=0.02)


def test_poisson_has_the_given_mean():
    values = draw(sampler("poisson", mean=4))
    assert values.dtype == np.int64
    assert values.min() >= 0
    assert values.mean() == pytest.approx(4, abs=0.1)
    assert values.var() == pytest.approx(4, abs=0.3)  # a Poisson's variance is its mean


@pytest.mark.parametrize(
    ("unit", "truncated"),
    [
        ("Y", lambda t: t == pd.Timestamp(t.year, 1, 1)),
        ("M", lambda t: t == pd.Timestamp(t.year, t.month, 1)),
        ("D", lambda t: t == t.normalize()),
        ("h", lambda t: t.minute == t.second == t.microsecond == t.nanosecond == 0),
        ("m", lambda t: t.second == t.microsecond == t.nanosecond == 0),
        ("s", lambda t: t.microsecond == t.nanosecond == 0),
    ],
)
def test_datetime_is_within_range_and_truncated_to_its_unit(unit, truncated):
    values = draw(sampler("datetime", start="2021-01-01", end="2025-12-31", unit=unit), 2000)
    assert values.min() >= pd.Timestamp("2021-01-01")
    assert values.max() < pd.Timestamp("2025-12-31")
    assert all(truncated(t) for t in values)
    assert values.nunique() > 4  # spread over the range, not one instant


def test_datetime_of_a_short_range_spreads_over_it():
    values = draw(sampler("datetime", start="2024-03-01", end="2024-03-04", unit="D"), 3000)
    assert set(values.dt.day) == {1, 2, 3}


def test_uuid_full_form_is_a_version_4_uuid():
    values = draw(sampler("uuid"), 5000)
    assert all(uuid.UUID(v).version == 4 and str(uuid.UUID(v)) == v for v in values)
    assert values.nunique() == 5000


def test_uuid_prefix_short_form_and_uppercase():
    short = draw(sampler("uuid", prefix="cus_", short_form=True), 1000)
    assert all(re.fullmatch(r"cus_[0-9a-f]{12}", v) for v in short)
    upper = draw(sampler("uuid", uppercase=True), 1000)
    version_4 = r"[0-9A-F]{8}-[0-9A-F]{4}-4[0-9A-F]{3}-[89AB][0-9A-F]{3}-[0-9A-F]{12}"
    assert all(re.fullmatch(version_4, v) for v in upper)


@pytest.mark.parametrize(
    "params",
    [{}, {"hex": True}, {"short_form": True}, {"hex": True, "short_form": True},
     {"uppercase": True, "prefix": "ü-"}, {"hex": True, "uppercase": True, "prefix": "id_"}],
)  # fmt: skip
def test_uuids_drawn_for_a_batch_at_once_are_those_the_uuid_module_makes_of_the_same_bytes(
    params,
):
    # the values of a seed stay what they were when each row made its own uuid.UUID
    from dagen.config.samplers.moments import UuidParams, _draw_uuid

    p = UuidParams(**params)
    raw = np.random.default_rng(11).bytes(16 * 500)
    expected = []
    for i in range(500):
        made = uuid.UUID(bytes=raw[16 * i : 16 * i + 16], version=4)
        text = made.hex[: 8 if p.hex else 12] if p.short_form else made.hex if p.hex else str(made)
        expected.append(p.prefix + (text.upper() if p.uppercase else text))
    assert _draw_uuid(p, np.random.default_rng(11), 500, pd.DataFrame()) == expected
    assert _draw_uuid(p, np.random.default_rng(11), 0, pd.DataFrame()) == []


# -- subcategory -------------------------------------------------------------------------

DISTRICTS = {"Oslo": ["Frogner", "Sagene"], "Lima": ["Miraflores", "Barranco", "Rimac"]}


def test_a_subcategory_follows_its_category_column():
    cities = draw(sampler("category", name="city", values=["Oslo", "Lima", "Atlantis"]), 3000)
    frame = pd.DataFrame({"city": cities})
    district = sampler("subcategory", name="district", category="city", values=DISTRICTS)
    assert district.reads == ("city",)
    districts = draw(district, 3000, frame=frame)
    for city, name in zip(cities, districts, strict=True):
        if city == "Atlantis":
            assert pd.isna(name)  # a category value with no list has no subcategory
        else:
            assert name in DISTRICTS[city]
    assert set(districts[cities == "Lima"]) == set(DISTRICTS["Lima"])


def test_a_subcategory_of_a_surviving_row_does_not_depend_on_dropped_rows():
    cities = pd.Series(["Oslo", "Lima"] * 5)
    district = sampler("subcategory", name="district", category="city", values=DISTRICTS)
    every_row = draw(district, 10, frame=pd.DataFrame({"city": cities}))
    survivors = pd.DataFrame({"city": cities}).loc[[1, 4, 9]]
    some_rows = draw(district, 10, frame=survivors)
    assert some_rows.index.tolist() == [1, 4, 9]
    assert some_rows.tolist() == every_row.loc[[1, 4, 9]].tolist()


# -- reproducibility -------------------------------------------------------------------------

SAMPLERS = {
    "uniform": {"low": 0, "high": 1},
    "gaussian": {"mean": 0, "stddev": 1},
    "category": {"values": list("abcdefghij")},
    "poisson": {"mean": 20},
    "datetime": {"start": "2000-01-01", "end": "2030-01-01", "unit": "s"},
    "uuid": {},
    "person": {},
    "binomial": {"n": 30, "p": 0.4},
    "scipy": {"dist_name": "lognorm", "dist_params": {"s": 0.5}},
    "bernoulli_mixture": {"p": 0.5, "dist_name": "expon", "dist_params": {}},
    "person_from_faker": {"locale": "es_ES"},
}


@pytest.mark.parametrize("sampler_type", SAMPLERS)
def test_same_seed_column_and_start_row_give_the_same_values(sampler_type):
    def values(**ctx):
        return draw(sampler(sampler_type, name="x", **SAMPLERS[sampler_type]), 200, **ctx).tolist()

    assert values(seed=3, start_row=400) == values(seed=3, start_row=400)
    # the row group's index is not part of the seed: its first global row is
    assert values(seed=3, start_row=400, row_group=2) == values(seed=3, start_row=400, row_group=9)
    assert values(seed=3, start_row=400) != values(seed=3, start_row=600)
    assert values(seed=3, start_row=400) != values(seed=4, start_row=400)


def test_columns_with_the_same_sampler_draw_different_values():
    height = draw(sampler("uniform", name="height", low=0, high=1), 100)
    weight = draw(sampler("uniform", name="weight", low=0, high=1), 100)
    assert (height != weight).all()


@pytest.mark.parametrize("sampler_type", SAMPLERS)
def test_values_of_surviving_rows_do_not_depend_on_dropped_rows(sampler_type):
    gen = sampler(sampler_type, **SAMPLERS[sampler_type])
    every_row = draw(gen, 50, start_row=100)
    survivors = [0, 3, 17, 49]
    some_rows = draw(gen, 50, start_row=100, frame=pd.DataFrame(index=survivors))
    assert some_rows.index.tolist() == survivors
    assert some_rows.tolist() == every_row.loc[survivors].tolist()


# -- conditional params and constraints --------------------------------------------------


def test_conditions_see_only_surviving_rows_and_do_not_shift_the_others():
    config = SamplerColumnConfig(
        name="plan", sampler_type="category", params={"values": ["basic"]},
        conditional_params={"age < 30": {"values": ["student"]}},
    )  # fmt: skip
    gen = SamplerGenerator.from_config(config)
    ages = pd.DataFrame({"age": [20, 40, 25, 70]}, index=[0, 2, 5, 9])  # rows 1, 3, 4... dropped

    assert gen.reads == ("age",)
    assert draw(gen, 10, frame=ages).tolist() == ["student", "basic", "student", "basic"]


def test_a_constraint_ignores_rows_dropped_upstream():
    config = SamplerColumnConfig(name="high", sampler_type="uniform", params={"low": 0, "high": 1})
    constraint = ColumnInequalityConstraint(target_column="high", operator="gt", rhs="low")
    gen = SamplerGenerator.from_config(config, [constraint])
    low = pd.DataFrame({"low": [0.5, 0.9, 0.1]}, index=[0, 3, 4])  # the other rows were dropped

    values = draw(gen, 6, frame=low)

    assert gen.reads == ("low",)
    assert values.index.tolist() == [0, 3, 4] and (values > low["low"]).all()
