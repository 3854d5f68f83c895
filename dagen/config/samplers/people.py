"""The ``person`` sampler: names, sex, age, email and city from small bundled lists.

The lists are fixed so that the same seed gives the same people on every machine. Each
person is a plain dict (stored as a parquet struct), reachable in templates as
``{{ person.first_name }}``.

Example:
    >>> [p["sex"] for p in draw_people(PersonParams(sex="male"), np.random.default_rng(0), 2)]
    ['male', 'male']
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
import pandas as pd
from pydantic import model_validator

from dagen.config.base import StrictModel
from dagen.config.samplers.registry import Sampler, register_sampler

__all__ = ["CITIES", "FEMALE", "LAST", "MALE", "PersonParams", "draw_people"]


class PersonParams(StrictModel):
    """A synthetic person as an object with name, sex, age, email and city.

    Fields of the object are reachable in templates as ``{{ person.first_name }}``.
    """

    sex: Literal["female", "male"] | None = None
    age_range: tuple[int, int] = (18, 90)
    cities: list[str] | None = None

    @model_validator(mode="after")
    def _ordered(self) -> PersonParams:
        low, high = self.age_range
        if not 0 <= low <= high:
            raise ValueError(f"age_range {self.age_range} must be 0 <= low <= high")
        return self


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
    cities = params.cities or CITIES
    low, high = params.age_range
    female = rng.random(n) < 0.5 if params.sex is None else np.full(n, params.sex == "female")
    first_idx = rng.integers(0, len(FEMALE), size=n)
    last_idx = rng.integers(0, len(LAST), size=n)
    ages = rng.integers(low, high + 1, size=n)
    city_idx = rng.integers(0, len(cities), size=n)
    suffix = rng.integers(1, 100, size=n)
    people = []
    for i in range(n):
        first = (FEMALE if female[i] else MALE)[first_idx[i] % len(MALE)]
        last = LAST[last_idx[i]]
        people.append(
            {
                "first_name": first,
                "last_name": last,
                "sex": "female" if female[i] else "male",
                "age": int(ages[i]),
                "email": f"{first.lower()}.{last.lower()}{suffix[i]}@example.com",
                "city": cities[city_idx[i]],
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
