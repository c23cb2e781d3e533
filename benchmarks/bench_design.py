"""Benchmark: goal-seek contract terms (:func:`cobic.contract.design.design`) on 1,000 paths.

The demo LA (``fixtures/synthetic_la``, ``stockflow``, 1,000 paths, seed 1) priced on the
shipped 7-year COBIC; two goal-seeks: P(provider loss) <= 30% with the commissioner's P90
outlay within the shipped contract's (infeasible on this LA: the search runs to the end and
reports the nearest values), and the same with a P90 budget of GBP 500m (feasible). Target:
under 2 s each. The baseline measured in the same run is a single re-price
(:func:`cobic.contract.apply_terms`), so the ratio reads as "re-prices per goal-seek".

Usage::

    python benchmarks/bench_design.py [--repeat 3] [--json PATH]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

from cobic.contract import apply_terms, load_contract
from cobic.contract.calculator import simulate_contract_costs
from cobic.contract.design import design, measures, payment_rule_bounds
from cobic.costs import DemandPaths, default_unit_costs_path, load_cost_spec
from cobic.data.ssda903 import read_ssda903
from cobic.demand.api import forecast_episodes
from cobic.paths import fixtures_dir, models_dir

OUT = Path(__file__).resolve().parent / "out"
TARGET_S = 2.0


def setup(n_paths: int):
    """Simulated contract costs for the demo LA and the shipped 7-year terms."""
    data = read_ssda903(fixtures_dir() / "synthetic_la")
    paths = forecast_episodes(data, "stockflow", horizon=8, n_paths=n_paths, seed=1)
    terms = load_contract(models_dir() / "contracts" / "cobic_7yr.toml")
    terms = replace(terms, first_year=paths.periods[0] + 1)
    spec = load_cost_spec(default_unit_costs_path())
    sim = simulate_contract_costs(DemandPaths.from_paths(paths), spec, terms, seed=1)
    return sim, terms, spec


def median_time(fn, repeat: int) -> tuple[float, object]:
    """Median wall time of ``fn()`` over ``repeat`` runs, and its last result."""
    times, out = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), out


def verified(sim, spec, result) -> bool:
    """Re-price the chosen terms and check every target from the priced arrays."""
    p = apply_terms(sim, result.terms, spec)
    out = p.net_to_provider.sum(axis=1)
    margin = (p.net_to_provider - p.cost).sum(axis=1)
    got = {"provider_loss_prob": float((margin < 0).mean()),
           "commissioner_p90": float(np.quantile(out, 0.9))}
    return all(t.met(got[t.measure]) for t in result.targets) == result.feasible


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--paths", type=int, default=1000)
    ap.add_argument("--json", type=Path, default=OUT / "bench_design.json")
    args = ap.parse_args()
    t0 = time.perf_counter()
    sim, terms, spec = setup(args.paths)
    setup_s = time.perf_counter() - t0
    one_s, priced = median_time(lambda: apply_terms(sim, terms, spec), 50)
    with_measures_s, _ = median_time(lambda: measures(apply_terms(sim, terms, spec)), 50)
    shipped_p90 = measures(priced)["commissioner_p90"]
    cases = {"loss<=30%, P90<=shipped": ["provider_loss_prob<=0.3",
                                         f"commissioner_p90<={shipped_p90}"],
             "loss<=30%, P90<=500m": ["provider_loss_prob<=0.3", "commissioner_p90<=500e6"]}
    res = {"paths": args.paths, "years": len(sim.years), "setup_s": round(setup_s, 2),
           "reprice_ms": round(one_s * 1000, 3),
           "reprice_and_measures_ms": round(with_measures_s * 1000, 3), "cases": {}}
    print(f"{args.paths:,} paths x {len(sim.years)} years (setup {setup_s:.1f} s): one re-price "
          f"{one_s * 1000:.2f} ms, with the design measures {with_measures_s * 1000:.2f} ms")
    for name, targets in cases.items():
        secs, r = median_time(lambda t=targets: design(sim, terms, spec, t), args.repeat)
        ok = verified(sim, spec, r)
        print(f"  goal-seek {name}: {secs:.2f} s for {r.n_candidates} candidates "
              f"({secs / r.n_candidates * 1000:.2f} ms each, {secs / one_s:.0f}x one re-price); "
              f"feasible {r.feasible}; verified by re-pricing {ok}; target < {TARGET_S:g} s: "
              f"{'met' if secs < TARGET_S else 'NOT met'}")
        for line in payment_rule_bounds(sim, targets):
            print(f"    {line}")
        res["cases"][name] = {"seconds": round(secs, 3), "candidates": r.n_candidates,
                              "ms_per_candidate": round(secs / r.n_candidates * 1000, 3),
                              "ratio_to_reprice": round(secs / one_s, 1),
                              "feasible": r.feasible, "verified": ok,
                              "target_s": TARGET_S, "met": secs < TARGET_S}
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(res, indent=1) + "\n")


if __name__ == "__main__":
    main()
