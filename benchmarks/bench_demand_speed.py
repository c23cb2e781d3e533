"""Benchmark: speed of the demand models, as ratios to a baseline measured in the same run.

1. ``stockflow`` fit + 5-year forecast with 1,000 paths for a synthetic LA with about 1,000
   children looked after (target: under 2 s in-process), against ``naive`` fitted and
   simulated on the same LA's annual series.
2. The full real-data backtest (every LA with a complete series, origins 2018-2022, horizons
   1-3) of all series models (target: under 60 s), against the ``naive``-only backtest.

Usage::

    python benchmarks/bench_demand_speed.py [--repeat 3]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import tempfile
import time
import warnings
from pathlib import Path

from cobic.data import derive
from cobic.data.dfe import read_panel
from cobic.data.ssda903 import read_ssda903
from cobic.data.synth import SynthSpec, generate, write_ssda903
from cobic.demand.api import SERIES_MODELS, backtest_panel, series_from_ssda903
from cobic.demand.backtest import EvaluationScheme
from cobic.demand.base import get_model
from cobic.paths import shared_data_dir

OUT = Path(__file__).resolve().parent / "out"


def _median_time(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return sorted(times)[len(times) // 2]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    warnings.simplefilter("ignore")

    spec = SynthSpec(population_0_17=100_000, seed=4)
    with tempfile.TemporaryDirectory() as d:
        write_ssda903(generate(spec), d)
        data = read_ssda903(d)
    n_cla = derive.stock(data, on=data.extract_end)["children"].sum()
    hist = series_from_ssda903(data)
    get_model("stockflow").fit(data).simulate(1, 10, 0)  # warm imports

    def stockflow():
        fresh = dataclasses.replace(data, _cache={})  # no derived tables cached from before
        get_model("stockflow").fit(fresh).simulate(5, 1000, 1)

    def naive():
        get_model("naive").fit(hist).simulate(5, 1000, 1)

    sf = _median_time(stockflow, args.repeat)
    nv = _median_time(naive, args.repeat)
    print(f"stockflow fit + 5-year forecast, 1,000 paths, LA with {n_cla:,} children looked "
          f"after: {sf:.2f} s (naive on the same LA: {nv * 1000:.1f} ms; ratio {sf / nv:,.0f}x); "
          f"target < 2 s: {'met' if sf < 2 else 'NOT met'}")

    panel = read_panel(shared_data_dir() / "dfe" / "la_cla_panel_2015_2025.csv")
    scheme = EvaluationScheme(tuple(range(2018, 2023)), (1, 2, 3))
    allm = _median_time(lambda: backtest_panel(panel, list(SERIES_MODELS), scheme, 1000, 0), 1)
    base = _median_time(lambda: backtest_panel(panel, ["naive"], scheme, 1000, 0), 1)
    print(f"real-data backtest, all {len(SERIES_MODELS)} series models: {allm:.1f} s (naive "
          f"alone: {base:.2f} s; ratio {allm / base:.1f}x); target < 60 s: "
          f"{'met' if allm < 60 else 'NOT met'}")
    res = {"children_looked_after": int(n_cla), "stockflow_s": round(sf, 3),
           "naive_same_la_s": round(nv, 4), "stockflow_vs_naive": round(sf / nv, 1),
           "backtest_all_models_s": round(allm, 2), "backtest_naive_s": round(base, 2),
           "backtest_ratio": round(allm / base, 2)}
    (OUT / "bench_demand_speed.json").write_text(json.dumps(res, indent=1) + "\n")
    print(json.dumps(res, indent=1))


if __name__ == "__main__":
    main()
