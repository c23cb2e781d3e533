"""Benchmark: re-pricing a contract after a change of terms, on costs already in memory.

1,000 paths x 7 years x 6 placement groups (target: under 20 ms) and 10,000 paths (target:
under 200 ms). Each re-price changes the terms (capitation point, bands, incentive shares)
and runs :func:`cobic.contract.apply_terms` with its summaries. The baseline measured in the
same run is simulating the costs from the demand paths (what re-pricing avoids).

Usage::

    python benchmarks/bench_contract_speed.py [--repeat 30]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import time
from pathlib import Path

import numpy as np

from cobic.contract import apply_terms, load_contract
from cobic.contract.calculator import simulate_contract_costs
from cobic.costs import DemandPaths, load_cost_spec
from cobic.paths import models_dir

OUT = Path(__file__).resolve().parent / "out"
GROUPS = ("fostering", "residential", "secure", "supported", "placed_with_parents", "other")


def demand(n_paths: int, terms) -> DemandPaths:
    rng = np.random.default_rng(0)
    Y = terms.length
    volume = rng.gamma(60, 1 / 60, size=(n_paths, Y, 1))
    days = 50 * volume * np.array([3000, 350, 5, 90, 60, 40])[None, None, :]
    ev = rng.poisson(250, (n_paths, Y)).astype(float)
    return DemandPaths(terms.years, GROUPS, days, ev, ev, ev,
                       days.sum(axis=2)[:, :, None] * np.array([0.2, 0.15, 0.65]))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repeat", type=int, default=30)
    args = ap.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    spec = load_cost_spec(models_dir() / "costs" / "england_2024_25.toml")
    terms = load_contract(models_dir() / "contracts" / "cobic_7yr.toml")
    variants = [dataclasses.replace(terms, point=p) for p in (0.5, 0.8, 0.6)]
    variants.append(dataclasses.replace(terms, incentive_share=(0, .05, .05, .1, .1, .1, .1)))
    res = {}
    for n, target_ms in ((1000, 20), (10_000, 200)):
        d = demand(n, terms)
        t0 = time.perf_counter()
        sim = simulate_contract_costs(d, spec, terms, seed=1)
        sim_s = time.perf_counter() - t0
        times = []
        for i in range(args.repeat):
            t = variants[i % len(variants)]
            t0 = time.perf_counter()
            p = apply_terms(sim, t, spec)
            p.schedule()
            p.risk()
            times.append(time.perf_counter() - t0)
        med = sorted(times)[len(times) // 2] * 1000
        print(f"{n:>6,} paths x 7 years x 6 groups: re-price {med:.1f} ms (median of "
              f"{args.repeat}); cost simulation {sim_s * 1000:.0f} ms; ratio "
              f"{med / (sim_s * 1000):.3f}; target < {target_ms} ms: "
              f"{'met' if med < target_ms else 'NOT met'}")
        res[str(n)] = {"reprice_ms": round(med, 2), "simulate_costs_ms": round(sim_s * 1000, 1),
                       "ratio": round(med / (sim_s * 1000), 4), "target_ms": target_ms}
    (OUT / "bench_contract_speed.json").write_text(json.dumps(res, indent=1) + "\n")


if __name__ == "__main__":
    main()
