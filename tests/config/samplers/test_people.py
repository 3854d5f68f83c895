"""The person sampler: synthetic people with consistent names, sex, age, email and city."""

from __future__ import annotations

import re

import numpy as np
import pytest

from dagen.config.samplers.people import CITIES, FEMALE, LAST, MALE, PersonParams, draw_people


def people(n: int = 3000, seed: int = 1, **params) -> list[dict]:
    return draw_people(PersonParams(**params), np.random.default_rng(seed), n)


def test_a_person_has_every_field_and_a_matching_email():
    for person in people():
        assert person.keys() == {"first_name", "last_name", "sex", "age", "email", "city"}
        assert person["last_name"] in LAST
        assert person["city"] in CITIES
        match = re.fullmatch(r"([a-z]+)\.([a-z]+)(\d+)@example\.com", person["email"])
        assert match, person["email"]
        assert match.group(1) == person["first_name"].lower()
        assert match.group(2) == person["last_name"].lower()
        assert 1 <= int(match.group(3)) <= 99


def test_first_names_match_the_sex_and_both_sexes_appear():
    drawn = people()
    for person in drawn:
        names = FEMALE if person["sex"] == "female" else MALE
        assert person["first_name"] in names
    female = sum(p["sex"] == "female" for p in drawn) / len(drawn)
    assert female == pytest.approx(0.5, abs=0.05)
    assert len({p["first_name"] for p in drawn}) > 50  # names from both lists


@pytest.mark.parametrize("sex", ["female", "male"])
def test_a_fixed_sex(sex):
    drawn = people(500, sex=sex)
    assert {p["sex"] for p in drawn} == {sex}
    names = FEMALE if sex == "female" else MALE
    assert {p["first_name"] for p in drawn} <= set(names)


def test_age_range_is_inclusive_and_cities_can_be_given():
    drawn = people(2000, age_range=(30, 32), cities=["Tromso", "Bergen"])
    assert {p["age"] for p in drawn} == {30, 31, 32}
    assert {p["city"] for p in drawn} == {"Tromso", "Bergen"}
    assert all(isinstance(p["age"], int) for p in drawn)


def test_the_same_generator_state_gives_the_same_people():
    assert people(50, seed=5) == people(50, seed=5)
    assert people(50, seed=5) != people(50, seed=6)


def test_faker_people_are_the_same_when_drawn_in_parallel_threads():
    from concurrent.futures import ThreadPoolExecutor

    from dagen.config.samplers.faker_people import PersonFromFakerParams, draw_faker_people

    params = PersonFromFakerParams(locale="pl_PL")

    def draw(seed: int) -> list[dict]:
        return draw_faker_people(params, np.random.default_rng(seed), 200)

    alone = [draw(seed) for seed in range(8)]
    with ThreadPoolExecutor(8) as pool:
        together = list(pool.map(draw, range(8)))
    assert together == alone
    assert {p["locale"] for p in alone[0]} == {"pl_PL"} and alone[0] != alone[1]


def test_dd_person_fields_sex_in_capitals_and_one_city():
    drawn = people(300, sex="Female", city="Tromso", select_field_values={"last_name": ["Berg"]})
    assert {(p["sex"], p["city"], p["last_name"]) for p in drawn} == {("female", "Tromso", "Berg")}
    assert all(p["email"].startswith(f"{p['first_name'].lower()}.berg") for p in drawn)


def test_a_native_faker_person_has_data_designers_fields_then_email_and_zipcode():
    from dagen.config.samplers.faker_people import (
        FAKER_FIELDS,
        PersonFromFakerParams,
        draw_faker_people,
    )

    rng = np.random.default_rng(5)
    native = draw_faker_people(PersonFromFakerParams(locale="en_US"), rng, 3)
    as_dd = draw_faker_people(PersonFromFakerParams(locale="en_US", dd_fields_only=True), rng, 3)

    assert [list(p) for p in native] == [[*FAKER_FIELDS, "email_address", "zipcode"]] * 3
    assert all("@" in p["email_address"] and p["zipcode"] == p["postcode"] for p in native)
    assert [list(p) for p in as_dd] == [list(FAKER_FIELDS)] * 3
