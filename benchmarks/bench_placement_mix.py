"""Benchmark: placement-mix (share) forecasts on real data, against naive shares.

Data (``../shared/data/dfe`` or ``$COBIC_SHARED_DATA/dfe``): the placement breakdown of
``la_selected_cla_characteristics_2021_2025.csv`` (15 LAs), England's of
``england_cla_31march_characteristics_2021_2025.csv`` and the totals of
``la_cla_panel_2015_2025.csv``. Origins 2021-2023, horizons 1-2 (targets up to 2025).

For each share model the forecast residential count (DfE "Secure homes and children's homes")
is the forecast share x the actual total stock of the target year (the mix error alone) and x
the naive total (the stock at the origin); the implied annual placement cost uses the weekly
unit costs of ``models/costs/england_2024_25.toml`` (2024-25 prices). Everything is reported
as ratios to naive shares measured in the same run, with a paired bootstrap over LAs, and the
issue's bar (residential count MAPE at horizon 2 at most naive's) is checked. Rows marked
``(ablation)`` are parts of ``shrunk`` shown for diagnosis only; the candidate was fixed
before the backtest was run.

Usage::

    python benchmarks/bench_placement_mix.py [--out benchmarks/out/placement_mix.csv]
"""

from __future__ import annotations

import argparse
import sys
from functools import partial
from pathlib import Path

import numpy as np
import polars as pl

from cobic.costs import mix_weekly_costs
from cobic.data.dfe import read_panel
from cobic.demand import mix
from cobic.paths import shared_data_dir

OUT = Path(__file__).resolve().parent / "out"
ORIGINS, HORIZONS = (2021, 2022, 2023), (1, 2)
CANDIDATE = "shrunk"
MODELS = {
    "naive": "naive",
    "england": "england",
    "shrunk": "shrunk",
    "shrunk level only (ablation)": partial(mix.shrunk_shares, drift=False),
    "shrunk England drift only (ablation)": partial(mix.shrunk_shares, own_drift=False),
    "unsmoothed + shrunk drift (ablation)": partial(mix.shrunk_shares, smooth=False),
}


def load(d: Path) -> tuple[mix.MixHistory, mix.MixHistory, np.ndarray, mix.PlacementMix]:
    """The LA and England mixes and the panel's stock for the LAs."""
    la = mix.read_placement_mix(d / "la_selected_cla_characteristics_2021_2025.csv")
    eng = mix.read_england_mix(d / "england_cla_31march_characteristics_2021_2025.csv")
    hist = la.history()
    stock = mix.panel_stock(read_panel(d / "la_cla_panel_2015_2025.csv"), hist)
    return hist, eng.history(), stock, la


def ratio_table(metrics: pl.DataFrame) -> pl.DataFrame:
    """One row per model: MAPE ratios to naive at horizons 1 and 2."""
    r = mix.ratios_to(metrics)
    cols = {"res_mape_ratio": "res", "res_mape_nt_ratio": "res nt", "cost_mape_ratio": "cost",
            "cost_mape_nt_ratio": "cost nt"}
    wide = r.pivot("horizon", index="model", values=list(cols))
    names = {f"{c}_{h}": f"{label} h{h}" for c, label in cols.items() for h in HORIZONS}
    keep = [f"{c}_{h}" for c in cols for h in HORIZONS]
    order = {m: i for i, m in enumerate(MODELS)}
    return (wide.select("model", *[pl.col(k).round(3) for k in keep]).rename(names)
            .sort(pl.col("model").replace_strict(order, return_dtype=pl.Int64)))


def bootstrap(cases: pl.DataFrame, model: str, n: int = 2000, seed: int = 0) -> pl.DataFrame:
    """Paired bootstrap over LAs of ``model``'s MAPE over naive's, per horizon and measure."""
    rng = np.random.default_rng(seed)
    rows = []
    for h in HORIZONS:
        for measure in ("res", "cost"):
            err = {m: _ape_by_area(cases, m, h, measure) for m in (model, "naive")}
            draws = rng.integers(0, err["naive"].shape[0], size=(n, err["naive"].shape[0]))
            ratio = err[model][draws].mean(axis=(1, 2)) / err["naive"][draws].mean(axis=(1, 2))
            q05, q50, q95 = np.percentile(ratio, [5, 50, 95])
            rows.append({"horizon": h, "measure": measure, "ratio_q05": q05,
                         "ratio_median": q50, "ratio_q95": q95,
                         "share_at_most_1": float(np.mean(ratio <= 1))})
    return pl.DataFrame(rows).with_columns(pl.col(pl.Float64).round(3))


def _ape_by_area(cases: pl.DataFrame, model: str, h: int, measure: str) -> np.ndarray:
    """``[area, origin]`` absolute percentage errors (shares x the actual total)."""
    c = cases.filter((pl.col("model") == model) & (pl.col("horizon") == h)).sort("area",
                                                                                  "origin")
    ape = ((c[f"{measure}_fc"] - c[f"{measure}_actual"]).abs() / c[f"{measure}_actual"])
    return ape.to_numpy().reshape(c["area"].n_unique(), -1)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=OUT / "placement_mix.csv",
                    help="CSV of the per-LA cases (every model, origin and horizon)")
    args = ap.parse_args()
    d = shared_data_dir() / "dfe"
    if not d.is_dir():
        sys.exit(f"shared reference data not found at {d} (set COBIC_SHARED_DATA)")
    hist, eng, stock, la = load(d)
    print(f"{len(hist.areas)} LAs, years {hist.years[0]}-{hist.years[-1]}; "
          f"{la.suppressed.height} suppressed placement cells (never the residential one: "
          f"{la.suppressed.filter(pl.col('placement_group') == mix.RESIDENTIAL).height}); "
          f"panel totals equal the breakdown's in "
          f"{int(np.sum(stock == hist.totals))}/{stock.size} LA-years")
    weekly = mix_weekly_costs()
    print("weekly costs (GBP, 2024-25):", {g: round(v) for g, v in weekly.items()})
    cases = mix.backtest_mix(hist, MODELS, ORIGINS, HORIZONS, weekly, england=eng,
                             stock=stock)
    metrics = mix.mix_metrics(cases)
    pl.Config.set_tbl_rows(40)
    pl.Config.set_tbl_cols(20)
    pl.Config.set_tbl_width_chars(200)
    pl.Config.set_fmt_str_lengths(40)
    print("\n== Ratios to naive shares of the MAPE (< 1 is better) at horizons h1, h2: res = "
          "residential count, cost = implied placement cost; shares x the actual total, or x "
          "the naive total (nt)")
    print(ratio_table(metrics))
    print("\n== Errors (%; res = residential count, bias = mean signed error, me = children)")
    print(metrics.select("model", "horizon", "n", *[pl.col(c).round(2) for c in metrics.columns
                                                    if c not in ("model", "horizon", "n")]))
    later = cases.filter(pl.col("origin") > ORIGINS[0])
    print(f"\n== Ratios without origin {ORIGINS[0]} (one year of history: every model but "
          "england is naive there)")
    print(ratio_table(mix.mix_metrics(later)))
    print(f"\n== Paired bootstrap over LAs: {CANDIDATE} MAPE / naive MAPE")
    print(bootstrap(cases, CANDIDATE))
    ok = mix.meets_bar(metrics, CANDIDATE)
    verdict = ("meets" if ok else "does NOT meet") + " the bar (residential count MAPE at "
    print(f"\n{CANDIDATE} {verdict}horizon 2 at most naive's); default share model: "
          f"{CANDIDATE if ok else 'naive'}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    cases.write_csv(args.out)
    print(f"per-LA cases: {args.out}")


if __name__ == "__main__":
    main()
