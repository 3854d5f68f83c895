"""Templates written to hurt: a loop that never ends in practice, a value of hundreds of
megabytes. Each fails its row with a TemplateLimitError naming the column and the limit;
the rest of the run goes on."""

from __future__ import annotations

import threading
import time

import pandas as pd
import pytest

import dagen
from dagen.config.columns import ExpressionColumnConfig
from dagen.config.run import TemplateLimits
from dagen.errors import TemplateLimitError
from dagen.generators.base import BatchContext
from dagen.generators.expression import ExpressionGenerator, Template

FOREVER = "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}x"
SMALL = TemplateLimits(render_seconds=0.5, max_value_bytes=1000)


def render(source: str, limits: TemplateLimits = SMALL, **row) -> str:
    return Template(source, "t", "expression", limits).render(row, 0, 0)


def test_a_loop_that_never_ends_in_practice_stops_at_the_time_limit():
    with pytest.raises(
        TemplateLimitError, match=r"column 't'.*longer than 0.5 s.*render_seconds"
    ) as info:
        render(FOREVER)
    assert info.value.setting == "render_seconds"


@pytest.mark.parametrize(
    "source",
    [
        "{{ 'x' * 300000000 }}",
        "{{ [1, 2] * 100000000 }}",
        "{{ 9 ** 999999999 }}",
        "{% set ns = namespace(s='x') %}{% for i in range(40) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}",
        "{{ range(100000) | join('xxxxxxxxxx') }}",
        "{{ 'a'.ljust(10 ** 9) }}",
        "{{ 'x' | center(10 ** 9) }}",
        "{{ '%999999999d' % 1 }}",
        "{{ '{:>999999999}'.format(1) }}",
        "{{ 'abc'.replace('', 'y' * 900) }}",
        "{% for i in range(10000) %}ab{% endfor %}",
    ],
)
def test_a_value_over_the_size_limit_is_refused_before_it_is_built(source):
    with pytest.raises(TemplateLimitError, match=r"the limit is 1000.*max_value_bytes") as info:
        render(source)
    assert info.value.setting == "max_value_bytes"


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("Call {{ phone }} about {{ n * 2 }} items", "Call 5551234567 about 6 items"),
        ("{{ '%-8.3f|' % 3.14159 }}{{ '{:>5}'.format('ab') }}", "3.142   |   ab"),
        ("{{ 'ab' ~ 'cd' }} {{ ['a', 'b'] | join('-') }} {{ 'x' | center(5) }}", "abcd a-b   x  "),
    ],
)
def test_ordinary_templates_render_as_before(source, expected):
    assert render(source, phone="5551234567", n=3) == expected


def test_renders_in_several_threads_each_stop_at_their_own_deadline():
    errors = []

    def work() -> None:
        try:
            render(FOREVER)
        except TemplateLimitError as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert len(errors) == 3
    assert render("{{ 1 + 1 }}") == "2"  # no timeout left over for this thread


def test_a_render_that_fails_leaves_no_timeout_behind_in_its_thread():
    # a template raising its own error (here: a division by zero) ends its watch, so the
    # thread it ran in is not interrupted later, in whatever it does after its deadline
    with pytest.raises(Exception, match="division by zero"):
        render("{{ 1 / 0 }}", TemplateLimits(render_seconds=0.2))
    time.sleep(0.5)  # past the deadline: nothing is raised here
    assert render("{{ 1 + 1 }}") == "2"


def test_once_a_row_group_runs_out_of_time_its_other_rows_fail_for_the_same_reason():
    config = ExpressionColumnConfig(name="t", expr=FOREVER)
    generator = ExpressionGenerator(config, ("a",), SMALL)
    frame = pd.DataFrame({"a": range(4)})

    block = generator.run_batch(frame, BatchContext("t", 0, 0, 4, seed=0))

    assert sorted(block.failures) == [0, 1, 2, 3]
    assert {f.error_type for f in block.failures.values()} == {"TemplateLimitError"}


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [({"render_seconds": 0}, ValueError), ({"render_seconds": "10"}, TypeError),
     ({"max_value_bytes": 0}, ValueError), ({"max_value_bytes": 1.5}, TypeError)],
)  # fmt: skip
def test_template_limits_out_of_range_are_caller_mistakes(kwargs, error):
    with pytest.raises(error):
        TemplateLimits(**kwargs)
    with pytest.raises(TypeError, match="template_limits"):
        dagen.RunSettings(template_limits={"render_seconds": 1})
