"""The ``person`` sampler: names, sex, age, email and city from small bundled lists, or
from Faker when a ``locale`` is given.

Without ``locale``, the lists are fixed so that the same seed gives the same people on
every machine, and a person has the fields ``first_name``, ``last_name``, ``sex``
(``female``/``male``), ``age``, ``email`` and ``city``. With a ``locale`` (DD's field; DD
samples its managed persona datasets, which dagen does not bundle), the people are made by
Faker exactly as ``person_from_faker`` makes them, with its fields. Each person is a plain
dict (stored as a parquet struct), reachable in templates as ``{{ person.first_name }}``.
``city`` (or ``cities``) fixes the city; ``select_field_values`` draws the listed fields
from the given values.

Example:
    >>> [p["sex"] for p in draw_people(PersonParams(sex="male"), np.random.default_rng(0), 2)]
    ['male', 'male']
    >>> draw_people(PersonParams(locale="it_IT"), np.random.default_rng(0), 1)[0]["locale"]
    'it_IT'
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
import pandas as pd
import pydantic
from pydantic import field_validator, model_validator

from dagen.config.base import StrictModel, validate_nested
from dagen.config.samplers.faker_people import (
    PersonFromFakerParams,
    check_locale,
    draw_faker_people,
)
from dagen.config.samplers.registry import Sampler, register_sampler

__all__ = ["CITIES", "FEMALE", "LAST", "MALE", "PersonParams", "draw_people"]

_SELECTABLE = ("first_name", "last_name", "city")  # bundled fields select_field_values may set


class PersonParams(StrictModel):
    """A synthetic person as an object with name, sex, age, email and city.

    Fields of the object are reachable in templates as ``{{ person.first_name }}``.
    """

    sex: Literal["female", "male"] | None = None
    age_range: tuple[int, int] = (18, 90)
    cities: list[str] | None = None
    city: str | list[str] | None = None
    locale: str | None = None
    select_field_values: dict[str, list[Any]] | None = None
    with_synthetic_personas: bool = False
    dd_fields_only: bool = False  # with a locale: only DD's Faker fields (DD's files)

    @field_validator("sex", mode="before")
    @classmethod
    def _lower_case(cls, value: Any) -> Any:
        return value.lower() if isinstance(value, str) else value

    _locale = field_validator("locale")(lambda v: v if v is None else check_locale(v))

    @model_validator(mode="after")
    def _ordered(self) -> PersonParams:
        low, high = self.age_range
        if not 0 <= low <= high:
            raise ValueError(f"age_range {self.age_range} must be 0 <= low <= high")
        if self.with_synthetic_personas:
            raise ValueError(
                "with_synthetic_personas needs DD's managed persona datasets, which dagen "
                "does not bundle; use an llm column to write personas"
            )
        if self.cities is not None and self.city is not None:
            raise ValueError("give city or cities, not both")
        if self.locale is not None:
            try:
                self.as_faker()  # the Faker sampler checks select_field_values
            except pydantic.ValidationError as exc:
                raise ValueError(
                    "; ".join(e["msg"].removeprefix("Value error, ") for e in exc.errors())
                ) from None
            return self
        for name, values in (self.select_field_values or {}).items():
            if name not in _SELECTABLE or not values:
                raise ValueError(
                    f"select_field_values: {name!r} needs a non-empty list and one of "
                    f"{', '.join(_SELECTABLE)} (with a locale, the person_from_faker fields)"
                )
        return self

    def as_faker(self) -> PersonFromFakerParams:
        """The same request as ``person_from_faker`` params (when a locale is given)."""
        return validate_nested(
            PersonFromFakerParams,
            {
                "locale": self.locale or "en_US",
                "sex": self.sex,
                "city": self.city if self.city is not None else self.cities,
                "age_range": list(self.age_range),
                "select_field_values": self.select_field_values,
                "dd_fields_only": self.dd_fields_only,
            },
        )


FEMALE = [
    "Ada",
    "Amara",
    "Ana",
    "Astrid",
    "Chiara",
    "Daria",
    "Elena",
    "Emma",
    "Fatima",
    "Grace",
    "Hana",
    "Ines",
    "Ingrid",
    "Isabel",
    "Jia",
    "Kaja",
    "Leila",
    "Lucia",
    "Maya",
    "Mei",
    "Mira",
    "Nadia",
    "Nora",
    "Olivia",
    "Priya",
    "Rosa",
    "Sara",
    "Sofia",
    "Yara",
    "Zoe",
]
MALE = [
    "Aarav",
    "Adam",
    "Ali",
    "Anders",
    "Arjun",
    "Bruno",
    "Carlos",
    "Daniel",
    "David",
    "Diego",
    "Elias",
    "Emil",
    "Felix",
    "Hugo",
    "Ivan",
    "Jonas",
    "Kai",
    "Kenji",
    "Leo",
    "Luca",
    "Marco",
    "Mateo",
    "Noah",
    "Omar",
    "Oskar",
    "Paulo",
    "Rafael",
    "Sami",
    "Tomas",
    "Yusuf",
]
LAST = [
    "Almeida",
    "Andersen",
    "Bakker",
    "Banerjee",
    "Berg",
    "Costa",
    "Dubois",
    "Eriksen",
    "Fischer",
    "Garcia",
    "Haddad",
    "Hansen",
    "Ito",
    "Johansson",
    "Kim",
    "Kowalski",
    "Larsen",
    "Lopez",
    "Mendes",
    "Meyer",
    "Moreau",
    "Nakamura",
    "Novak",
    "Okafor",
    "Olsen",
    "Patel",
    "Quispe",
    "Rossi",
    "Sato",
    "Silva",
    "Singh",
    "Suzuki",
    "Tanaka",
    "Torres",
    "Wang",
    "Weber",
    "Yilmaz",
]
CITIES = [
    "Oslo",
    "Lima",
    "Pune",
    "Lagos",
    "Kyoto",
    "Porto",
    "Lyon",
    "Quito",
    "Accra",
    "Busan",
    "Cork",
    "Graz",
    "Hanoi",
    "Izmir",
    "Kochi",
    "Leeds",
    "Malmo",
    "Nantes",
    "Ottawa",
    "Perth",
    "Recife",
    "Split",
    "Tartu",
    "Utrecht",
    "Valencia",
]


def draw_people(params: PersonParams, rng: np.random.Generator, n: int) -> list[dict[str, Any]]:
    """``n`` people drawn with ``rng`` under ``params``."""
    if params.locale is not None:
        return draw_faker_people(params.as_faker(), rng, n)
    city = [params.city] if isinstance(params.city, str) else params.city
    select = {"city": city or params.cities or CITIES, **(params.select_field_values or {})}
    low, high = params.age_range
    female = rng.random(n) < 0.5 if params.sex is None else np.full(n, params.sex == "female")
    first_idx = rng.integers(0, len(FEMALE), size=n)
    last_idx = rng.integers(0, len(LAST), size=n)
    ages = rng.integers(low, high + 1, size=n)
    city_idx = rng.integers(0, len(select["city"]), size=n)
    suffix = rng.integers(1, 100, size=n)
    people = []
    for i in range(n):
        first = (FEMALE if female[i] else MALE)[first_idx[i] % len(MALE)]
        last = LAST[last_idx[i]]
        if "first_name" in select:
            first = select["first_name"][first_idx[i] % len(select["first_name"])]
        if "last_name" in select:
            last = select["last_name"][last_idx[i] % len(select["last_name"])]
        people.append(
            {
                "first_name": first,
                "last_name": last,
                "sex": "female" if female[i] else "male",
                "age": int(ages[i]),
                "email": f"{str(first).lower()}.{str(last).lower()}{suffix[i]}@example.com",
                "city": select["city"][city_idx[i]],
            }
        )
    return people


def _draw_person(p: PersonParams, rng: np.random.Generator, n: int, frame: pd.DataFrame) -> Any:
    return draw_people(p, rng, n)


register_sampler(
    Sampler(
        "person",
        PersonParams,
        _draw_person,
        example={"age_range": [30, 40]},
        converts=lambda p: frozenset(),  # a person is a record: convert_to does not apply
    )
)
