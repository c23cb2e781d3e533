"""Benchmark: ``stockflow`` against ``naive`` on LAs from an independent known-truth generator.

The LAs come from :mod:`known_truth` (``benchmarks/known_truth.py``), whose mechanics differ from
both ``cobic.data.synth`` and ``stockflow``'s assumptions (latent care pathways with lognormal
lengths of stay, Weibull placement moves, overdispersed and autocorrelated entries, UASC bursts,
stocks not at equilibrium). For every LA, on its returns up to the last one:

* ``stockflow`` (defaults, no population) fitted and simulated 6 years ahead, as
  ``cobic.demand.api.forecast_episodes`` does (the fit is called directly to keep its rates);
* ``naive`` on the LA's own stock series derived from the same returns
  (``forecast_episodes(model="naive")``).

Both are scored on the total stock on 31 March at horizons 1-6 against the *realised* future of
the generator (the same run carried on: one draw of the future, as in a real backtest), and the
point error also against the *expected* future (the mean of the generator's continuations from
the state at the last return). The generator's own continuations give an *oracle* forecast (the
best any model could do), a check that the truth is consistent: its 80% interval should cover
the realised future about 80% of the time.

Printed per kind and pooled, by horizon: MAPE of the median (stockflow, naive, ratio), mean
signed error (bias), 80% and 95% coverage. Per-LA rows go to ``--out`` (CSV) and per-LA
diagnostics (fitted vs true entries, trend, exit hazards, left truncation) to ``*_diag.csv``.

Usage::

    python benchmarks/bench_known_truth.py [--quick] [--per-kind 8] [--paths 300] [--out F]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
import warnings
from dataclasses import replace
from pathlib import Path

import numpy as np
import polars as pl

sys.path.insert(0, str(Path(__file__).resolve().parent))
import known_truth as kt  # noqa: E402

from cobic.data import derive  # noqa: E402
from cobic.data.ssda903 import read_ssda903  # noqa: E402
from cobic.demand.api import area_label, forecast_episodes  # noqa: E402
from cobic.demand.base import get_model  # noqa: E402
from cobic.demand.scenarios import Scenario  # noqa: E402
from cobic.demand.stockflow import DURATION_CUTS  # noqa: E402

OUT = Path(__file__).resolve().parent / "out"
HORIZON = 6
QS = (0.5, 0.1, 0.9, 0.025, 0.975)
pl.Config.set_tbl_rows(80)
pl.Config.set_tbl_cols(20)
pl.Config.set_tbl_width_chars(170)
pl.Config.set_tbl_hide_column_data_types(True)
pl.Config.set_tbl_hide_dataframe_shape(True)
pl.Config.set_float_precision(3)


def _q(v: np.ndarray) -> dict[str, np.ndarray]:
    """Median and 80%/95% bounds over paths (axis 0) for each horizon."""
    q = np.quantile(v, QS, axis=0)
    return dict(zip(("q50", "lo80", "hi80", "lo95", "hi95"), q, strict=True))


def _fitted_exit_cells(fitted) -> pl.DataFrame:
    """stockflow's exit rate per year in each (placement group, age band, duration band) cell
    and the cell's fit-window exposure: ``age_band, duration_band`` (indices), ``rate, days``.

    Uses ``FittedStockFlow.rates()`` where it exists (partial-pooling version), else the main
    effects GLM's coefficients (intercept, groups, age bands and duration bands but the first).
    """
    if hasattr(fitted, "rates"):
        t = fitted.rates()["exits"]
        ab = {lab: i for i, lab in enumerate(dict.fromkeys(t["age_band"].to_list()))}
        db = {lab: i for i, lab in enumerate(dict.fromkeys(t["duration_band"].to_list()))}
        return t.select(age_band=pl.col("age_band").replace_strict(ab, return_dtype=pl.Int64),
                        duration_band=pl.col("duration_band").replace_strict(
                            db, return_dtype=pl.Int64),
                        rate=pl.col("rate_per_year"), days=pl.col("exposure_days"))
    n_g, n_ab, n_db = len(fitted.groups), 5, 5
    cells = np.array([(g, a, d) for g in range(n_g) for a in range(n_ab) for d in range(n_db)])
    X = np.column_stack([np.ones(len(cells))]
                        + [(cells[:, 0] == k) for k in range(1, n_g)]
                        + [(cells[:, 1] == k) for k in range(1, n_ab)]
                        + [(cells[:, 2] == k) for k in range(1, n_db)]).astype(float)
    fh = pl.DataFrame({"g": cells[:, 0].astype(np.int32), "age_band": cells[:, 1],
                       "duration_band": cells[:, 2], "rate": np.exp(X @ fitted.exit_beta) * 365.25})
    ex = fitted.exposure.select(pl.col("g"), age_band=pl.col("ab").cast(pl.Int64),
                                duration_band=pl.col("db").cast(pl.Int64), days=pl.col("days"))
    return fh.join(ex, on=["g", "age_band", "duration_band"], how="left").select(
        "age_band", "duration_band", "rate", pl.col("days").fill_null(0.0))


def _fitted_hazards(fitted, truth: kt.Truth) -> pl.DataFrame:
    """stockflow's exit hazard per (age band, duration band), averaged over placement groups
    with its own fit-window exposure, beside the generator's hazards (fit window, future)."""
    fh = (_fitted_exit_cells(fitted).group_by("age_band", "duration_band")
          .agg(fitted_rate=(pl.col("rate") * pl.col("days")).sum() / pl.col("days").sum(),
               fitted_days=pl.col("days").sum()))
    true = truth.hazards.pivot(on="window", index=["age_band", "duration_band"],
                               values=["rate_per_year", "days"])
    return fh.join(true, on=["age_band", "duration_band"], how="left").sort(
        "age_band", "duration_band")


def _trend(fitted) -> tuple[float, float]:
    """stockflow's entry trend (per year, as carried forward) and its standard error."""
    if not fitted.trend:
        return 0.0, 0.0
    b = float(fitted.entry_beta[-1])
    if getattr(fitted, "entry", None):
        se = float(np.sqrt(fitted.entry.get("trend_se2", np.nan)))
    else:
        se = float(np.sqrt(fitted.entry_cov[-1, -1]))
    return float(np.exp(b) - 1), se


def _left_truncation(data, truth: kt.Truth, on) -> dict:
    """Children in care on ``on``: share whose period start the returns show later than the
    truth, and share put in the wrong duration band because of it."""
    eps = derive.episodes_in_scope(data)
    cover = eps.with_columns(pstart=pl.col("DECOM").min().over("CHILD", "period")).filter(
        (pl.col("DECOM") <= on) & (pl.col("end") > on)).select("CHILD", "pstart")
    tp = truth.periods.filter((pl.col("start") <= on) & (pl.col("end") > on)).select(
        "CHILD", true_start="start")
    j = cover.join(tp, on="CHILD", how="inner")
    cuts = np.array(DURATION_CUTS)
    obs = np.array([(on - d).days for d in j["pstart"].to_list()], dtype=np.int64)
    tru = np.array([(on - d).days for d in j["true_start"].to_list()], dtype=np.int64)

    def band(d: np.ndarray) -> np.ndarray:
        return (cuts[None, :] <= d[:, None]).sum(axis=1)

    return {"n": j.height, "share_later_start": float(np.mean(obs < tru)) if j.height else 0.0,
            "share_wrong_band": float(np.mean(band(obs) != band(tru))) if j.height else 0.0,
            "matched": j.height / max(cover.height, 1)}


VARIANTS = {"no_trend": {"trend": False}, "entry_all_years": {"entry_years": 20},
            "cohort": {"cohort_trend": True},
            "cohort_always": {"cohort_trend": True, "cohort_z": 0.0}}


def run_la(case: kt.LACase, paths: int, seed: int, variants: bool = False
           ) -> tuple[list[dict], dict]:
    """Forecast one LA with stockflow and naive; rows per horizon and one diagnostics row.

    Also simulates the fitted stockflow with no new entrants (a scenario of -100% entries), to
    compare the survival of the children in care at the origin with the generator's, and with
    ``variants`` stockflow refitted with the options in :data:`VARIANTS`.
    """
    tr = case.truth
    spec = tr.spec
    data = read_ssda903(case.folder)
    origin = data.collection_years[-1]
    assert origin == spec.last_year
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fitted = get_model("stockflow").fit(data)
        fitted = replace(fitted, area_name=area_label(data.source))
        sf = fitted.simulate(HORIZON, paths, seed)
        nv = forecast_episodes(data, model="naive", horizon=HORIZON, n_paths=paths, seed=seed)
        none = Scenario(name="no entries", entry_steps=((origin + 1, -1.0),),
                        pieces=("entry_step=-100%",))
        sf_init = np.median(fitted.with_scenario(none).simulate(
            HORIZON, max(50, paths // 3), seed).total()[0], axis=0)
        var_q = {}
        if variants:
            for name, opts in VARIANTS.items():
                fv = get_model("stockflow", **opts).fit(data)
                var_q[name] = _q(fv.simulate(HORIZON, paths, seed).total()[0])
    sf_tot, nv_tot = sf.total()[0], nv.total()[0]
    s_q, n_q = _q(sf_tot), _q(nv_tot)
    res_i = list(sf.groups).index("residential")
    r_q = _q(sf.values[0, :, :, res_i])
    last = tr.series("stock")[origin]
    rows = []
    fy = spec.future_years
    realised = tr.series("stock")
    exp_mean = tr.series("stock", which="expected")
    ora = {k: tr.series("stock", which="expected", stat=s) for k, s in
           (("q50", "q50"), ("lo80", "q10"), ("hi80", "q90"), ("lo95", "q025"), ("hi95", "q975"))}
    res_real = tr.series("stock", group="residential")
    ent_true = tr.series("entries", which="expected")
    init_true = tr.series("stock_initial", which="expected")
    init_real = tr.series("stock_initial")
    ext_true = tr.series("exits", which="expected")
    sf_ent = np.median(sf.total("entries")[0], axis=0)
    sf_ext = np.median(sf.total("exits")[0], axis=0)
    for h, y in enumerate(fy, start=1):
        row = {"kind": case.kind, "la": case.folder.name, "seed": spec.seed, "origin": origin,
               "horizon": h, "year": y, "last_stock": last, "truth": realised[y],
               "truth_expected": exp_mean[y]}
        for pre, q in (("sf", s_q), ("naive", n_q)):
            row |= {f"{pre}_{k}": float(v[h - 1]) for k, v in q.items()}
        row |= {f"oracle_{k}": float(v[y]) for k, v in ora.items()}
        row |= {"res_truth": res_real[y], "res_truth_expected":
                tr.series("stock", "residential", which="expected")[y],
                "sf_res_q50": float(r_q["q50"][h - 1]), "res_last": tr.series(
                    "stock", group="residential")[origin],
                "sf_entries": float(sf_ent[h - 1]), "true_entries": ent_true[y],
                "sf_exits": float(sf_ext[h - 1]), "true_exits": ext_true[y],
                "sf_initial": float(sf_init[h - 1]), "true_initial": init_true[y],
                "true_initial_realised": init_real[y]}
        for name, q in var_q.items():
            row |= {f"{name}_{k}": float(v[h - 1]) for k, v in q.items()}
        rows.append(row)
    # ---- diagnostics
    hist_ent = tr.series("entries")
    ys = [y for y in data.collection_years if y > origin - 6]
    log_ent = np.log([hist_ent[y] for y in ys])
    haz = _fitted_hazards(fitted, tr)
    # rates per duration band, each averaged over age bands with the future's exposure (cells
    # the fit window never saw are left out of all three)
    ok = (pl.col("fitted_rate").is_finite() & pl.col("rate_per_year_fit").is_finite()
          & pl.col("rate_per_year_future").is_finite() & (pl.col("days_future") > 0))
    w = pl.col("days_future")
    by_db = (haz.filter(ok).group_by("duration_band").agg(
        fitted=(pl.col("fitted_rate") * w).sum() / w.sum(),
        fit_window=(pl.col("rate_per_year_fit") * w).sum() / w.sum(),
        future=(pl.col("rate_per_year_future") * w).sum() / w.sum()).sort("duration_band"))
    diag = {"kind": case.kind, "la": case.folder.name, "origin": origin, "n_years":
            len(data.collection_years), "stock_first": tr.series("stock")[spec.first_year - 1],
            "stock_origin": last, "uasc_in_care": tr.info["uasc_in_care_at_origin"],
            "sf_entries_origin": fitted.entry_rate(),
            "sf_trend": _trend(fitted)[0], "sf_trend_se": _trend(fitted)[1],
            "ols_trend_6y": float(np.exp(np.polyfit(np.arange(len(ys)), log_ent, 1)[0]) - 1),
            "true_trend": spec.trend, "true_entries_h1": ent_true[fy[0]],
            "true_entries_h6": ent_true[fy[-1]], "sf_entries_h1": float(sf_ent[0]),
            "sf_entries_h6": float(sf_ent[-1]), "true_exits_h1": ext_true[fy[0]],
            "sf_exits_h1": float(sf_ext[0]), "true_exits_h6": ext_true[fy[-1]],
            "sf_exits_h6": float(sf_ext[-1])}
    for r in by_db.iter_rows(named=True):
        d = r["duration_band"]
        diag |= {f"haz_db{d}_fitted": r["fitted"], f"haz_db{d}_true_fit_window": r["fit_window"],
                 f"haz_db{d}_true_future": r["future"]}
    for tag, on in (("origin", data.extract_end),
                    ("fit_start", data.extract_end.replace(year=origin - 3))):
        lt = _left_truncation(data, tr, on)
        diag |= {f"lt_{tag}_later_start": lt["share_later_start"],
                 f"lt_{tag}_wrong_band": lt["share_wrong_band"]}
    return rows, diag


def summarise(df: pl.DataFrame, by: list[str]) -> pl.DataFrame:
    """MAPE, bias and coverage per group of rows (and of the variants, when run)."""
    def ape(col: str, target: str = "truth") -> pl.Expr:
        return ((pl.col(col) - pl.col(target)).abs() / pl.col(target)).mean() * 100

    def bias(col: str) -> pl.Expr:
        return ((pl.col(col) - pl.col("truth")) / pl.col("truth")).mean() * 100

    def cov(pre: str, lv: str) -> pl.Expr:
        return ((pl.col("truth") >= pl.col(f"{pre}_lo{lv}"))
                & (pl.col("truth") <= pl.col(f"{pre}_hi{lv}"))).mean()

    extra = []
    for name in VARIANTS:
        if f"{name}_q50" in df.columns:
            extra += [ape(f"{name}_q50").alias(f"{name}_mape"),
                      bias(f"{name}_q50").alias(f"{name}_bias"),
                      cov(name, "80").alias(f"{name}_cov80")]
    return (df.group_by(by).agg(
        *extra,
        n=pl.len(),
        sf_mape=ape("sf_q50"), naive_mape=ape("naive_q50"), last_mape=ape("last_stock"),
        oracle_mape=ape("oracle_q50"),
        sf_mape_vs_expected=ape("sf_q50", "truth_expected"),
        sf_bias=bias("sf_q50"), naive_bias=bias("naive_q50"),
        sf_cov80=cov("sf", "80"), sf_cov95=cov("sf", "95"),
        naive_cov80=cov("naive", "80"), naive_cov95=cov("naive", "95"),
        oracle_cov80=cov("oracle", "80"),
        sf_above80=(pl.col("truth") < pl.col("sf_lo80")).mean(),
        sf_below80=(pl.col("truth") > pl.col("sf_hi80")).mean(),
    ).with_columns(ratio=pl.col("sf_mape") / pl.col("naive_mape")).sort(by))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true",
                    help="3 LAs per kind, 200 paths, 50 continuations for the truth")
    ap.add_argument("--per-kind", type=int, default=None, help="LAs per kind (default 8)")
    ap.add_argument("--paths", type=int, default=None, help="paths per forecast (default 300)")
    ap.add_argument("--reps", type=int, default=None,
                    help="generator continuations behind the expected truth (default 100)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--first-index", type=int, default=0,
                    help="index of each kind's first LA (e.g. 100: a set disjoint from the "
                         "default one, for choosing a model option before scoring it)")
    ap.add_argument("--kinds", default=",".join(kt.KINDS))
    ap.add_argument("--out", type=Path, default=OUT / "known_truth.csv")
    ap.add_argument("--keep", type=Path, default=None,
                    help="write the LAs' returns here (default: a temporary folder)")
    ap.add_argument("--variants", action="store_true",
                    help="also fit stockflow without a trend and with entries over all years")
    args = ap.parse_args()
    per_kind = args.per_kind or (3 if args.quick else 8)
    paths = args.paths or (200 if args.quick else 300)
    reps = args.reps or (50 if args.quick else 100)
    kinds = tuple(k.strip() for k in args.kinds.split(",") if k.strip())
    args.out.parent.mkdir(parents=True, exist_ok=True)

    t0 = time.perf_counter()
    rows, diags = [], []
    tmp = None
    root = args.keep
    if root is None:
        tmp = tempfile.TemporaryDirectory()
        root = Path(tmp.name)
    n_total = per_kind * len(kinds)
    t_gen = t_fit = 0.0
    k = 0
    for kind in kinds:
        for i in range(args.first_index, args.first_index + per_kind):
            k += 1
            a = time.perf_counter()
            folder = root / f"{kind}_{i:02d}"
            truth = kt.generate(kind, i, folder, reps=reps)
            b = time.perf_counter()
            for attempt in range(3):
                try:
                    r, d = run_la(kt.LACase(kind, i, folder, truth), paths, args.seed,
                                  args.variants)
                    break
                except Exception as e:  # another engineer may be mid-edit in cobic/
                    if attempt == 2:
                        raise
                    print(f"  {folder.name}: {type(e).__name__}: {e}; retrying in 30 s",
                          flush=True)
                    time.sleep(30)
            c = time.perf_counter()
            t_gen, t_fit = t_gen + b - a, t_fit + c - b
            rows += r
            diags.append(d)
            print(f"[{k:2d}/{n_total}] {folder.name}: {truth.info['children_in_care_at_origin']:5d}"
                  f" in care at 31/03/{truth.origin}, truth h6 {r[-1]['truth']:6.0f}, "
                  f"stockflow {r[-1]['sf_q50']:6.0f}, naive {r[-1]['naive_q50']:6.0f} "
                  f"(generate {b - a:.1f} s, read+fit+forecast {c - b:.1f} s)", flush=True)
    took = time.perf_counter() - t0
    df = pl.DataFrame(rows)
    diag = pl.DataFrame(diags)
    df.write_csv(args.out)
    diag_path = args.out.with_name(args.out.stem + "_diag.csv")
    diag.write_csv(diag_path)

    cols = ["n", "sf_mape", "naive_mape", "ratio", "last_mape", "oracle_mape", "sf_bias",
            "naive_bias", "sf_cov80", "sf_cov95", "naive_cov80", "naive_cov95", "oracle_cov80",
            "sf_above80", "sf_below80"]
    short = {"sf_mape": "sf", "naive_mape": "naive", "last_mape": "last", "oracle_mape": "oracle",
             "sf_bias": "sf_bias", "naive_bias": "nv_bias", "sf_cov80": "sf80", "sf_cov95": "sf95",
             "naive_cov80": "nv80", "naive_cov95": "nv95", "oracle_cov80": "or80",
             "sf_above80": "sf_abv", "sf_below80": "sf_blw"}
    by_kh = summarise(df, ["kind", "horizon"])
    pooled = summarise(df, ["horizon"])
    pl.concat([by_kh, pooled.with_columns(kind=pl.lit("pooled")).select(by_kh.columns)]).write_csv(
        args.out.with_name(args.out.stem + "_summary.csv"))
    print(f"\n== {len(diags)} LAs ({per_kind} per kind: {', '.join(kinds)}), {paths} paths, "
          f"truth from {reps} continuations; {took:.0f} s (generate {t_gen:.0f} s, "
          f"read+fit+forecast {t_fit:.0f} s)")
    print("MAPE (%) of the median total stock vs the realised future: sf = stockflow, naive "
          "(median of its paths), ratio = sf/naive, last = no change, oracle = the generator's "
          "own median; bias = mean signed % error of the median; sf80/sf95/nv80/nv95/or80 = "
          "interval coverage of the realised future; sf_abv/sf_blw: share of cases with the "
          "truth below/above stockflow's 80% interval (interval too high/too low)")

    def show(t: pl.DataFrame) -> None:
        print(t.select("horizon", *[pl.col(c).alias(short.get(c, c)) for c in cols]))

    for kind in kinds:
        print(f"\n-- {kind}")
        show(by_kh.filter(pl.col("kind") == kind))
    print("\n-- pooled")
    show(pooled)
    allh = summarise(df.with_columns(pl.lit("all").alias("h")), ["h"])
    print(f"pooled h1-6: stockflow MAPE {allh['sf_mape'][0]:.2f}%, naive {allh['naive_mape'][0]:.2f}%"
          f" (ratio {allh['ratio'][0]:.3f}); 80% coverage stockflow {allh['sf_cov80'][0]:.1%}, "
          f"naive {allh['naive_cov80'][0]:.1%}, oracle {allh['oracle_cov80'][0]:.1%}; 95% "
          f"stockflow {allh['sf_cov95'][0]:.1%}, naive {allh['naive_cov95'][0]:.1%}")
    mix = df.filter(pl.col("kind") == "mix_shift")
    if mix.height:
        m = mix.group_by("horizon").agg(
            sf=((pl.col("sf_res_q50") - pl.col("res_truth")).abs() / pl.col("res_truth")).mean()
            * 100,
            last=((pl.col("res_last") - pl.col("res_truth")).abs() / pl.col("res_truth")).mean()
            * 100).sort("horizon")
        print("\nmix_shift, residential stock: MAPE (%) of stockflow's median vs no change:",
              {r["horizon"]: (round(r["sf"], 1), round(r["last"], 1)) for r in m.iter_rows(
                  named=True)})
    print("\nentries and exits, median of stockflow's paths vs the generator's expected "
          "(mean % error, pooled by kind, h1 and h6):")
    print(df.filter(pl.col("horizon").is_in([1, 6])).group_by("kind", "horizon").agg(
        entries_err=((pl.col("sf_entries") / pl.col("true_entries") - 1).mean() * 100).round(1),
        exits_err=((pl.col("sf_exits") / pl.col("true_exits") - 1).mean() * 100).round(1),
    ).sort("kind", "horizon"))
    print("\nsurvival of the children in care at the origin (no new entrants): stockflow's "
          "median vs the generator's expected, mean % error by kind and horizon:")
    print(df.with_columns(err=(pl.col("sf_initial") / pl.col("true_initial") - 1) * 100)
          .pivot(on="horizon", index="kind", values="err", aggregate_function="mean")
          .sort("kind"))
    if args.variants:
        vc = [c for c in by_kh.columns if any(c.startswith(v) for v in VARIANTS)]
        print("\nstockflow variants (MAPE %, bias %, 80% coverage), pooled by horizon:")
        print(pooled.select("horizon", "sf_mape", "sf_bias", "sf_cov80", *vc))
        print(summarise(df, ["kind"]).select("kind", "sf_mape", "sf_bias", "sf_cov80", *vc))
    print(f"\nper-LA rows: {args.out}\nper-LA diagnostics: {diag_path}\nsummary: "
          f"{args.out.with_name(args.out.stem + '_summary.csv')}")
    if tmp is not None:
        tmp.cleanup()


if __name__ == "__main__":
    main()
