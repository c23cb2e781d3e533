"""The ``cobic`` command. It orchestrates; the logic lives in the library.

Data errors exit with status 2 and name the file, line, column and rule; nothing is written.
"""

from __future__ import annotations

import dataclasses
import json
import os
import tempfile
from pathlib import Path
from typing import Annotated

import polars as pl
import typer
from rich.console import Console
from rich.table import Table

from cobic.data import derive
from cobic.data.dfe import read_panel
from cobic.data.ssda903 import SSDA903, read_ssda903
from cobic.data.synth import SCENARIOS, generate, scenario, write_ssda903
from cobic.errors import DataError
from cobic.report.files import atomic_folder

__all__ = ["app"]

app = typer.Typer(
    help="cobic: demand forecasting and capitated outcomes-based contracts for children's "
    "social care (looked-after children) in England.",
    no_args_is_help=True,
    add_completion=False,
)
out = Console()
err = Console(stderr=True)

FIXTURE_LA = "synthetic_la"
FIXTURE_SEED = 20260401


def _fail(e: DataError) -> None:
    err.print(f"[bold red]The input is not usable[/]: {len(e.problems)} problem(s); nothing was "
              "written.")
    for p in e.problems[:200]:
        err.print(f"  - {p}", highlight=False, markup=False)
    if len(e.problems) > 200:
        err.print(f"  ... and {len(e.problems) - 200} more")
    raise typer.Exit(2)


def _write_atomic(path: Path, write) -> None:
    """Write through a temporary file in the same folder, then rename (no partial outputs)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        write(Path(tmp))
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


_PLAIN = {"year", "period", "origin", "horizon", "line"}


def _table(df: pl.DataFrame, title: str) -> Table:
    t = Table(title=title, title_justify="left")
    for c in df.columns:
        t.add_column(c, justify="right" if df[c].dtype.is_numeric() else "left")
    for row in df.iter_rows(named=True):
        t.add_row(*["" if v is None else f"{v:,}" if isinstance(v, int) and k not in _PLAIN
                    else str(v) for k, v in row.items()])
    return t


def _print_ssda903_summary(data: SSDA903) -> None:
    years = data.collection_years
    out.print(f"[bold]{data.source}[/]: collection years {years[0] - 1}-{str(years[0])[2:]} to "
              f"{years[-1] - 1}-{str(years[-1])[2:]} (files named by the year the collection "
              f"year {'ends' if data.year_label == 'ending' else 'starts'} in); "
              f"{data.header.height:,} children, {data.episodes.height:,} episodes.")
    out.print(_table(data.quality_summary().with_columns(
        pl.col("file").map_elements(lambda f: Path(f).name, return_dtype=pl.String)),
        "Data quality: every row read is kept, merged (re-reported) or dropped"))
    changes = data.quality_report().group_by("table", "outcome", "change").agg(rows=pl.len())
    if changes.height:
        out.print(_table(changes.sort("table", "outcome"), "What was merged, dropped or changed"))
    out.print(_table(derive.flow_balance(data), "Children looked after (short breaks excluded, "
                                                 "as DfE): stock at 31 March, flows, child-days"))
    out.print(_table(derive.stock_totals(data, "placement_group"),
                     f"Stock on {data.extract_end:%d/%m/%Y} by placement group"))
    out.print(_table(derive.stock_totals(data, "age_band"),
                     f"Stock on {data.extract_end:%d/%m/%Y} by age band"))


@app.command()
def validate(
    episodes: Annotated[Path | None, typer.Option(
        help="Folder of SSDA903 files (YYYY-header.csv, YYYY-episodes.csv) or one combined CSV.")] = None,
    panel: Annotated[Path | None, typer.Option(
        help="A DfE LA panel CSV (as la_cla_panel_2015_2025.csv).")] = None,
    report: Annotated[Path | None, typer.Option(
        help="Also write the data-quality report (CSV) here.")] = None,
    year_label: Annotated[str, typer.Option(
        help="How yearly files are named: ending (DfE), starting, or auto.")] = "auto",
) -> None:
    """Check a user's files and print the data-quality report.

    Exit status 0 when the data are usable, 2 when not (every problem is named).
    """
    if (episodes is None) == (panel is None):
        err.print("Give exactly one of --episodes DIR or --panel CSV.")
        raise typer.Exit(2)
    try:
        if episodes is not None:
            data = read_ssda903(episodes, year_label=year_label)
            _print_ssda903_summary(data)
            rep = data.quality_report().select(
                "table", "file", "line", "outcome", "change", "detail")
        else:
            p = read_panel(panel)
            lv = p.table.group_by("area_level").agg(areas=pl.col("area").n_unique())
            out.print(f"[bold]{p.source}[/]: {p.table.height:,} rows, years "
                      f"{p.table['year'].min()}-{p.table['year'].max()}; "
                      + ", ".join(f"{r[1]} {r[0]} areas" for r in lv.sort("area_level").rows()))
            out.print(_table(p.markers.group_by("marker", "meaning", "column").agg(rows=pl.len())
                             .sort("marker", "column"), "Markers replaced by nulls"))
            out.print(_table(p.reorganisations, "Series that start or stop (reorganisations)"))
            rep = p.markers.select(
                pl.lit("panel").alias("table"), pl.lit(p.source).alias("file"), "line",
                pl.lit("kept").alias("outcome"), pl.lit("marker").alias("change"),
                (pl.col("column") + pl.lit(": ") + pl.col("marker") + pl.lit(" = ")
                 + pl.col("meaning")).alias("detail"))
    except DataError as e:
        _fail(e)
    if report is not None:
        _write_atomic(report, lambda p: rep.write_csv(p))
        out.print(f"Data-quality report written to {report}")
    out.print("[green]Usable.[/]")


@app.command()
def synth(
    out_dir: Annotated[Path, typer.Option("--out", help="Folder to write the yearly files to.")],
    scenario_name: Annotated[str, typer.Option(
        "--scenario", help=f"One of {', '.join(SCENARIOS)}.")] = "steady",
    seed: Annotated[int, typer.Option(help="Random seed.")] = FIXTURE_SEED,
    population: Annotated[float, typer.Option(help="Children aged 0-17 in the first year.")] = 60_000,
    first_year: Annotated[int, typer.Option(help="First collection year (ending 31 March).")] = 2016,
    years: Annotated[int, typer.Option(help="Number of collection years.")] = 10,
    force: Annotated[bool, typer.Option(help="Replace the folder if it exists.")] = False,
) -> None:
    """Write synthetic SSDA903 returns for a synthetic LA, with its truth (truth.csv)."""
    if scenario_name not in SCENARIOS:
        err.print(f"--scenario must be one of {SCENARIOS}, got {scenario_name!r}")
        raise typer.Exit(2)
    if out_dir.exists() and any(out_dir.iterdir()) and not force:
        err.print(f"{out_dir} exists and is not empty; use --force to replace it.")
        raise typer.Exit(2)
    spec = scenario(scenario_name, seed=seed, population_0_17=population, first_year=first_year,
                    n_years=years)
    la = generate(spec)
    with atomic_folder(out_dir) as tmp:
        write_ssda903(la, tmp)
        la.truth.sort("measure", "year", "placement_group").write_csv(tmp / "truth.csv",
                                                                       line_terminator="\n")
        la.population.write_csv(tmp / "population.csv", line_terminator="\n")
        spec_d = {k: v for k, v in dataclasses.asdict(spec).items() if k != "placement_mix"}
        (tmp / "spec.json").write_text(json.dumps(spec_d, indent=1, sort_keys=True) + "\n")
    n_eps = la.episodes.height
    out.print(f"Wrote {years} years of SSDA903 returns for {spec.name} to {out_dir} "
              f"({la.children.height:,} children, {n_eps:,} episodes), with truth.csv.")


def _write_table(df: pl.DataFrame, path: Path) -> None:
    """CSV or Parquet by extension, written atomically."""
    suffix = path.suffix.lower()
    if suffix not in (".csv", ".parquet"):
        err.print(f"{path}: the output must end in .csv or .parquet")
        raise typer.Exit(2)
    _write_atomic(path, lambda p: df.write_csv(p) if suffix == ".csv" else df.write_parquet(p))


def _range(text: str, option: str) -> tuple[int, ...]:
    """'2018-2022' or '1,2,3' or '3' -> a tuple of ints."""
    try:
        if "-" in text:
            a, b = text.split("-", 1)
            out = tuple(range(int(a), int(b) + 1))
        else:
            out = tuple(int(x) for x in text.split(","))
    except ValueError:
        out = ()
    if not out:
        err.print(f"{option}: expected a range such as 2018-2022 or a list such as 1,2,3; got "
                  f"{text!r}")
        raise typer.Exit(2)
    return out


def _population(path: Path | None) -> pl.DataFrame | None:
    if path is None:
        return None
    df = pl.read_csv(path)
    if not {"year", "population"} <= set(df.columns):
        err.print(f"{path}: needs columns year, population (0-17, the rate denominator for each "
                  "collection year); a population by age is summed over ages")
        raise typer.Exit(2)
    return df.group_by("year").agg(pl.col("population").sum()).sort("year")


@app.command()
def forecast(
    out_file: Annotated[Path, typer.Option("--out", help="Forecast table (.csv or .parquet).")],
    episodes: Annotated[Path | None, typer.Option(help="SSDA903 folder or combined CSV.")] = None,
    panel: Annotated[Path | None, typer.Option(help="DfE LA panel CSV.")] = None,
    area: Annotated[str | None, typer.Option(help="Area name in the panel.")] = None,
    model: Annotated[str | None, typer.Option(
        help="stockflow (default for --episodes), panel (default for --panel), naive, drift, "
        "flowbalance, ets, rate.")] = None,
    origin: Annotated[int | None, typer.Option(
        help="Last year of history (default: the latest).")] = None,
    horizon: Annotated[int, typer.Option(help="Years ahead.")] = 5,
    paths: Annotated[int, typer.Option("--paths", help="Simulated paths.")] = 1000,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 1,
    scenario: Annotated[list[str] | None, typer.Option(
        help="NAME=VALUE, repeatable: entry_step=+20%@2027, entry_trend=+3%, prevention=10%@2028,"
        " stay=+10%, mix=residential>fostering:25%, uasc=30.")] = None,
    population: Annotated[Path | None, typer.Option(
        help="With --episodes: CSV of year, population (0-17) for entry rates per 10,000.")] = None,
    paths_out: Annotated[Path | None, typer.Option(
        help="Also write the paths (every measure: stock, child_days, entries, exits, moves, "
        "days_by_duration) here; cobic price reads it.")] = None,
) -> None:
    """Forecast children looked after (stock on 31 March) as distributions, with scenarios."""
    from cobic.demand.api import forecast_episodes, forecast_panel
    from cobic.demand.scenarios import parse_scenarios

    if (episodes is None) == (panel is None):
        err.print("Give exactly one of --episodes DIR or --panel CSV (with --area NAME).")
        raise typer.Exit(2)
    if horizon < 1 or horizon > 10 or paths < 10:
        err.print(f"--horizon must be 1-10 and --paths at least 10 (got {horizon}, {paths}).")
        raise typer.Exit(2)
    try:
        from cobic.codes import default_codes

        sc = parse_scenarios(scenario or [], default_codes().group_names)
        if episodes is not None:
            data = read_ssda903(episodes)
            result = forecast_episodes(data, model or "stockflow", origin, horizon, paths, seed,
                                       sc, _population(population))
        else:
            if area is None:
                err.print("--panel needs --area NAME (an area in the panel).")
                raise typer.Exit(2)
            result = forecast_panel(read_panel(panel), area, model or "panel", origin, horizon,
                                    paths, seed, sc)
    except DataError as e:
        _fail(e)
    except (ValueError, KeyError) as e:
        err.print(f"[bold red]Cannot forecast[/]: {e}")
        raise typer.Exit(2) from None
    table = result.forecast_table()
    _write_table(table, out_file)
    if paths_out is not None:
        _write_table(result.measures_table(), paths_out)
    head = table.filter((pl.col("placement_group") == "all") & (pl.col("age_band") == "all"))
    out.print(_table(head.select("area", "model", "period", pl.col("mean").round(1),
                                 pl.col("q10").round(0), pl.col("q50").round(0),
                                 pl.col("q90").round(0)),
                     f"Children looked after on 31 March ({result.scenario})"))
    out.print(f"Forecast table written to {out_file}"
              + (f"; paths to {paths_out}" if paths_out else ""))


@app.command()
def backtest(
    out_file: Annotated[Path, typer.Option("--out", help="Backtest table (.csv or .parquet).")],
    panel: Annotated[Path | None, typer.Option(help="DfE LA panel CSV.")] = None,
    episodes: Annotated[Path | None, typer.Option(help="An LA's SSDA903 returns.")] = None,
    models: Annotated[str | None, typer.Option(
        help="Comma-separated models (default: all that fit the input).")] = None,
    origins: Annotated[str, typer.Option(help="Origins, e.g. 2018-2022.")] = "2018-2022",
    horizons: Annotated[str, typer.Option(help="Horizons, e.g. 1-3.")] = "1-3",
    paths: Annotated[int, typer.Option("--paths", help="Simulated paths.")] = 1000,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
    by_area: Annotated[Path | None, typer.Option(help="Also write metrics per area here.")] = None,
    population: Annotated[Path | None, typer.Option(
        help="With --episodes: CSV of year, population (0-17); enables the rate model.")] = None,
    gate: Annotated[str | None, typer.Option(
        help="MODEL:BASELINE - exit 1 if MODEL is worse than BASELINE in MAPE or 80% interval "
        "score at any horizon, or its 80% coverage is outside 75-85%.")] = None,
) -> None:
    """Rolling-origin backtest: MAE, MAPE, MASE, interval coverage and score by horizon."""
    from rich.progress import Progress

    from cobic.demand.api import SERIES_MODELS, accuracy_gate, backtest_episodes, backtest_panel
    from cobic.demand.backtest import EvaluationScheme

    if (episodes is None) == (panel is None):
        err.print("Give exactly one of --panel CSV or --episodes DIR.")
        raise typer.Exit(2)
    if panel is not None:
        default = list(SERIES_MODELS)
    else:  # one LA: no pooling across areas; the rate model needs a population
        default = ["naive", "drift", "flowbalance", "ets", "stockflow"] + (
            ["rate"] if population is not None else [])
    chosen = [m.strip() for m in models.split(",")] if models else default
    unknown = [m for m in chosen if m not in default]
    if unknown:
        err.print(f"--models: {unknown} not available for this input (choose from {default})")
        raise typer.Exit(2)
    gate_pair = None
    if gate:
        if ":" not in gate:
            err.print(f"--gate: expected MODEL:BASELINE, got {gate!r}")
            raise typer.Exit(2)
        gate_pair = tuple(gate.split(":", 1))
        chosen += [m for m in gate_pair if m not in chosen]
    try:
        scheme = EvaluationScheme(_range(origins, "--origins"), _range(horizons, "--horizons"))
        with Progress(console=err, transient=True) as bar:
            task = bar.add_task("backtest", total=len(chosen) * len(scheme.origins))

            def tick(label: str) -> None:
                bar.update(task, advance=1, description=f"backtest: {label}")

            if panel is not None:
                res = backtest_panel(read_panel(panel), chosen, scheme, paths, seed, tick)
            else:
                res = backtest_episodes(read_ssda903(episodes), chosen, scheme, paths, seed,
                                        population=_population(population), progress=tick)
    except DataError as e:
        _fail(e)
    except ValueError as e:
        err.print(f"[bold red]Cannot backtest[/]: {e}")
        raise typer.Exit(2) from None
    metrics = res.metrics()
    _write_table(metrics, out_file)
    if by_area is not None:
        _write_table(res.by_area(), by_area)
    out.print(_table(metrics.with_columns(pl.col(c).round(3) for c in
                                          ("mae", "mape", "mase", "coverage_80", "coverage_95",
                                           "interval_score_80")), "Backtest"))
    out.print(f"Backtest table written to {out_file}")
    if gate_pair:
        fails = accuracy_gate(metrics, *gate_pair)
        if fails:
            err.print(f"[bold red]Accuracy gate failed[/] ({gate_pair[0]} vs {gate_pair[1]}):")
            for f in fails:
                err.print(f"  - {f}")
            raise typer.Exit(1)
        out.print(f"[green]Accuracy gate passed[/] ({gate_pair[0]} vs {gate_pair[1]}).")


def _read_paths(path: Path) -> pl.DataFrame:
    if not path.exists():
        err.print(f"{path}: file not found")
        raise typer.Exit(2)
    try:
        return pl.read_parquet(path) if path.suffix.lower() == ".parquet" else pl.read_csv(path)
    except pl.exceptions.PolarsError as e:
        err.print(f"{path}: not readable as a paths table ({e})")
        raise typer.Exit(2) from None


@app.command()
def price(
    forecast_file: Annotated[Path, typer.Option(
        "--forecast", help="Paths file from cobic forecast --paths-out (.csv or .parquet).")],
    contract: Annotated[Path, typer.Option(help="Contract terms TOML (models/contracts/).")],
    costs: Annotated[Path, typer.Option(help="Cost set TOML (models/costs/).")],
    out_dir: Annotated[Path, typer.Option("--out", help="Folder for the tables and workbook.")],
    seed: Annotated[int, typer.Option(help="Random seed for costs and indicators.")] = 0,
) -> None:
    """Price a contract on forecast paths: per year and per path, summaries, mechanisms."""
    from cobic.contract import apply_terms, compare_mechanisms, load_contract
    from cobic.contract.calculator import simulate_contract_costs
    from cobic.costs import DemandPaths, load_cost_spec
    from cobic.errors import SpecError

    try:
        terms = load_contract(contract)
        spec = load_cost_spec(costs)
        demand = DemandPaths.from_table(_read_paths(forecast_file), str(forecast_file))
        sim = simulate_contract_costs(demand, spec, terms, seed)
        priced = apply_terms(sim, terms, spec)
    except (SpecError, ValueError) as e:
        err.print(f"[bold red]Cannot price[/]: {e}")
        raise typer.Exit(2) from None
    _write_priced(out_dir, priced, compare_mechanisms(sim, priced), terms, spec, forecast_file)


def _write_priced(out_dir: Path, priced, mechanisms: pl.DataFrame, terms, spec, source) -> None:
    from cobic.report.workbook import write_workbook

    tables = {"schedule": priced.schedule(), "summary": priced.summary(), "risk": priced.risk(),
              "mechanisms": mechanisms, "by_path_year": priced.by_path_year()}
    with atomic_folder(out_dir) as tmp:
        for name, df in tables.items():
            df.write_csv(tmp / f"{name}.csv")
        notes = [
            ("Contract", f"{terms.name} ({terms.source}): {terms.length} years from "
                         f"{terms.first_year - 1}-{terms.first_year % 100:02d}, basis "
                         f"{terms.basis}, capitation {terms.method} at "
                         f"P{round(terms.point * 100)}"),
            ("Costs", f"{spec.name} ({spec.source}), base price year "
                      f"{spec.base_price_year - 1}-{spec.base_price_year % 100:02d}"),
            ("Demand", f"{priced.n_paths:,} forecast paths from {source}"),
            ("Money", "GBP, nominal unless marked real (deflated by the inflation assumption) or "
                      "pv (real, discounted at the Green Book rate; year 1 undiscounted)"),
            ("Signs", "variance = actual cost - capitated payment; provider share + "
                      "commissioner share = variance; provider margin = net to provider - cost"),
        ]
        sheets = {k: v for k, v in tables.items() if k != "by_path_year"}
        sheets["by_path_year (first 5k)"] = tables["by_path_year"].head(5000)
        write_workbook(tmp / "contract.xlsx", sheets, notes)

    def m(c: str) -> pl.Expr:
        return (pl.col(c) / 1e6).round(2)

    sch = tables["schedule"].select(
        pl.col("contract_year").alias("year"), pl.col("financial_year").alias("FY"),
        m("capitation"), m("at_risk"), m("expected_cost").alias("expected cost"),
        m("expected_net_to_provider").alias("expected outlay"), m("capitation_pv").alias("cap PV"),
        pl.col("p_hit_loss_cap").round(2).alias("P(loss cap)"))
    out.print(_table(sch, f"{terms.name}: capitation and expected ledger by year (GBP m)"))
    sm = tables["summary"].filter(pl.col("measure").is_in(
        ["actual_cost", "commissioner_outlay", "commissioner_outlay_pv", "provider_margin"]
    )).select("measure", *[m(c) for c in ("mean", "p10", "p50", "p80", "p90")])
    out.print(_table(sm, "Whole contract over all paths (GBP m)"))
    mech = mechanisms.select(
        "mechanism", m("commissioner_mean").alias("outlay mean"),
        m("commissioner_p90").alias("outlay P90"),
        m("provider_margin_mean").alias("margin mean"),
        m("provider_margin_p10").alias("margin P10"),
        pl.col("p_provider_loss").round(2).alias("P(loss)"))
    out.print(_table(mech, "Payment mechanisms on the same paths (GBP m)"))
    out.print(f"Tables and contract.xlsx written to {out_dir}")


@app.command()
def settle(
    contract: Annotated[Path, typer.Option(help="Contract terms TOML.")],
    priced_dir: Annotated[Path, typer.Option(
        "--priced", help="Folder written by cobic price (its schedule.csv).")],
    actuals: Annotated[Path, typer.Option(
        help="The year's actuals TOML: contract_year, [child_days], entries, exits, moves, "
        "actual_cost (optional), [indicators].")],
    costs: Annotated[Path | None, typer.Option(
        help="Cost set TOML, to cost the activity when actual_cost is not given.")] = None,
    out_file: Annotated[Path | None, typer.Option("--out", help="Write the ledger (CSV).")] = None,
) -> None:
    """Settle one contract year: the ledger with every step shown."""
    from cobic.contract import load_actuals, load_contract
    from cobic.contract import settle as settle_year
    from cobic.costs import load_cost_spec
    from cobic.errors import SpecError

    try:
        terms = load_contract(contract)
        act = load_actuals(actuals, terms)
        sched_path = priced_dir / "schedule.csv"
        if not sched_path.exists():
            raise ValueError(f"{sched_path} not found: run cobic price first")
        sched = pl.read_csv(sched_path).filter(pl.col("contract_year") == act.contract_year)
        if sched.height != 1:
            raise ValueError(f"{sched_path} has no contract year {act.contract_year}")
        if "expected_child_days" not in sched.columns:
            raise ValueError(f"{sched_path} has no expected_child_days column")
        cap = float(sched["capitation"].item())
        exp_days = float(sched["expected_child_days"].item())
        spec = load_cost_spec(costs) if costs is not None else None
        ledger = settle_year(terms, act, cap, exp_days, spec)
    except (SpecError, ValueError) as e:
        err.print(f"[bold red]Cannot settle[/]: {e}")
        raise typer.Exit(2) from None
    out.print(_table(ledger.with_columns(pl.col("amount").map_elements(
        lambda v: f"{v:,.2f}", return_dtype=pl.String)),
        f"Settlement, contract year {act.contract_year}"))
    if out_file is not None:
        _write_atomic(out_file, lambda p: ledger.write_csv(p))
        out.print(f"Ledger written to {out_file}")


@app.command()
def demo(
    episodes: Annotated[Path | None, typer.Option(
        help="SSDA903 folder to use instead of the embedded synthetic LA.")] = None,
    out_dir: Annotated[Path, typer.Option("--out", help="Folder for the outputs.")] = Path(
        "cobic-demo-output"),
) -> None:
    """The main job on the embedded data: validate, forecast, price the 7-year COBIC, and
    write an HTML report with charts, CSV/XLSX tables and PNG charts."""
    from rich.progress import Progress

    from cobic.report.demo import STEPS, run_demo

    try:
        with Progress(console=err) as bar:
            task = bar.add_task("cobic demo", total=len(STEPS))
            seen: list[str] = []

            def tick(step: str) -> None:
                if seen:
                    bar.advance(task)
                seen.append(step)
                bar.update(task, description=step)

            result = run_demo(out_dir, episodes, progress=tick)
            bar.advance(task)
    except DataError as e:
        _fail(e)
    head = pl.DataFrame({"figure": list(result.headline),
                         "value": [str(v) for v in result.headline.values()]})
    out.print(_table(head, "cobic demo: headline figures"))
    out.print(f"Report: {result.report.resolve()}")
    out.print(f"Tables, workbook and charts: {result.out_dir.resolve()} "
              f"({result.seconds:.1f} s)")
