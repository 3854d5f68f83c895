"""People as Data Designer 0.9.7 gives them: DD writes a config with ``person_from_faker``
and ``person`` columns and expressions reading their fields, and runs what it can offline
(the Faker person; ``person`` needs DD's managed datasets); dagen runs the same file."""

from __future__ import annotations

import datetime as dt

import pandas as pd

import dagen

WRITE_AND_RUN = """
    import json
    import data_designer.config as dd
    from data_designer.interface import DataDesigner

    def people(builder, person_type, params):
        builder.add_column(dd.SamplerColumnConfig(
            name="customer", sampler_type=person_type, params=params))
        builder.add_column(dd.ExpressionColumnConfig(
            name="born", expr="{{ customer.birth_date }}"))
        builder.add_column(dd.ExpressionColumnConfig(
            name="greeting", expr="Dear {{ customer.first_name }} {{ customer.last_name }}"))
        return builder

    faker = people(dd.DataDesignerConfigBuilder(model_configs=[]),
                   dd.SamplerType.PERSON_FROM_FAKER,
                   dd.PersonFromFakerSamplerParams(locale="en_US", age_range=[10, 40]))
    faker.write_config("faker.yaml")
    people(dd.DataDesignerConfigBuilder(model_configs=[]), dd.SamplerType.PERSON,
           dd.PersonSamplerParams(locale="en_US", age_range=[10, 40])).write_config("person.yaml")
    frame = DataDesigner(artifact_path="artifacts").preview(faker, num_records=40).dataset
    from data_designer.engine.sampling_gen.person_constants import faker_constants as f
    categories = {"marital_status": f.marital_status, "education_level": f.education_level,
                  "bachelors_field": [*f.bachelors, "no_degree"]}
    print(json.dumps({"columns": list(frame.columns), "categories": categories,
                      "dtypes": [str(t) for t in frame.dtypes],
                      "rows": frame.astype(object).to_dict(orient="records")}))
"""


def _dd_people(run_data_designer, tmp_path):
    by_dd = run_data_designer(WRITE_AND_RUN, cwd=tmp_path)
    return by_dd, pd.DataFrame([row["customer"] for row in by_dd["rows"]])


def _check_people(people: pd.DataFrame, frame: pd.DataFrame) -> None:
    """What DD's Faker people hold, whoever made them."""
    assert people["age"].between(10, 40).all()
    today = dt.date.today()
    born = pd.to_datetime(people["birth_date"], format="%Y-%m-%d").dt.date
    ages = [today.year - b.year - ((today.month, today.day) < (b.month, b.day)) for b in born]
    for age, birth, drawn in zip(ages, born, people["age"], strict=True):
        # DD's birth date is within a year of the age; its first day, one year older today
        one_older = age == drawn + 1 and (birth.month, birth.day) == (today.month, today.day)
        assert age == drawn or one_older, (birth, drawn)
    assert people["phone_number"][people["age"] < 18].isna().all()
    assert people["phone_number"][people["age"] >= 18].notna().all()
    assert people["middle_name"].isna().all() and set(people["unit"]) == {""}
    college = people["education_level"].isin(["bachelors", "graduate", "doctorate"])
    assert set(people["bachelors_field"][~college]) <= {"no_degree"}
    assert "no_degree" not in set(people["bachelors_field"][college])
    assert set(people["sex"]) <= {"Male", "Female"}
    assert people["postcode"].str.fullmatch(r"\d{5}").all()
    assert frame["born"].tolist() == people["birth_date"].tolist()
    assert frame["greeting"].tolist() == [
        f"Dear {p.first_name} {p.last_name}" for p in people.itertuples()
    ]


def test_a_faker_person_has_data_designers_fields_and_its_expressions_run(
    run_data_designer, tmp_path, client
):
    by_dd, dd_people = _dd_people(run_data_designer, tmp_path)
    _check_people(dd_people, pd.DataFrame(by_dd["rows"]))

    config = dagen.load_config(tmp_path / "faker.yaml")
    frame = dagen.generate(
        config, num_records=40, output_dir=tmp_path / "out", client=client
    ).to_pandas()

    assert list(frame.columns) == by_dd["columns"] == ["customer", "born", "greeting"]
    people = pd.DataFrame(frame["customer"].tolist())
    assert list(people.columns) == list(dd_people.columns)  # same fields, same order
    _check_people(people, frame)
    assert people["uuid"].str.fullmatch(r"[0-9a-f-]{36}").all()
    for field in ("marital_status", "education_level", "bachelors_field"):
        assert set(people[field]) <= set(by_dd["categories"][field]), field


def test_a_data_designer_person_column_runs_offline_with_the_faker_fields(
    run_data_designer, tmp_path, client
):
    _, dd_people = _dd_people(run_data_designer, tmp_path)

    config = dagen.load_config(tmp_path / "person.yaml")
    frame = dagen.generate(
        config, num_records=40, output_dir=tmp_path / "out", client=client
    ).to_pandas()

    people = pd.DataFrame(frame["customer"].tolist())
    assert list(people.columns) == list(dd_people.columns)
    _check_people(people, frame)
