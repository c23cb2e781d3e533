"""Benchmark: the real-spend backtest (s251 outturns of England and 15 LAs).

Origins 2017-18 to 2019-20 (financial years named by their ending year: 2018-2020), horizons
1-5 (to 2024-25), 1,000 paths. Accuracy is reported as ratios to the baselines measured in
the same run (``default``: England unit cost with fixed uplifts and 2% efficiency; ``cpi2``;
``trend3``), and the time of the whole backtest against the time of reading the inputs.
2016-17 cannot be an origin: the growth model needs at least 3 years of spend.

Usage::

    python benchmarks/bench_spend_backtest.py [--paths 1000]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import polars as pl

from cobic.data.dfe import read_finance, read_panel
from cobic.demand.backtest import EvaluationScheme
from cobic.paths import shared_data_dir
from cobic.spend import backtest_spend, error_sources

OUT = Path(__file__).resolve().parent / "out"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--paths", type=int, default=1000)
    args = ap.parse_args()
    d = shared_data_dir() / "dfe"
    t0 = time.perf_counter()
    panel = read_panel(d / "la_cla_panel_2015_2025.csv")
    fin = read_finance(d / "finance_s251_lait_england_and_selected_las.csv")
    t_read = time.perf_counter() - t0
    t0 = time.perf_counter()
    res = backtest_spend(panel, fin, EvaluationScheme((2018, 2019, 2020), (1, 2, 3, 4, 5)),
                         n_paths=args.paths, seed=0)
    t_run = time.perf_counter() - t0
    m = res.metrics()
    wide = m.pivot("model", index="horizon", values="mape").sort("horizon")
    ratios = wide.select("horizon", *[
        (pl.col("cobic") / pl.col(b)).round(3).alias(f"mape vs {b}")
        for b in ("default", "cpi2", "trend3")])
    cob = m.filter(pl.col("model") == "cobic")
    cases = res.cases.filter(pl.col("model") == "cobic")
    pooled = float(((cases["actual"] >= cases["q10"]) & (cases["actual"] <= cases["q90"])).mean())
    pl.Config.set_tbl_cols(12)
    print(cob.select("horizon", "n", "mape", "bias", "coverage_50", "coverage_80",
                     "coverage_95"))
    print(ratios)
    print(error_sources(res))
    print(f"80% coverage pooled over horizons: {pooled:.3f}")
    print(f"backtest {t_run:.1f} s; reading the inputs {t_read:.2f} s "
          f"(ratio {t_run / t_read:.0f}x)")
    OUT.mkdir(exist_ok=True)
    (OUT / "spend_backtest.json").write_text(json.dumps({
        "cobic": cob.to_dicts(), "ratios": ratios.to_dicts(), "coverage_80_pooled": pooled,
        "seconds": t_run, "read_seconds": t_read}, indent=1))


if __name__ == "__main__":
    main()
