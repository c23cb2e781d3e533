"""A stock-flow run resumed from a checkpoint gives the same paths as a fresh run.

The what-if budget keeps the baseline's state at the start of each forecast year
(``cobic.demand.checkpoints``); a lever that changes entries from a later year resumes there.
The check is a second method: the same scenario simulated afresh, without checkpoints.
"""

from __future__ import annotations

import numpy as np
import pytest

from cobic.data.ssda903 import read_ssda903
from cobic.demand import scenarios as S
from cobic.demand.base import get_model
from cobic.demand.checkpoints import Checkpoints
from cobic.paths import fixtures_dir

HORIZON, PATHS, SEED = 5, 60, 4


@pytest.fixture(scope="module")
def fitted():
    return get_model("stockflow").fit(read_ssda903(fixtures_dir() / "synthetic_la"))


def _same(a, b) -> bool:
    return (np.array_equal(a.values, b.values)
            and all(np.array_equal(a.extra[k], b.extra[k]) for k in a.extra)
            and all(np.array_equal(a.age_bands[k], b.age_bands[k]) for k in a.age_bands))


@pytest.mark.parametrize("years_on", [1, 3, 5])
def test_an_entry_step_resumes_at_its_year_and_matches_a_fresh_run(fitted, years_on):
    cp = Checkpoints()
    fitted.simulate(HORIZON, PATHS, SEED, cp)  # the baseline: the run the checkpoints keep
    sc = fitted.with_scenario(S.entry_step(S.Scenario(), 0.25, fitted.origin + years_on))
    resumed = sc.simulate(HORIZON, PATHS, SEED, cp)
    # the step changes the entrants of year origin + years_on, the (years_on - 1)-th
    # forecast year counting from 0; every year before it is the baseline's (two chunks)
    assert cp.resumed == [years_on - 1, years_on - 1]
    assert _same(resumed, sc.simulate(HORIZON, PATHS, SEED))
    assert not _same(resumed, fitted.simulate(HORIZON, PATHS, SEED))


def test_a_saved_state_is_not_changed_by_the_runs_that_resume_from_it(fitted):
    cp = Checkpoints()
    fitted.simulate(HORIZON, PATHS, SEED, cp)
    for change in (0.3, -0.2, 0.3):
        sc = fitted.with_scenario(S.entry_step(S.Scenario(), change, fitted.origin + 2))
        assert _same(sc.simulate(HORIZON, PATHS, SEED, cp), sc.simulate(HORIZON, PATHS, SEED))
    assert cp.resumed == [1] * 6
    # the baseline again, from its own last saved year
    assert _same(fitted.simulate(HORIZON, PATHS, SEED, cp), fitted.simulate(HORIZON, PATHS, SEED))
    assert cp.resumed[-2:] == [HORIZON - 1, HORIZON - 1]


@pytest.mark.parametrize("make", [
    lambda: S.stay(S.Scenario(), 0.2),                        # exit hazards, from year one
    lambda: S.mix(S.Scenario(), "residential", "fostering", 0.3),  # placement choice
    lambda: S.uasc(S.Scenario(), 4),                          # extra entrants every year
])
def test_a_scenario_that_changes_the_first_year_never_resumes(fitted, make):
    cp = Checkpoints()
    fitted.simulate(HORIZON, PATHS, SEED, cp)
    sc = fitted.with_scenario(make())
    assert _same(sc.simulate(HORIZON, PATHS, SEED, cp), sc.simulate(HORIZON, PATHS, SEED))
    assert cp.resumed == []


def test_another_seed_or_path_count_never_resumes(fitted):
    cp = Checkpoints()
    fitted.simulate(HORIZON, PATHS, SEED, cp)
    sc = fitted.with_scenario(S.entry_step(S.Scenario(), 0.25, fitted.origin + 4))
    assert _same(sc.simulate(HORIZON, PATHS, SEED + 1, cp),
                 sc.simulate(HORIZON, PATHS, SEED + 1))
    sc.simulate(HORIZON, PATHS + 2, SEED, cp)
    assert cp.resumed == []


def test_only_the_first_run_is_kept(fitted):
    cp = Checkpoints()
    fitted.simulate(HORIZON, PATHS, SEED, cp)
    kept = len(cp)
    assert kept == 2 * HORIZON  # a state per forecast year, for each of the two chunks
    for y in (2, 3):
        fitted.with_scenario(S.entry_step(S.Scenario(), 0.1, fitted.origin + y)).simulate(
            HORIZON, PATHS, SEED, cp)
    fitted.with_scenario(S.stay(S.Scenario(), 0.1)).simulate(HORIZON, PATHS, SEED, cp)
    assert len(cp) == kept
