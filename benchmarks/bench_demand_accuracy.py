"""Benchmark: forecast accuracy on real data and on synthetic data with known truth.

1. Real data (``../shared/data/dfe/la_cla_panel_2015_2025.csv``): every LA with a complete
   series, children looked after at 31 March, horizons 1-3, in two windows: development
   (origins 2018-2021) and held out (origins 2022-2024); every series model side by side,
   with ratios to ``naive`` measured in the same run.
2. Known truth: synthetic LAs from ``cobic.data.synth`` (steady, growth, shock, decline),
   generated 5 years beyond the history; ``stockflow`` fitted on the history and compared
   with the generator's truth over horizons 1-5, against ``naive`` on the same LAs: 80%
   coverage, MAPE ratio, entry-rate recovery and child-days error.

Usage::

    python benchmarks/bench_demand_accuracy.py [--las-per-scenario 6] [--paths 1000]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import polars as pl

from cobic.data import derive
from cobic.data.dfe import read_panel
from cobic.data.ssda903 import read_ssda903
from cobic.data.synth import SCENARIOS, generate, scenario, write_ssda903
from cobic.demand.api import DEFAULT_SERIES_MODEL, SERIES_MODELS, backtest_panel
from cobic.demand.backtest import EvaluationScheme
from cobic.demand.base import get_model
from cobic.demand.stockflow import truncate
from cobic.paths import shared_data_dir

OUT = Path(__file__).resolve().parent / "out"
pl.Config.set_tbl_rows(60)
pl.Config.set_tbl_cols(20)
pl.Config.set_tbl_width_chars(160)


WINDOWS = {"development": tuple(range(2018, 2022)), "held_out": tuple(range(2022, 2025))}


def real_data(paths: int) -> dict:
    """Every series model on the two windows side by side, as ratios to naive's same-run
    figures. The default (``auto``) makes every data choice inside each origin's history;
    the held-out window (origins 2022-2024) was never used to choose anything."""
    panel = read_panel(shared_data_dir() / "dfe" / "la_cla_panel_2015_2025.csv")
    out, parts = {}, []
    for window, origins in WINDOWS.items():
        scheme = EvaluationScheme(origins, (1, 2, 3))
        t0 = time.perf_counter()
        m = backtest_panel(panel, list(SERIES_MODELS), scheme, n_paths=paths, seed=0).metrics()
        took = time.perf_counter() - t0
        naive = m.filter(pl.col("model") == "naive").select(
            "horizon", naive_mape="mape", naive_is="interval_score_80")
        m = m.join(naive, on="horizon").with_columns(
            window=pl.lit(window),
            mape_vs_naive=pl.col("mape") / pl.col("naive_mape"),
            is80_vs_naive=pl.col("interval_score_80") / pl.col("naive_is"),
        ).drop("naive_mape", "naive_is")
        print(f"\n== Real data, {window} window (origins {origins[0]}-{origins[-1]}, horizons "
              f"1-3 where the data reach): all models in {took:.1f} s")
        print(m.select("model", "horizon", "n", pl.col("mape").round(2),
                       pl.col("coverage_80").round(3), pl.col("coverage_95").round(3),
                       pl.col("interval_score_80").round(1), pl.col("bias").round(2),
                       pl.col("mape_vs_naive").round(3), pl.col("is80_vs_naive").round(3)))
        out[window] = {"seconds_all_models": round(took, 1)}
        parts.append(m)
    m = pl.concat(parts)
    d = m.filter(pl.col("model") == DEFAULT_SERIES_MODEL)
    print(f"\n== The default ({DEFAULT_SERIES_MODEL}) against naive, both windows")
    print(d.select("window", "horizon", "n", pl.col("mape_vs_naive").round(3),
                   pl.col("is80_vs_naive").round(3), pl.col("coverage_80").round(3),
                   pl.col("coverage_95").round(3)))
    m.write_csv(OUT / "accuracy_real_data.csv")
    out["rows"] = m.to_dicts()
    return out


def known_truth(per_scenario: int, paths: int, horizon: int = 5) -> dict:
    rows, las = [], []
    t0 = time.perf_counter()
    for k in range(per_scenario):
        for j, name in enumerate(SCENARIOS):
            seed = 1000 + 10 * k + j
            spec = scenario(name, seed=seed, n_years=7 + horizon)
            la = generate(spec)
            with tempfile.TemporaryDirectory() as d:
                write_ssda903(la, d)
                data = read_ssda903(d)
            origin = spec.years[-1] - horizon
            pop = la.population.group_by("year").agg(pl.col("population").sum())
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                f = get_model("stockflow", population=pop.filter(pl.col("year") <= origin)).fit(
                    truncate(data, origin))
            p = f.simulate(horizon, paths, seed)
            stock = p.total()[0]
            cdays = p.total("child_days")[0]
            truth = derive.flow_balance(data)
            tr = dict(truth.select("year", "stock_end").iter_rows())
            cd = dict(truth.select("year", "child_days").iter_rows())
            # the generator's expected first-entry rate per 10,000 over the fit window, and the
            # realised entries (with re-entries) per 10,000
            years = [y for y in spec.years if origin - 6 < y <= origin]
            spec_rate = np.mean([sum(spec.entry_rate_per_10k) / 18 * spec.entry_multiplier(y)
                                 for y in years])
            realised = truth.filter(pl.col("year").is_in(years))["entries"].sum() / sum(
                spec.population(y) for y in years) * 1e4
            trend_mult = np.exp(f.entry_beta[5]) if f.trend else 1.0
            las.append({"scenario": name, "seed": seed, "fitted_rate": f.entry_rate(),
                        "fitted_trend": trend_mult - 1, "spec_first_entry_rate": spec_rate,
                        "realised_entry_rate": realised})
            for h in range(1, horizon + 1):
                y = origin + h
                q = np.quantile(stock[:, h - 1], [0.1, 0.5, 0.9, 0.025, 0.975])
                rows.append({"scenario": name, "seed": seed, "horizon": h, "actual": tr[y],
                             "naive": tr[origin], "point": q[1], "lo80": q[0], "hi80": q[2],
                             "lo95": q[3], "hi95": q[4],
                             "cd_point": float(np.median(cdays[:, h - 1])), "cd_actual": cd[y]})
    took = time.perf_counter() - t0
    df = pl.DataFrame(rows)
    ape = ((pl.col("point") - pl.col("actual")).abs() / pl.col("actual"))
    ape_n = ((pl.col("naive") - pl.col("actual")).abs() / pl.col("actual"))
    cov = ((pl.col("actual") >= pl.col("lo80")) & (pl.col("actual") <= pl.col("hi80")))
    cov95 = ((pl.col("actual") >= pl.col("lo95")) & (pl.col("actual") <= pl.col("hi95")))
    cd_ape = ((pl.col("cd_point") - pl.col("cd_actual")).abs() / pl.col("cd_actual"))
    by_h = df.group_by("horizon").agg(
        n=pl.len(), coverage_80=cov.mean(), coverage_95=cov95.mean(), mape=ape.mean() * 100,
        naive_mape=ape_n.mean() * 100, child_days_mape=cd_ape.mean() * 100,
    ).with_columns(mape_vs_naive=pl.col("mape") / pl.col("naive_mape")).sort("horizon")
    by_s = df.group_by("scenario").agg(
        coverage_80=cov.mean(), mape=ape.mean() * 100, naive_mape=ape_n.mean() * 100,
    ).sort("scenario")
    h25 = df.filter(pl.col("horizon") >= 2)
    pooled = {"coverage_80_h1_5": float(df.select(cov.mean()).item()),
              "coverage_95_h1_5": float(df.select(cov95.mean()).item()),
              "mape_h2_5": float(h25.select(ape.mean()).item() * 100),
              "naive_mape_h2_5": float(h25.select(ape_n.mean()).item() * 100)}
    pooled["mape_ratio_h2_5"] = pooled["mape_h2_5"] / pooled["naive_mape_h2_5"]
    rates = pl.DataFrame(las).with_columns(
        err_vs_realised=pl.col("fitted_rate") / pl.col("realised_entry_rate") - 1,
        err_vs_spec=pl.col("fitted_rate") / pl.col("spec_first_entry_rate") - 1)
    print(f"\n== Known truth: {len(las)} synthetic LAs ({per_scenario} per scenario), "
          f"{paths} paths, in {took:.1f} s")
    print(by_h.with_columns(pl.exclude("horizon", "n").round(3)))
    print(by_s.with_columns(pl.exclude("scenario").round(3)))
    print("pooled:", {k: round(v, 3) for k, v in pooled.items()})
    df.write_csv(OUT / "accuracy_known_truth.csv")
    rates.write_csv(OUT / "entry_rates_known_truth.csv")
    return {"seconds": round(took, 1), "by_horizon": by_h.to_dicts(),
            "by_scenario": by_s.to_dicts(), "pooled": pooled,
            "entry_rate_max_abs_error_vs_realised": float(rates["err_vs_realised"].abs().max()),
            "entry_rate_mean_error_vs_spec": float(rates["err_vs_spec"].mean())}


def entry_rate_recovery(per_scenario: int) -> dict:
    """Fitted entry rate at the origin vs the generator's rate there, with re-entries off so
    that every entry is a first entry at the spec's rate per 10,000."""
    rows = []
    for k in range(per_scenario):
        for j, name in enumerate(SCENARIOS):
            seed = 5000 + 10 * k + j
            spec = scenario(name, seed=seed, n_years=8, reentry_probability=0.0)
            la = generate(spec)
            with tempfile.TemporaryDirectory() as d:
                write_ssda903(la, d)
                data = read_ssda903(d)
            pop = la.population.group_by("year").agg(pl.col("population").sum())
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                f = get_model("stockflow", population=pop).fit(data)
            origin = spec.years[-1]
            true = sum(spec.entry_rate_per_10k) / 18 * spec.entry_multiplier(origin)
            rows.append({"scenario": name, "seed": seed, "fitted": f.entry_rate(), "true": true})
    df = pl.DataFrame(rows).with_columns(error=pl.col("fitted") / pl.col("true") - 1)
    print(f"\n== Entry rate at the origin, per 10,000 children ({df.height} LAs, no re-entries)")
    print(df.with_columns(pl.exclude("scenario", "seed").round(3)))
    print(f"max |error| {df['error'].abs().max():.1%}, mean error {df['error'].mean():+.1%}")
    return {"max_abs_error": float(df["error"].abs().max()),
            "mean_error": float(df["error"].mean()), "rows": df.to_dicts()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--las-per-scenario", type=int, default=6)
    ap.add_argument("--paths", type=int, default=1000)
    args = ap.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    res = {"real_data": real_data(args.paths),
           "known_truth": known_truth(args.las_per_scenario, args.paths),
           "entry_rate": entry_rate_recovery(max(2, args.las_per_scenario // 2))}
    (OUT / "bench_demand_accuracy.json").write_text(json.dumps(res, indent=1, default=float))


if __name__ == "__main__":
    main()
