"""The cap-share rule: a model's cap split over the workers, changed in two steps.

Pure: the tests say which workers are present and what calls they report, and read the
installs. Whatever the workers do, the installed shares never add up to more than the cap,
and a share grows only once the calls of the workers that shrank fit theirs.
"""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from dagen.lowering.shares import Install, ShareSplit

WORKERS = ["a", "b", "c", "d"]


def test_the_first_workers_get_the_whole_cap_at_once():
    split = ShareSplit({"writer": 5, "judge": 2})
    assert split.workers_changed(["b", "a"]) == [
        Install("a", {"writer": 3, "judge": 1}),
        Install("b", {"writer": 2, "judge": 1}),
    ]
    assert not split.growing and split.min_share("writer") == 2


def test_no_worker_changes_nothing_and_a_run_without_models_installs_nothing():
    split = ShareSplit({"m": 4})
    assert split.workers_changed([]) == [] and split.installed == {}
    assert ShareSplit({}).workers_changed(["a"]) == []


def test_a_shrunk_worker_that_leaves_before_it_reports_lets_the_others_grow():
    split = ShareSplit({"m": 4})
    split.workers_changed(["a"])
    assert split.workers_changed(["a", "b"]) == [Install("a", {"m": 2})]
    assert split.calls_reported({"a": None}) == [Install("b", {"m": 2})]  # a left meanwhile


def test_a_worker_that_leaves_while_shares_wait_to_grow_is_forgotten():
    split = ShareSplit({"m": 4})
    split.workers_changed(["a"])
    split.workers_changed(["a", "b"])  # a shrinks to 2, b waits
    assert split.workers_changed(["b"]) == [Install("b", {"m": 4})]  # nothing shrank now
    assert not split.growing and split.installed == {"m": {"b": 4}}


def test_no_answer_yet_is_not_a_fit():
    split = ShareSplit({"m": 4})
    split.workers_changed(["a"])
    split.workers_changed(["a", "b"])
    assert split.calls_reported({}) == [] and split.growing


@given(
    st.lists(
        st.tuples(
            st.sets(st.sampled_from(WORKERS)),
            st.dictionaries(st.sampled_from(WORKERS), st.integers(0, 6)),
        ),
        max_size=12,
    ),
    st.integers(1, 9),
)
def test_the_installed_shares_never_add_up_to_more_than_the_cap(steps, cap):
    split = ShareSplit({"m": cap})
    calls: dict[str, int] = {}  # worker -> calls in flight, never above what it was given
    for present, reported in steps:
        split.workers_changed(sorted(present))
        calls = {w: n for w, n in calls.items() if w in present}  # one that left runs nothing
        for worker in list(calls):
            calls[worker] = min(calls[worker], reported.get(worker, calls[worker]))
        split.calls_reported({w: {"m": calls.get(w, 0)} for w in split.asks})
        installed = split.installed.get("m", {})
        assert sum(installed.values()) <= cap
        for worker, share in installed.items():
            calls[worker] = max(calls.get(worker, 0), share)  # it fills its share
        # in flight: the shrunk workers' calls (finishing), the others' shares
        assert sum(calls.get(w, 0) for w in split.workers) <= cap or split.growing
