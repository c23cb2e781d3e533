"""Every chart function returns an Altair chart that renders (through vl-convert)."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from cobic.contract import load_contract
from cobic.paths import models_dir
from cobic.report import charts


def _render(chart) -> str:
    import vl_convert as vlc

    svg = vlc.vegalite_to_svg(chart.to_json())
    assert svg.startswith("<svg") and len(svg) > 1000
    return svg


def test_all_charts_render(tmp_path):
    rng = np.random.default_rng(0)
    history = pl.DataFrame({"period": [2021, 2022, 2023], "value": [500.0, 520.0, 515.0]})
    periods = (2024, 2025, 2026)
    values = 515 + rng.normal(0, 20, (500, 3)).cumsum(axis=1)
    fan = charts.fan_table(periods, values)
    # bands nest: 50% inside 80% inside 95%, around the median
    assert (fan["lo95"] <= fan["lo80"]).all() and (fan["lo80"] <= fan["lo50"]).all()
    assert (fan["lo50"] <= fan["median"]).all() and (fan["median"] <= fan["hi50"]).all()
    forecast = pl.DataFrame({"period": [2024, 2024], "placement_group": ["a", "b"],
                             "age_band": ["all", "all"], "mean": [300.0, 200.0]})
    schedule = pl.DataFrame({"financial_year": ["2026-27", "2027-28"], "fixed": [1e7, 9e6],
                             "at_risk": [0.0, 1e6]})
    terms = load_contract(models_dir() / "contracts" / "cobic_5yr.toml")
    mech = pl.DataFrame({"mechanism": ["block", "cobic"], "commissioner_mean": [1e8, 9e7],
                         "commissioner_p10": [1e8, 8e7], "commissioner_p90": [1e8, 1e8],
                         "provider_margin_mean": [0.0, -1e6], "provider_margin_p10": [-5e6, -3e6],
                         "provider_margin_p90": [5e6, 2e6]})
    metrics = pl.DataFrame({"model": ["naive", "naive"], "horizon": [1, 2], "mape": [5.0, 8.0],
                            "coverage_80": [0.8, 0.78]})
    steps = pl.DataFrame({"label": ["baseline", "entry shock", "efficiency", "scenario"],
                          "amount": [3e8, 2e7, -1e7, 3.1e8]})
    budget = pl.DataFrame({"financial_year": ["2026-27"], "baseline": [6e7], "scenario": [6.5e7]})
    figs = [charts.fan_chart(history, periods, values), charts.stock_by_group_chart(forecast),
            charts.contract_value_chart(schedule), charts.risk_share_chart(terms.risk_share),
            charts.distribution_chart({"x": rng.normal(1e8, 1e7, 200)}, "t"),
            charts.mechanisms_chart(mech), charts.backtest_chart(metrics),
            charts.waterfall_chart(steps), charts.budget_chart(budget)]
    for f in figs:
        _render(f)
    png = charts.save_chart(figs[0], tmp_path / "fan.png")
    assert png.read_bytes()[:4] == b"\x89PNG"


def test_compact_chart_data_draws_the_same_shapes():
    """The distribution chart's bins count every path (a second count with numpy), and the
    risk-share line through its kinks equals the provider's share everywhere between them."""
    from cobic.contract.risk_share import provider_share

    v = np.random.default_rng(4).normal(1e8, 1e7, 1000)
    import altair as alt

    chart = charts.distribution_chart({"x": v}, "t")
    data = chart.hconcat[0].data
    rows = (chart.data if data is alt.Undefined else data).values
    assert sum(r["paths"] for r in rows) == 1000
    assert min(r["lo"] for r in rows) == pytest.approx(v.min() / 1e6)
    terms = load_contract(models_dir() / "contracts" / "cobic_7yr.toml")
    ratio, pi = charts._kinks(np.linspace(0.8, 1.2, 4001), terms.risk_share)
    assert len(ratio) < 40
    grid = np.linspace(0.8, 1.2, 997)
    want = provider_share(grid - 1.0, np.ones_like(grid), terms.risk_share)
    np.testing.assert_allclose(np.interp(grid, ratio, pi), want, atol=1e-6)
