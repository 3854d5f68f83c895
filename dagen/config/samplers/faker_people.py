"""The ``person_from_faker`` sampler: people made by Faker in a given locale.

Each person is a plain dict (a parquet struct, ``{{ customer.first_name }}`` in templates)
with the fields of Data Designer 0.9.7's Faker person, in its order (``FAKER_FIELDS``:
``middle_name`` None and ``unit`` empty as in DD, ``birth_date`` an ISO date matching
``age``, ``marital_status`` / ``education_level`` / ``bachelors_field`` from DD's
categories, no ``phone_number`` under 18). Names, streets, cities, postcodes, phone numbers
and jobs come from Faker's providers for ``locale`` (any locale Faker has: ``en_US``,
``fr_FR``, ``ja_JP``...); a field the locale has no provider for is None in every row.
``country`` is the locale's own country (DD draws a random country name). dagen's own
configs also give ``email_address`` and ``zipcode`` (the postcode), after DD's fields; a
DD file's people do not (``dd_fields_only``, set by the importer). Sex and age
are drawn with the row group's random generator, and Faker is seeded from it, so the
same run seed gives the same people on every worker. ``city`` (one or a list) fixes the
city; ``select_field_values`` draws the listed fields from the given values instead.

State: ``_LOCAL.fakers`` (locale -> Faker), one per locale per thread (a Dask worker runs
row groups in several threads, and a Faker is seeded before each draw), kept for reuse.

Example:
    >>> params = PersonFromFakerParams(locale="fr_FR", sex="Female", age_range=[30, 31])
    >>> person = draw_faker_people(params, np.random.default_rng(0), 1)[0]
    >>> person["locale"], person["sex"], person["age"] in (30, 31)
    ('fr_FR', 'Female', True)
"""

from __future__ import annotations

import datetime as dt
import re
import threading
import unicodedata
import uuid
from collections.abc import Sequence
from typing import Any, Literal

import numpy as np
import pandas as pd
from pydantic import Field, field_validator, model_validator

from dagen.config.base import StrictModel
from dagen.config.samplers.registry import Sampler, register_sampler

__all__ = [
    "FAKER_FIELDS",
    "NATIVE_FIELDS",
    "PersonFromFakerParams",
    "draw_faker_people",
    "faker_locales",
]

# Data Designer 0.9.7's Faker person, field for field and in its order
FAKER_FIELDS = (
    "uuid",
    "locale",
    "first_name",
    "last_name",
    "middle_name",
    "sex",
    "street_number",
    "street_name",
    "city",
    "state",
    "postcode",
    "age",
    "birth_date",
    "country",
    "marital_status",
    "education_level",
    "unit",
    "occupation",
    "phone_number",
    "bachelors_field",
)
# dagen's own configs also give these (Data Designer's files do not: dd_fields_only)
NATIVE_FIELDS = ("email_address", "zipcode")
# person field -> Faker provider method (fields not listed are made here)
_PROVIDERS = {
    "street_number": "building_number",
    "street_name": "street_name",
    "city": "city",
    "state": "state",
    "postcode": "postcode",
    "country": "current_country",
    "occupation": "job",
    "phone_number": "phone_number",
}
# DD's categories for the fields Faker has no provider for
MARITAL_STATUS = ("married_present", "divorced", "never_married", "separated", "widowed")
EDUCATION_LEVEL = (
    "secondary_education",
    "some_college",
    "bachelors",
    "associates",
    "graduate",
    "doctorate",
)
BACHELORS_FIELD = ("stem", "business", "education", "arts_humanities", "stem_related")
_COLLEGE = frozenset(("bachelors", "graduate", "doctorate"))
_SELECTABLE = (
    *_PROVIDERS,
    "first_name",
    "last_name",
    "marital_status",
    "education_level",
    "bachelors_field",
)

_LOCAL = threading.local()  # .fakers: locale -> Faker, per thread


def faker_locales() -> list[str]:
    """The locales Faker knows."""
    from faker.config import AVAILABLE_LOCALES

    return sorted(AVAILABLE_LOCALES)


def _faker(locale: str) -> Any:
    fakers: dict[str, Any] = _LOCAL.__dict__.setdefault("fakers", {})
    if locale not in fakers:
        from faker import Faker

        fakers[locale] = Faker(locale)
    return fakers[locale]


def check_locale(value: str) -> str:
    """``value`` if Faker knows the locale.

    Raises:
        ValueError: naming a close locale when there is one.
    """
    known = faker_locales()
    if value not in known:
        close = [k for k in known if k.split("_")[0] == value.split("_")[0]][:5]
        hint = f"; for this language: {', '.join(close)}" if close else ""
        raise ValueError(f"Faker has no locale {value!r}{hint}")
    return value


def _check_age_range(value: list[int]) -> list[int]:
    low, high = value
    if not 0 <= low <= high:
        raise ValueError(f"age_range {value} must be 0 <= low <= high")
    return value


class PersonFromFakerParams(StrictModel):
    """A person made by Faker in ``locale``: names, sex, age, email, phone, address, job."""

    locale: str = "en_US"
    sex: Literal["Male", "Female"] | None = None
    city: str | list[str] | None = None
    age_range: list[int] = Field(default=[18, 114], min_length=2, max_length=2)
    select_field_values: dict[str, list[Any]] | None = None
    # only DD's fields (the importer sets it for DD's files); else also email and zipcode
    dd_fields_only: bool = False

    _locale = field_validator("locale")(check_locale)
    _ages = field_validator("age_range")(_check_age_range)

    @field_validator("sex", mode="before")
    @classmethod
    def _capitalised(cls, value: Any) -> Any:
        return value.capitalize() if isinstance(value, str) else value

    @model_validator(mode="after")
    def _selectable(self) -> PersonFromFakerParams:
        for name, values in (self.select_field_values or {}).items():
            if name not in _SELECTABLE:
                choices = [f for f in FAKER_FIELDS if f in _SELECTABLE]
                raise ValueError(
                    f"select_field_values: {name!r} is not a field that can be selected; "
                    f"fields: {', '.join(choices)} (use sex, age_range and city for those)"
                )
            if not values:
                raise ValueError(f"select_field_values: {name!r} lists no values")
        return self


def _provided(fake: Any, method: str) -> Any:
    try:
        return str(getattr(fake, method)())
    except AttributeError:  # the locale has no provider for it
        return None


def _choose(options: Sequence[Any], u: float) -> Any:
    return options[int(u * len(options))]


def _year_earlier(day: dt.date, years: int) -> dt.date:
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February in a year that has none
        return day.replace(year=day.year - years, day=28)


def birth_dates(ages: np.ndarray, u: np.ndarray, today: dt.date | None = None) -> list[str]:
    """ISO birth dates of people aged ``ages`` today, as DD draws them (``u`` uniform)."""
    today = today or dt.date.today()
    dates = []
    for age, frac in zip(ages.tolist(), u.tolist(), strict=True):
        start, end = _year_earlier(today, age + 1), _year_earlier(today, age)
        offset = int(frac * ((end - start).days + 1))
        dates.append((start + dt.timedelta(days=offset)).isoformat())
    return dates


def draw_faker_people(
    params: PersonFromFakerParams, rng: np.random.Generator, n: int
) -> list[dict[str, Any]]:
    """``n`` people made by Faker under ``params``, seeded from ``rng``."""
    fake = _faker(params.locale)
    fake.seed_instance(int(rng.integers(0, 2**62)))
    low, high = params.age_range
    female = rng.random(n) < 0.5 if params.sex is None else np.full(n, params.sex == "Female")
    ages = rng.integers(low, high + 1, size=n)
    raw = rng.bytes(16 * n)
    choices = rng.random((n, len(FAKER_FIELDS)))  # one uniform per row and field
    born = birth_dates(ages, choices[:, FAKER_FIELDS.index("birth_date")])
    cities = [params.city] if isinstance(params.city, str) else params.city
    selected = {**({"city": cities} if cities else {}), **(params.select_field_values or {})}
    drawn: dict[str, Sequence[Any]] = {
        "marital_status": MARITAL_STATUS,
        "education_level": EDUCATION_LEVEL,
    }
    fields = FAKER_FIELDS if params.dd_fields_only else FAKER_FIELDS + NATIVE_FIELDS
    people = []
    for i in range(n):
        sex = "female" if female[i] else "male"
        person: dict[str, Any] = {
            "uuid": str(uuid.UUID(bytes=raw[16 * i : 16 * i + 16], version=4)),
            "locale": params.locale,
            "first_name": str(getattr(fake, f"first_name_{sex}")()),
            "last_name": str(getattr(fake, f"last_name_{sex}")()),
            "middle_name": None,
            "sex": sex.capitalize(),
            "age": int(ages[i]),
            "birth_date": born[i],
            "unit": "",
        }
        for field, method in _PROVIDERS.items():
            person[field] = _provided(fake, method)
        for field, options in drawn.items():
            person[field] = _choose(options, choices[i, FAKER_FIELDS.index(field)])
        college = person["education_level"] in _COLLEGE
        u = choices[i, FAKER_FIELDS.index("bachelors_field")]
        person["bachelors_field"] = _choose(BACHELORS_FIELD, u) if college else "no_degree"
        for field, options in selected.items():
            person[field] = _choose(options, choices[i, FAKER_FIELDS.index(field)])
        if person["age"] < 18:  # DD gives children no phone
            person["phone_number"] = None
        if not params.dd_fields_only:
            first, last = _ascii(str(person["first_name"])), _ascii(str(person["last_name"]))
            handle = f"{first}.{last}" if first and last else str(fake.user_name())
            person["email_address"] = (
                f"{handle}{int(choices[i, 0] * 98) + 1}@{fake.free_email_domain()}"
            )
            person["zipcode"] = person["postcode"]
        people.append({field: person[field] for field in fields})
    return people


def _ascii(text: str) -> str:
    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z]", "", plain.lower())


def _draw_person_from_faker(
    p: PersonFromFakerParams, rng: np.random.Generator, n: int, frame: pd.DataFrame
) -> Any:
    return draw_faker_people(p, rng, n)


register_sampler(
    Sampler(
        "person_from_faker",
        PersonFromFakerParams,
        _draw_person_from_faker,
        example={"locale": "de_DE", "age_range": [30, 40]},
    )
)
