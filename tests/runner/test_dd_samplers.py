"""Data Designer's samplers, conditional params and constraints, run end to end.

Each scenario is a config run through ``dagen.generate`` on the real LocalCluster; the
checks read the parquet files the run wrote. Distribution checks use a large n and
tolerances of several standard errors, so they fail only when the sampler is wrong.
"""

from __future__ import annotations

import math
from typing import Any

import pandas as pd
import pytest

import dagen

pytestmark = pytest.mark.cluster

SETTINGS = dagen.RunSettings(row_group_size=2_000)


def sampler(name: str, sampler_type: str, **params: Any) -> dict[str, Any]:
    return {"name": name, "column_type": "sampler", "sampler_type": sampler_type, "params": params}


def run(client, tmp_path, columns, n, constraints=(), seed=11) -> pd.DataFrame:
    """The dataset a run wrote, read back from its parquet files."""
    config = dagen.DatasetConfig.from_dict(
        {"seed": seed, "columns": columns, "constraints": list(constraints)}
    )
    out = tmp_path / "out"
    result = dagen.generate(config, n, out, client=client, settings=SETTINGS)
    assert result.num_records == n
    return pd.read_parquet(out / "data")


def assert_moments(values: pd.Series, mean: float, var: float) -> None:
    """Sample mean within 5 standard errors, sample variance within 10%."""
    n = len(values)
    assert abs(values.mean() - mean) < 5 * math.sqrt(var / n), (values.mean(), mean)
    assert values.var() == pytest.approx(var, rel=0.1)


def test_binomial_scipy_and_bernoulli_mixture_have_the_right_moments(client, tmp_path):
    columns = [
        sampler("trials", "binomial", n=20, p=0.3),
        sampler("wait", "scipy", dist_name="gamma", dist_params={"a": 3, "scale": 2}),
        sampler("count", "scipy", dist_name="nbinom", dist_params={"n": 5, "p": 0.5}),
        sampler("spend", "bernoulli_mixture", p=0.25, dist_name="norm",
                dist_params={"loc": 100, "scale": 10}),
        sampler("rounded", "scipy", dist_name="uniform", dist_params={"loc": 0, "scale": 1},
                decimal_places=2),
    ]  # fmt: skip

    df = run(client, tmp_path, columns, 20_000)

    assert_moments(df["trials"], 20 * 0.3, 20 * 0.3 * 0.7)
    assert df["trials"].between(0, 20).all() and df["trials"].dtype == "int64"
    assert_moments(df["wait"], 3 * 2, 3 * 2**2)
    assert_moments(df["count"], 5, 10)  # nbinom: n(1-p)/p, n(1-p)/p^2
    # zero-inflated: P(0) = 1 - p; E = p mu; Var = p (sigma^2 + mu^2) - (p mu)^2
    assert (df["spend"] == 0).mean() == pytest.approx(0.75, abs=0.015)
    assert_moments(df["spend"], 25, 0.25 * (100 + 100**2) - 25**2)
    assert (df["rounded"] == df["rounded"].round(2)).all()


def test_timedelta_is_within_its_bounds_from_the_reference_column(client, tmp_path):
    columns = [
        sampler("ordered_at", "datetime", start="2024-01-01", end="2024-12-31", unit="h"),
        sampler("delivered_at", "timedelta", dt_min=2, dt_max=48, unit="h",
                reference_column_name="ordered_at"),
        sampler("followed_up", "timedelta", dt_min=0, dt_max=3,
                reference_column_name="delivered_at"),
    ]  # fmt: skip

    df = run(client, tmp_path, columns, 3_000)

    hours = (df["delivered_at"] - df["ordered_at"]) / pd.Timedelta(hours=1)
    assert hours.between(2, 47).all() and (hours == hours.round()).all()
    assert set(hours.astype(int)) == set(range(2, 48))  # every whole hour, dt_max excluded
    days = (df["followed_up"] - df["delivered_at"]) / pd.Timedelta(days=1)
    assert set(days) == {0, 1, 2}


def test_person_from_faker_honours_locale_sex_age_and_city(client, tmp_path):
    columns = [
        sampler("kunde", "person_from_faker", locale="de_DE", sex="Female", age_range=[30, 35],
                city=["Bergen", "Kiel"]),
        sampler("client", "person_from_faker", locale="fr_FR",
                select_field_values={"occupation": ["boulanger"]}),
        sampler("customer", "person", locale="ja_JP"),
    ]  # fmt: skip

    df = run(client, tmp_path, columns, 300)

    german = pd.DataFrame(df["kunde"].tolist())
    assert set(german["locale"]) == {"de_DE"} and set(german["sex"]) == {"Female"}
    assert german["age"].between(30, 35).all() and set(german["city"]) == {"Bergen", "Kiel"}
    assert set(german["country"]) == {"Germany"}
    french = pd.DataFrame(df["client"].tolist())
    assert set(french["country"]) == {"France"} and set(french["occupation"]) == {"boulanger"}
    assert french["postcode"].str.fullmatch(r"\d{5}").all()  # French postcodes
    assert pd.to_datetime(french["birth_date"], format="%Y-%m-%d").notna().all()
    japanese = pd.DataFrame(df["customer"].tolist())
    assert set(japanese["country"]) == {"Japan"}
    assert (
        japanese["last_name"].map(lambda s: any("\u4e00" <= ch <= "\u9fff" for ch in s)).mean()
        > 0.9
    )


def test_conditional_params_apply_only_on_matching_rows(client, tmp_path):
    columns = [
        sampler("country", "category", values=["NO", "PE", "IN"]),
        sampler("age", "uniform", low=18, high=90) | {"convert_to": "int"},
        {**sampler("income", "gaussian", mean=100, stddev=5), "conditional_params": {
            "country == 'NO'": {"mean": 500, "stddev": 5},
            "country == 'PE' and age >= 65": {"mean": -100, "stddev": 5},
        }},
        {**sampler("plan", "category", values=["basic"]),
         "conditional_params": {"age < 30": {"values": ["student"]}}},
    ]  # fmt: skip

    df = run(client, tmp_path, columns, 4_000)

    norway = df["country"] == "NO"
    senior_peru = (df["country"] == "PE") & (df["age"] >= 65)
    rest = ~norway & ~senior_peru
    assert norway.any() and senior_peru.any() and rest.any()
    assert df.loc[norway, "income"].between(450, 550).all()
    assert df.loc[senior_peru, "income"].between(-150, -50).all()
    assert df.loc[rest, "income"].between(50, 150).all()
    assert (df["plan"] == df["age"].map(lambda a: "student" if a < 30 else "basic")).all()


def test_constraints_hold_on_every_row(client, tmp_path):
    columns = [
        sampler("low", "uniform", low=0, high=60),
        sampler("high", "gaussian", mean=50, stddev=30),
        sampler("age", "poisson", mean=30),
        sampler("start", "datetime", start="2024-01-01", end="2024-02-01"),
        sampler("end", "datetime", start="2024-01-01", end="2024-02-01"),
    ]
    constraints = [
        {"target_column": "high", "operator": "gt", "rhs": "low"},  # column_inequality
        {"target_column": "high", "operator": "le", "rhs": 100},  # scalar_inequality
        {
            "target_column": "age",
            "operator": "ge",
            "rhs": 25,
            "constraint_type": "scalar_inequality",
        },
        {"target_column": "age", "operator": "lt", "rhs": 35},
        {"target_column": "end", "operator": "ge", "rhs": "start"},
    ]

    df = run(client, tmp_path, columns, 5_000, constraints)

    assert (df["high"] > df["low"]).all() and (df["high"] <= 100).all()
    assert df["age"].between(25, 34).all() and set(df["age"]) == set(range(25, 35))
    assert (df["end"] >= df["start"]).all()
    assert (df["low"] > 55).any()  # the target is redrawn, never the column it is compared with
    again = run(client, tmp_path / "again", columns, 5_000, constraints)
    pd.testing.assert_frame_equal(df, again)  # rejection sampling is seeded too


def test_an_unsatisfiable_constraint_stops_the_run_naming_it(client, tmp_path):
    columns = [sampler("score", "uniform", low=0, high=1), sampler("n", "poisson", mean=3)]
    constraints = [{"target_column": "score", "operator": "gt", "rhs": 2}]

    with pytest.raises(dagen.ConstraintError) as info:
        run(client, tmp_path, columns, 100, constraints)

    message = str(info.value)
    assert "column 'score'" in message and "scalar_inequality score > 2.0" in message
    assert "100 of 100 rows" in message and "1000 redraws" in message
    assert info.value.column == "score"
