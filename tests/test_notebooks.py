"""The marimo notebooks: lint clean, run as scripts, export to HTML holding aggregates only,
and give, for overridden inputs, the figures the library computes independently."""

from __future__ import annotations

import importlib.util
import re
import shutil
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from cobic.budget import BudgetModel, Levers
from cobic.contract import apply_terms, load_contract
from cobic.contract.calculator import simulate_contract_costs
from cobic.contract.presets import sizing_terms
from cobic.costs import DemandPaths, default_unit_costs_path, load_cost_spec
from cobic.data.ssda903 import read_ssda903
from cobic.demand.api import accuracy_gate, backtest_panel, forecast_episodes, forecast_panel
from cobic.demand.backtest import EvaluationScheme
from cobic.demand.base import get_model
from cobic.paths import fixtures_dir, models_dir

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"
NAMES = ("contract_sizing", "what_if_budget", "demand_explorer", "forecast_validation")
BIN = Path(sys.executable).parent


def load(name: str):
    spec = importlib.util.spec_from_file_location(f"nb_{name}", NOTEBOOKS / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_marimo_check_is_clean():
    res = subprocess.run([str(BIN / "marimo"), "check", str(NOTEBOOKS)], capture_output=True,
                         text=True, timeout=120)
    assert res.returncode == 0, res.stdout + res.stderr
    assert res.stdout.strip() == "", res.stdout


@pytest.mark.parametrize("name", NAMES)
def test_notebook_runs_as_a_script(name, shared_data):
    res = subprocess.run([sys.executable, str(NOTEBOOKS / f"{name}.py")], capture_output=True,
                         text=True, timeout=300, cwd=ROOT)
    assert res.returncode == 0, res.stderr[-3000:]


@pytest.fixture(scope="module")
def fixture_ids() -> dict[str, list[str]]:
    data = read_ssda903(fixtures_dir() / "synthetic_la")
    return {"child": data.header["CHILD"].to_list(),
            "dob": [d.strftime("%d/%m/%Y") for d in data.header["DOB"].to_list()]}


@pytest.mark.parametrize("name", NAMES)
def test_export_html_holds_aggregates_only(name, tmp_path, shared_data, fixture_ids):
    out = tmp_path / f"{name}.html"
    # exported from a copy: marimo writes a session file next to the notebook it exports
    notebook = shutil.copy(NOTEBOOKS / f"{name}.py", tmp_path / f"{name}.py")
    res = subprocess.run([str(BIN / "marimo"), "export", "html", str(notebook),
                          "-o", str(out)], capture_output=True, text=True, timeout=300,
                         cwd=tmp_path)
    assert res.returncode == 0, res.stderr[-3000:]
    html = out.read_text()
    assert len(html) > 10_000
    # no child identifiers, dates of birth or postcodes
    ids = set(re.findall(r"(?<![\d.,])1\d{5}(?![\d.,])", html))
    assert not ids & set(fixture_ids["child"]), sorted(ids & set(fixture_ids["child"]))[:5]
    assert not set(re.findall(r"\d{2}/\d{2}/\d{4}", html)) & set(fixture_ids["dob"])
    assert not re.search(r"\b[A-Z]{1,2}\d{1,2}[A-Z]? \d[A-Z]{2}\b", html)


# ------------------------------------------------------------ overridden inputs

@pytest.fixture(scope="module")
def fixture_data():
    return read_ssda903(fixtures_dir() / "synthetic_la")


def test_contract_sizing_matches_the_library(fixture_data):
    inputs = {"length": 6, "basis": "child_day", "point": 0.8, "bedding_in": 2,
              "at_risk": 0.12, "deadband": 0.03, "middle_upper": 0.10, "middle_share": 0.4,
              "outer_share": 0.1, "cap": 0.07, "quality_gate": 0.3}
    _, defs = load("contract_sizing").app.run(defs={"contract_inputs": inputs,
                                                    "cost_growth": "fixed uplifts (cost set)"})
    # independently: the same forecast, costs and terms through the library
    paths = forecast_episodes(fixture_data, "stockflow", horizon=8, n_paths=1000, seed=1)
    base = load_contract(models_dir() / "contracts" / "cobic_7yr.toml")
    base = replace(base, first_year=paths.periods[0] + 1)
    spec = load_cost_spec(default_unit_costs_path())
    terms = sizing_terms(base, **inputs)
    sim = simulate_contract_costs(DemandPaths.from_paths(paths), spec, base, seed=1)
    priced = apply_terms(sim.first_years(6), terms, spec)
    assert defs["headline"]["total_capitation"] == pytest.approx(priced.capitation.sum())
    assert defs["headline"]["p_loss_cap"] == pytest.approx(priced.hit_loss_cap.any(axis=1).mean())
    assert defs["schedule"].height == 6
    assert defs["schedule"]["at_risk"].to_list()[:2] == [0.0, 0.0]


def test_contract_sizing_default_costs_grow_as_fitted(fixture_data):
    """By default the notebook prices with the shipped fitted cost growth: the library's
    fitted-growth route gives its headline, and the cost band per year is ordered and wider
    than with fixed uplifts (growth risk added)."""
    from cobic.costs import default_growth_path, load_growth, with_growth

    _, defs = load("contract_sizing").app.run()
    assert defs["cost_growth"] == "fitted to s251 history"
    paths = forecast_episodes(fixture_data, "stockflow", horizon=8, n_paths=1000, seed=1)
    base = load_contract(models_dir() / "contracts" / "cobic_7yr.toml")
    base = replace(base, first_year=paths.periods[0] + 1)
    spec = with_growth(load_cost_spec(default_unit_costs_path()),
                       *load_growth(default_growth_path()))
    sim = simulate_contract_costs(DemandPaths.from_paths(paths), spec, base, seed=1)
    terms = sizing_terms(base, **defs["contract_inputs"])
    priced = apply_terms(sim.first_years(terms.length), terms, spec)
    assert defs["headline"]["total_capitation"] == pytest.approx(priced.capitation.sum())
    fitted = defs["cost_bands"]["fitted to s251 history"]
    fixed = defs["cost_bands"]["fixed uplifts (cost set)"]
    assert (fitted["p10"] <= fitted["p50"]).all() and (fitted["p50"] <= fitted["p90"]).all()
    spread = (fitted["p90"] / fitted["p10"]).to_numpy()
    assert (spread > (fixed["p90"] / fixed["p10"]).to_numpy()).all()
    assert (np.diff(spread) > 0).all()  # growth risk compounds with the years


def test_what_if_budget_with_fitted_growth(fixture_data):
    """The fitted-growth basis: the baseline is on the same basis (no lever: no difference),
    the waterfall still adds up, and the band holds the expected cost."""
    _, defs = load("what_if_budget").app.run()
    levers = defs["levers"]
    assert levers.fitted_growth
    b, band = defs["budget"], defs["band"]
    assert np.allclose(b["difference"].to_numpy(), 0.0)
    assert ((band["p10"] < band["p50"]) & (band["p50"] < band["p90"])).all()
    assert ((band["p10"] < b["scenario"]) & (b["scenario"] < band["p90"])).all()
    shocked = replace(levers, entry_shock=0.2, entry_shock_year=defs["years"][1])
    w = defs["budget_model"].waterfall(shocked)
    assert w["amount"][0] == pytest.approx(b["baseline"].sum())
    assert w["amount"][0] + w["amount"][1:-1].sum() == pytest.approx(w["amount"][-1])
    assert w["amount"][1] > 0


def test_what_if_budget_matches_the_library(fixture_data):
    levers = Levers(entry_shock=0.2, entry_shock_year=2028, longer_stays=0.1,
                    residential_inflation=0.09, efficiency=0.01)
    _, defs = load("what_if_budget").app.run(defs={"levers": levers})
    fitted = get_model("stockflow").fit(fixture_data)
    years = tuple(range(fitted.origin + 2, fitted.origin + 7))
    model = BudgetModel(fitted, load_cost_spec(default_unit_costs_path()), years, n_paths=300,
                        seed=1)
    budget = model.budget(levers)
    assert defs["scenario_total"] == pytest.approx(budget["scenario"].sum())
    assert defs["baseline_total"] == pytest.approx(budget["baseline"].sum())
    assert defs["scenario_total"] > defs["baseline_total"]  # more entries, longer stays
    w = defs["waterfall"]
    # the waterfall's steps add up from the baseline to the scenario
    assert w["amount"][0] + w["amount"][1:-1].sum() == pytest.approx(w["amount"][-1])


def test_demand_explorer_matches_the_library(fixture_data, shared_data):
    nb = load("demand_explorer")
    inputs = {"source": "embedded synthetic LA", "folder": "", "area": "", "model": "stockflow",
              "horizon": 3, "entry_step": 0.0, "stays": 0.0}
    _, defs = nb.app.run(defs={"explorer_inputs": inputs})
    expect = forecast_episodes(fixture_data, "stockflow", horizon=3, n_paths=1000, seed=1)
    t = expect.forecast_table().filter((pl.col("placement_group") == "all")
                                       & (pl.col("age_band") == "all"))
    assert np.allclose(defs["forecast_summary"]["mean"].to_numpy(), t["mean"].to_numpy())
    inputs = {**inputs, "source": "DfE panel LA", "area": "Barnet", "model": "naive"}
    _, defs = load("demand_explorer").app.run(defs={"explorer_inputs": inputs})
    from cobic.data.dfe import read_panel

    panel = read_panel(shared_data / "dfe" / "la_cla_panel_2015_2025.csv")
    expect = forecast_panel(panel, "Barnet", "naive", horizon=3, n_paths=1000, seed=1)
    assert np.allclose(defs["forecast_summary"]["q50"].to_numpy(),
                       expect.forecast_table().filter(pl.col("placement_group") == "all")
                       ["q50"].to_numpy())
    assert set(defs["area_backtest"]["area"].unique()) == {"Barnet"}
    # the backtest is of the model chosen, against naive
    inputs = {**inputs, "model": "drift"}
    _, defs = load("demand_explorer").app.run(defs={"explorer_inputs": inputs})
    assert set(defs["area_backtest"]["model"].unique()) == {"naive", "drift"}


def test_forecast_validation_matches_the_library(shared_data):
    from cobic.data.dfe import read_panel
    from cobic.demand.api import DEFAULT_SERIES_MODEL

    models = ("naive", DEFAULT_SERIES_MODEL, "drift")
    inputs = {"n_paths": 200, "models": models, "origins": (2020, 2021), "horizons": (1, 2)}
    _, defs = load("forecast_validation").app.run(defs={"validation_inputs": inputs})
    panel = read_panel(shared_data / "dfe" / "la_cla_panel_2015_2025.csv")
    m = backtest_panel(panel, list(models), EvaluationScheme((2020, 2021), (1, 2)),
                       n_paths=200, seed=0).metrics()
    assert defs["metrics"].equals(m)
    assert defs["gate_failures"] == accuracy_gate(m, DEFAULT_SERIES_MODEL, "naive")
    assert defs["worst"].height == 10


def test_forecast_validation_first_view_is_the_quick_development_run(shared_data):
    """Before any submit: naive, the default and panel on the development window."""
    from cobic.demand.api import DEFAULT_SERIES_MODEL

    _, defs = load("forecast_validation").app.run()
    v = defs["validation_inputs"]
    assert v["origins"] == (2018, 2019, 2020, 2021) and v["horizons"] == (1, 2, 3)
    assert set(defs["metrics"]["model"]) == {"naive", DEFAULT_SERIES_MODEL, "panel"}
    # 145 LAs with a complete series x 4 origins per horizon
    assert defs["metrics"]["n"].to_list() == [580] * 9


def test_contract_sizing_defaults_are_the_shipped_contract_priced_by_the_cli(tmp_path):
    """Opened as it is, the notebook shows the figures `cobic price` gives for the shipped
    7-year COBIC on the same forecast (1,000 paths, seed 1) and costs (the England cost set
    with the shipped fitted growth, seed 1)."""
    from typer.testing import CliRunner

    from cobic.cli import app
    from cobic.costs import default_growth_path

    runner = CliRunner()
    p = tmp_path / "paths.parquet"
    r = runner.invoke(app, ["forecast", "--episodes", str(fixtures_dir() / "synthetic_la"),
                            "--horizon", "8", "--paths", "1000", "--seed", "1",
                            "--out", str(tmp_path / "f.csv"), "--paths-out", str(p)])
    assert r.exit_code == 0, r.output
    r = runner.invoke(app, ["price", "--forecast", str(p), "--contract",
                            str(models_dir() / "contracts" / "cobic_7yr.toml"), "--costs",
                            str(default_unit_costs_path()), "--growth",
                            str(default_growth_path()), "--seed", "1",
                            "--out", str(tmp_path / "priced")])
    assert r.exit_code == 0, r.output
    summary = pl.read_csv(tmp_path / "priced" / "summary.csv")
    schedule = pl.read_csv(tmp_path / "priced" / "schedule.csv")
    _, defs = load("contract_sizing").app.run()
    h = defs["headline"]
    outlay = summary.filter(pl.col("measure") == "commissioner_outlay")
    margin = summary.filter(pl.col("measure") == "provider_margin")
    assert h["total_capitation"] == pytest.approx(schedule["capitation"].sum(), rel=1e-9)
    assert h["expected_outlay"] == pytest.approx(outlay["mean"][0], rel=1e-9)
    assert h["outlay_p90"] == pytest.approx(outlay["p90"][0], rel=1e-9)
    assert h["expected_provider_margin"] == pytest.approx(margin["mean"][0], rel=1e-6)
    risk = pl.read_csv(tmp_path / "priced" / "risk.csv")
    loss = risk.filter(pl.col("measure").str.starts_with("P(provider makes a loss"))
    assert h["p_provider_loss"] == pytest.approx(loss["value"][0])


def test_demand_explorer_shows_a_wrong_folder_on_the_page():
    """A folder that does not exist is an error shown on the page, naming the folder and the
    rule, and nothing downstream runs on stale data."""
    inputs = {"source": "SSDA903 folder", "folder": "/no/such/folder", "area": "",
              "model": "stockflow", "horizon": 3, "entry_step": 0.0, "stays": 0.0}
    outputs, defs = load("demand_explorer").app.run(defs={"explorer_inputs": inputs})
    shown = " ".join(str(getattr(o, "text", o)) for o in outputs if o is not None)
    assert "Could not forecast" in shown
    assert "/no/such/folder" in shown and "no such file or folder" in shown
    assert "forecast" not in defs and "area_backtest" not in defs
