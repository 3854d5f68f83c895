"""Samplers: one registry entry per ``sampler_type`` (params model, draw function, reads).

A sampler column names its sampler and gives ``params``; the params are validated by the
model registered for that sampler type, so an unknown or misspelled parameter is an error
that names the column, the sampler and the field. The table is in ``registry``; the
built-in samplers, each params model beside its draw function, are in:

    choice          category, subcategory
    numeric         uniform, gaussian, bernoulli, binomial, poisson
    distributions   scipy, bernoulli_mixture (scipy.stats)
    moments         datetime, timedelta, uuid
    people          person
    faker_people    person_from_faker

Importing this package registers them. To add one, write a params model (its docstring
is the sampler's description) and a draw function, and ``register_sampler`` them.

Example:
    >>> params_model("category").model_validate({"values": ["a", "b"], "weights": [3, 1]})
    CategoryParams(values=['a', 'b'], weights=[3.0, 1.0])
"""

from __future__ import annotations

from dagen.config.base import StrictModel
from dagen.config.samplers.choice import CategoryParams, SubcategoryParams
from dagen.config.samplers.distributions import BernoulliMixtureParams, ScipyParams
from dagen.config.samplers.faker_people import PersonFromFakerParams
from dagen.config.samplers.moments import DatetimeParams, TimedeltaParams, UuidParams
from dagen.config.samplers.numeric import (
    BernoulliParams,
    BinomialParams,
    GaussianParams,
    PoissonParams,
    UniformParams,
)
from dagen.config.samplers.people import PersonParams
from dagen.config.samplers.registry import (
    Sampler,
    get_sampler,
    no_columns,
    register_sampler,
    sampler_names,
    samplers,
)

__all__ = [
    "BernoulliMixtureParams",
    "BernoulliParams",
    "BinomialParams",
    "CategoryParams",
    "DatetimeParams",
    "GaussianParams",
    "PersonFromFakerParams",
    "PersonParams",
    "PoissonParams",
    "Sampler",
    "ScipyParams",
    "SubcategoryParams",
    "TimedeltaParams",
    "UniformParams",
    "UuidParams",
    "get_sampler",
    "no_columns",
    "params_model",
    "register_sampler",
    "sampler_names",
    "samplers",
]


def params_model(sampler_type: str) -> type[StrictModel]:
    """The params model of a sampler type.

    Raises:
        ConfigValidationError: the sampler type is unknown (listing the known ones).
    """
    return get_sampler(sampler_type).params
