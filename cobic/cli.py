"""The ``cobic`` command. It orchestrates; the logic lives in the library.

Data errors exit with status 2 and name the file, line, column and rule; nothing is written.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import math
import os
import sys
from pathlib import Path
from typing import Annotated

import click
import polars as pl
import typer
from rich.console import Console
from rich.table import Table

from cobic.data import derive
from cobic.data.dfe import read_panel
from cobic.data.ssda903 import SSDA903, read_ssda903
from cobic.data.synth import SCENARIOS, generate, scenario, write_ssda903
from cobic.demand.limits import LIMITS, ResourceLimitError, check_memory, check_request
from cobic.errors import DataError, Problem, SpecError
from cobic.report.files import (
    OutputError,
    check_distinct,
    check_output_file,
    check_output_folder,
    output_folder,
    write_file,
)

__all__ = ["app"]

app = typer.Typer(
    help="cobic: demand forecasting and capitated outcomes-based contracts for children's "
    "social care (looked-after children) in England.",
    no_args_is_help=True,
    add_completion=False,
)
# piped or captured output (a log, a file, CI) is not squeezed to 80 columns: tables of money
# need about 120 to keep their headers whole; a terminal (or COLUMNS) sets its own width
_WIDTH = None if sys.stdout.isatty() or "COLUMNS" in os.environ else 120
out = Console(width=_WIDTH)
err = Console(stderr=True, width=_WIDTH)

FIXTURE_LA = "synthetic_la"
FIXTURE_SEED = 20260401


_STATE = {"debug": bool(os.environ.get("COBIC_DEBUG"))}


@app.callback()
def _main(debug: Annotated[bool, typer.Option(
        "--debug", help="Show the full Python traceback of an unexpected error.")] = False) -> None:
    """cobic: demand forecasting and capitated outcomes-based contracts for children's social
    care (looked-after children) in England. Data errors exit with status 2 and a message
    naming the file, line, column and rule; nothing is written."""
    _STATE["debug"] = debug or bool(os.environ.get("COBIC_DEBUG"))


def _fail(e: DataError) -> None:
    err.print(f"[bold red]The input is not usable[/]: {len(e.problems)} problem(s); nothing was "
              "written.")
    for p in e.problems[:200]:
        err.print(f"  - {p}", highlight=False, markup=False, soft_wrap=True)
    if len(e.problems) > 200:
        err.print(f"  ... and {len(e.problems) - 200} more")
    raise typer.Exit(2)


def _stop(message: str, code: int = 2) -> None:
    """One located message on standard error, then exit (2: the input or request)."""
    err.print(message, highlight=False, markup=False, soft_wrap=True)
    raise typer.Exit(code)


def _message(e: BaseException) -> str:
    if isinstance(e, KeyError) and e.args:
        return str(e.args[0])
    return str(e) or type(e).__name__


def _guarded(fn):
    """Turn every failure of a command into a message and an exit status, never a traceback:
    2 for bad input, a bad request or an output that cannot be written safely; 1 (with a
    pointer to ``--debug``) for anything unexpected."""
    name = fn.__name__

    @functools.wraps(fn)
    def run(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except (typer.Exit, typer.Abort, click.exceptions.ClickException):
            raise
        except DataError as e:
            _fail(e)
        except (OutputError, ResourceLimitError) as e:
            _stop(f"cobic {name}: {_message(e)}")
        except (SpecError, ValueError, KeyError) as e:
            _stop(f"cobic {name}: cannot {name}: {_message(e)}")
        except MemoryError:
            _stop(f"cobic {name}: ran out of memory; nothing was written. Lower --paths.")
        except KeyboardInterrupt:
            _stop(f"cobic {name}: interrupted; nothing was written.", 130)
        except Exception as e:
            if _STATE["debug"]:
                raise
            _stop(f"cobic {name}: unexpected error ({type(e).__name__}: {_message(e)}); no "
                  f"output was written. Run `cobic --debug {name} ...` to see the traceback.", 1)

    return run


def _input(path: Path | None, option: str, kind: str = "file") -> Path | None:
    """An input must exist and be a file (or a folder, or either)."""
    if path is None:
        return None
    if not path.exists():
        _stop(f"{option} {path}: no such {'file or folder' if kind == 'any' else kind}")
    if kind == "file" and not path.is_file():
        _stop(f"{option} {path}: is a folder, not a file")
    if kind == "folder" and not path.is_dir():
        _stop(f"{option} {path}: is a file, not a folder")
    return path


_PLAIN = {"year", "period", "origin", "horizon", "line"}


def _table(df: pl.DataFrame, title: str, kind: str | None = None) -> Table:
    """A terminal table. With ``kind`` (the kind of table: ``schedule``, ``summary``,
    ``forecast``...), columns, codes and values are written for people by the one vocabulary
    (:func:`cobic.report.vocabulary.display`: plain names, GBP m, %, whole children)."""
    from cobic.report.vocabulary import display, kinds

    right = {c: df[c].dtype.is_numeric() for c in df.columns}
    if kind is not None:
        value_kinds = kinds(df, kind)
        df = display(df, kind)
        right = {new: value_kinds[old] != "text" for new, old in zip(df.columns, value_kinds,
                                                                     strict=True)}
    t = Table(title=title, title_justify="left")
    for c in df.columns:
        t.add_column(c, justify="right" if right[c] else "left")
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
    formats = data.date_formats
    if any(f != "dd/mm/YYYY" for f in formats):
        out.print(f"Dates read as {' and '.join(formats)} (ISO yyyy-mm-dd dates are accepted "
                  "beside DfE's dd/mm/YYYY).")
    for f in data.ignored_files:
        err.print(f"  note: ignored {f} (not a yearly SSDA903 file name)", highlight=False,
                  markup=False)
    summary = data.quality_summary().with_columns(
        pl.col("file").map_elements(lambda f: Path(f).name, return_dtype=pl.String))
    short = {"blank_lines": "blank", "date_formats": "dates"}
    out.print(_table(summary.rename({k: v for k, v in short.items() if k in summary.columns}),
        "Data quality: every row read is kept, merged (re-reported) or dropped"))
    changes = data.quality_report().group_by("table", "outcome", "change").agg(rows=pl.len())
    if changes.height:
        out.print(_table(changes.sort("table", "outcome"), "What was merged, dropped or changed"))
    out.print(_table(derive.flow_balance(data), "Children looked after (short breaks excluded, "
                                                 "as DfE): stock at 31 March, flows, child-days",
                     "flows"))
    out.print(_table(derive.stock_totals(data, "placement_group"),
                     f"Stock on {data.extract_end:%d/%m/%Y} by placement group", "stock"))
    out.print(_table(derive.stock_totals(data, "age_band"),
                     f"Stock on {data.extract_end:%d/%m/%Y} by age band", "stock"))


_FORCE_HELP = ("Also write when the output folder holds other files (they are left as they "
               "are). Files cobic did not write, and cobic outputs edited since, are never "
               "touched, even with --force.")
_TABLE_SUFFIXES = (".csv", ".parquet")


@app.command()
@_guarded
def validate(
    episodes: Annotated[Path | None, typer.Option(
        help="Folder of SSDA903 files (YYYY-header.csv, YYYY-episodes.csv) or one combined CSV.")] = None,
    panel: Annotated[Path | None, typer.Option(
        help="A DfE LA panel CSV (as la_cla_panel_2015_2025.csv).")] = None,
    report: Annotated[Path | None, typer.Option(
        help="Also write the data-quality report (CSV) here.")] = None,
    year_label: Annotated[str, typer.Option(
        help="How yearly files are named: ending (DfE), starting, or auto.")] = "auto",
    force: Annotated[bool, typer.Option(help=_FORCE_HELP)] = False,
) -> None:
    """Check a user's files and print the data-quality report.

    Exit status 0 when the data are usable, 2 when not (every problem is named).
    """
    if (episodes is None) == (panel is None):
        _stop("Give exactly one of --episodes DIR or --panel CSV.")
    _year_label(year_label)
    _input(episodes, "--episodes", "any")
    _input(panel, "--panel")
    target = (check_output_file(report, inputs=(episodes, panel), suffixes=(".csv",),
                                force=force, what="--report") if report is not None else None)
    warnings_ = []
    if episodes is not None:
        data = read_ssda903(episodes, year_label=year_label)
        _print_ssda903_summary(data)
        rep = data.quality_report().select("table", "file", "line", "outcome", "change", "detail")
        warnings_ = _header_conflicts(rep)
    else:
        rep = _print_panel_summary(read_panel(panel))
    if target is not None:
        write_file(target, lambda p: rep.write_csv(p), "validate")
        out.print(f"Data-quality report written to {report}")
    for w in warnings_:
        out.print(f"[yellow]warning:[/] {w}", highlight=False)
    out.print(f"[green]Usable[/], with {len(warnings_)} warning(s) above: check them before "
              "relying on ages." if warnings_ else "[green]Usable.[/]")


def _header_conflicts(rep: pl.DataFrame) -> list[str]:
    """One warning per child whose DOB or SEX differs between returns (the latest is used,
    which moves the child's age and age band)."""
    rows = rep.filter((pl.col("table") == "header") & (pl.col("change") == "header-conflict"))
    shown = [f"{Path(f).name} line {ln}: {d}" for f, ln, d in
             rows.select("file", "line", "detail").head(10).iter_rows()]
    if rows.height > 10:
        shown.append(f"... and {rows.height - 10} more children (see --report)")
    return shown


def _year_label(value: str) -> None:
    if value not in ("auto", "ending", "starting"):
        _stop(f"--year-label must be one of auto, ending, starting; got {value!r}")


def _print_panel_summary(p) -> pl.DataFrame:
    """Print what was read from a DfE panel; return its data-quality report."""
    lv = p.table.group_by("area_level").agg(areas=pl.col("area").n_unique())
    out.print(f"[bold]{Path(p.source).name}[/]: {p.table.height:,} rows, years "
              f"{p.table['year'].min()}-{p.table['year'].max()}; "
              + ", ".join(f"{r[1]} {r[0]} areas" for r in lv.sort("area_level").rows()))
    out.print(_table(p.markers.group_by("marker", "meaning", "column").agg(rows=pl.len())
                     .sort("marker", "column"), "Markers replaced by nulls"))
    out.print(_table(p.reorganisations, "Series that start or stop (reorganisations)"))
    warnings = list(p.warnings)
    for w in warnings[:50]:
        err.print(f"  warning: {w}", highlight=False, markup=False)
    if len(warnings) > 50:
        err.print(f"  ... and {len(warnings) - 50} more warnings")
    return p.markers.select(
        pl.lit("panel").alias("table"), pl.lit(p.source).alias("file"), "line",
        pl.lit("kept").alias("outcome"), pl.lit("marker").alias("change"),
        (pl.col("column") + pl.lit(": ") + pl.col("marker") + pl.lit(" = ")
         + pl.col("meaning")).alias("detail"))


@app.command()
@_guarded
def synth(
    out_dir: Annotated[Path, typer.Option("--out", help="Folder to write the yearly files to.")],
    scenario_name: Annotated[str, typer.Option(
        "--scenario", help=f"One of {', '.join(SCENARIOS)}.")] = "steady",
    seed: Annotated[int, typer.Option(help="Random seed.")] = FIXTURE_SEED,
    population: Annotated[float, typer.Option(
        help="Children aged 0-17 in the first year (1,000 to 2,000,000).")] = 60_000,
    first_year: Annotated[int, typer.Option(
        help="First collection year (ending 31 March), 2000-2090.")] = 2016,
    years: Annotated[int, typer.Option(help="Number of collection years (2-30).")] = 10,
    force: Annotated[bool, typer.Option(help=_FORCE_HELP)] = False,
) -> None:
    """Write synthetic SSDA903 returns for a synthetic LA, with its truth (truth.csv)."""
    if scenario_name not in SCENARIOS:
        _stop(f"--scenario must be one of {', '.join(SCENARIOS)}; got {scenario_name!r}")
    if not (math.isfinite(population) and 1_000 <= population <= 2_000_000):
        _stop(f"--population must be a number of children from 1,000 to 2,000,000; got "
              f"{population!r}")
    if not 2 <= years <= 30 or not 2000 <= first_year <= 2090:
        _stop(f"--years must be 2-30 and --first-year 2000-2090; got {years}, {first_year}")
    if seed < 0:
        _stop(f"--seed must not be negative; got {seed}")
    target = check_output_folder(out_dir, force=force)
    spec = scenario(scenario_name, seed=seed, population_0_17=population, first_year=first_year,
                    n_years=years)
    la = generate(spec)
    with output_folder(target, "synth") as tmp:
        write_ssda903(la, tmp)
        la.truth.sort("measure", "year", "placement_group").write_csv(tmp / "truth.csv",
                                                                       line_terminator="\n")
        la.population.write_csv(tmp / "population.csv", line_terminator="\n")
        spec_d = {k: v for k, v in dataclasses.asdict(spec).items() if k != "placement_mix"}
        (tmp / "spec.json").write_text(json.dumps(spec_d, indent=1, sort_keys=True) + "\n")
    n_eps = la.episodes.height
    out.print(f"Wrote {years} years of SSDA903 returns for {spec.name} to {out_dir} "
              f"({la.children.height:,} children, {n_eps:,} episodes), with truth.csv.")


def _write_rates(data, model: str, origin: int | None, pop, window: float | None,
                 target) -> None:
    """The fitted rates of a child-level model, as one table (.csv/.parquet, a ``table``
    column naming each part) or a workbook (one sheet each, rates per 1,000 a year)."""
    from cobic.demand.api import fit_episodes
    from cobic.report.workbook import write_workbook

    # an infinite prior weight (no excess variation: every cell at the pooled rate) is blank
    rates = {name: df.with_columns(pl.when(pl.col(pl.Float64).is_finite())
                                   .then(pl.col(pl.Float64)))
             for name, df in fit_episodes(data, model, origin, pop, window).rates().items()}
    if target.path.suffix.lower() == ".xlsx":
        per_1000 = {name: df.with_columns(
            (pl.col(c) * 1000).alias(c.replace("_per_year", "_per_1000_a_year"))
            for c in df.columns if c.endswith("_per_year")).drop(
            [c for c in df.columns if c.endswith("_per_year")])
            for name, df in rates.items()}
        write_file(target, lambda p: write_workbook(p, per_1000, [
            ("What", "stockflow's fitted rates: events over exposure in the fit window, the "
                     "rate pooled towards, and the fitted (pooled) rate"),
            ("Units", "rates per 1,000 child-years in care (exits, moves) or per 1,000 of the "
                      "0-17 population a year (entries; per year without a population)")]),
            "forecast")
    else:
        table = pl.concat([df.with_columns(table=pl.lit(name)) for name, df in rates.items()],
                          how="diagonal_relaxed")
        _write_table(table.select("table", pl.exclude("table")), target, "forecast")
    out.print(f"Fitted rates written to {target.path}")


def _write_table(df: pl.DataFrame, target, command: str) -> None:
    """CSV or Parquet by extension, through the one writer."""
    csv = target.path.suffix.lower() == ".csv"
    write_file(target, lambda p: df.write_csv(p) if csv else df.write_parquet(p), command)


def _range(text: str, option: str, lo: int, hi: int, most: int) -> tuple[int, ...]:
    """'2018-2022' or '1,2,3' or '3' -> a tuple of ints, each within lo..hi."""
    try:
        if "-" in text.strip().lstrip("-"):
            a, b = text.split("-", 1)
            out = tuple(range(int(a), int(b) + 1))
        else:
            out = tuple(sorted({int(x) for x in text.split(",")}))
    except ValueError:
        out = ()
    if not out:
        _stop(f"{option}: expected a range such as 2018-2022 or a list such as 1,2,3; got "
              f"{text!r}")
    if out[0] < lo or out[-1] > hi or len(out) > most:
        _stop(f"{option}: values must lie in {lo}-{hi}, at most {most} of them; got {text!r}")
    return out


def _population(path: Path | None) -> pl.DataFrame | None:
    from cobic.data.population import read_population_csv

    return None if path is None else read_population_csv(path)


def _ons_population(area: str | None, years: tuple[int, ...] = ()) -> pl.DataFrame | None:
    """The ONS 0-17 population of ``area`` from the shared reference data, said so; None
    (silently) when there is no such LA or no ONS file, and None (saying why) when it does
    not cover the collection ``years``."""
    from cobic.data.population import default_ons_file, ons_population

    if not area:
        return None
    pop = ons_population(area)
    missing = sorted(set(years) - set(pop["year"].to_list())) if pop is not None else []
    if missing:
        err.print(f"Population: the ONS estimates for {area} do not cover collection years "
                  f"{missing[:5]}; entry rates are modelled without a population.")
        return None
    if pop is not None:
        err.print(f"Population: ONS mid-year estimates of children aged 0-17 for {area} "
                  f"({default_ons_file().name}, {pop['year'].min() - 1}-{pop['year'].max() - 1}); "
                  "give --population to use your own.")
    return pop


def _seed(seed: int) -> None:
    if seed < 0 or seed >= 2 ** 63:
        _stop(f"--seed must be a whole number from 0 to 2**63 - 1; got {seed}")


def _label(area: str | None) -> str | None:
    """A user's label for outputs: plain text, never a spreadsheet formula."""
    if area is not None and (not area.strip() or area.strip()[0] in "=+-@" or len(area) > 100):
        _stop(f"--area {area!r}: give the LA's name (plain text up to 100 characters, not "
              "starting with = + - or @)")
    return area


def _budget(gib: float) -> float:
    if not (math.isfinite(gib) and 0 < gib <= 1024):
        _stop(f"--memory-budget must be a number of GiB above 0 (at most 1024); got {gib!r}")
    return gib * 1024 ** 3


_MEMORY_HELP = "Refuse runs estimated to need more memory than this (GiB)."


@app.command()
@_guarded
def forecast(
    out_file: Annotated[Path, typer.Option("--out", help="Forecast table (.csv or .parquet).")],
    episodes: Annotated[Path | None, typer.Option(help="SSDA903 folder or combined CSV.")] = None,
    panel: Annotated[Path | None, typer.Option(help="DfE LA panel CSV.")] = None,
    area: Annotated[str | None, typer.Option(
        help="With --panel: the area to forecast. With --episodes: the LA's name for the "
        "outputs (default: the folder's name).")] = None,
    model: Annotated[str | None, typer.Option(
        help="stockflow (default for --episodes), auto (default for --panel: picks among the "
        "others by a backtest inside the history), panel, naive, drift, flowbalance, ets, "
        "rate.")] = None,
    origin: Annotated[int | None, typer.Option(
        help="Last year of history (default: the latest).")] = None,
    horizon: Annotated[int, typer.Option(help=f"Years ahead (1-{LIMITS.max_horizon}).")] = 5,
    paths: Annotated[int, typer.Option(
        "--paths", help=f"Simulated paths (1-{LIMITS.max_paths:,}).")] = 1000,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 1,
    scenario: Annotated[list[str] | None, typer.Option(
        help="NAME=VALUE, repeatable: entry_step=+20%@2027, entry_trend=+3%, prevention=10%@2028,"
        " stay=+10%, mix=residential>fostering:25%, uasc=30.")] = None,
    window: Annotated[float | None, typer.Option(
        help="With --episodes: stockflow's reference period in years (e.g. 0.5, 1, 3): fit "
        "entries, exits and moves on only the last WINDOW years before the origin (default: "
        "exits and moves on 3 years, entries on all).")] = None,
    scenario_file: Annotated[Path | None, typer.Option(
        "--scenario-file", help="A saved what-if settings file (the what-if notebook's "
        "'Save these settings'): its demand levers are the scenario.")] = None,
    population: Annotated[Path | None, typer.Option(
        help="With --episodes: CSV of year, population (0-17) for entry rates per 10,000.")] = None,
    rates_out: Annotated[Path | None, typer.Option(
        "--rates-out", help="With --episodes (stockflow): also write the fitted rates (entries "
        "by age band; exits and moves by placement group x age band x time in care, with events, "
        "exposure and the pooled rate) here: .csv, .parquet or .xlsx.")] = None,
    paths_out: Annotated[Path | None, typer.Option(
        help="Also write the paths (every measure: stock, child_days, entries, exits, moves, "
        "days_by_duration) here; cobic price reads it.")] = None,
    memory_budget: Annotated[float, typer.Option(help=_MEMORY_HELP)] = 4.0,
    force: Annotated[bool, typer.Option(help=_FORCE_HELP)] = False,
) -> None:
    """Forecast children looked after (stock on 31 March) as distributions, with scenarios."""
    from cobic.codes import default_codes
    from cobic.demand.api import (
        DEFAULT_SERIES_MODEL,
        area_label,
        estimate_forecast_bytes,
        forecast_episodes,
        forecast_panel,
    )
    from cobic.demand.scenarios import parse_scenarios

    if (episodes is None) == (panel is None):
        _stop("Give exactly one of --episodes DIR or --panel CSV (with --area NAME).")
    if panel is not None and area is None:
        _stop("--panel needs --area NAME (an area in the panel).")
    check_request(paths, horizon)
    _seed(seed)
    budget = _budget(memory_budget)
    if scenario_file is not None and scenario:
        _stop("Give --scenario or --scenario-file, not both.")
    inputs = (_input(episodes, "--episodes", "any"), _input(panel, "--panel"),
              _input(population, "--population"), _input(scenario_file, "--scenario-file"))
    if scenario_file is not None:
        from cobic.budget import load_levers

        sc = load_levers(scenario_file).scenario()
    else:
        sc = parse_scenarios(scenario or [], default_codes().group_names)
    target = check_output_file(out_file, inputs=inputs, suffixes=_TABLE_SUFFIXES, force=force,
                               what="--out")
    paths_target = (check_output_file(paths_out, inputs=inputs, suffixes=_TABLE_SUFFIXES,
                                      force=force, what="--paths-out")
                    if paths_out is not None else None)
    rates_target = (check_output_file(rates_out, inputs=inputs,
                                      suffixes=(*_TABLE_SUFFIXES, ".xlsx"), force=force,
                                      what="--rates-out")
                    if rates_out is not None else None)
    check_distinct(target, paths_target, rates_target)
    if rates_target is not None and episodes is None:
        _stop("--rates-out goes with --episodes (stockflow's fitted rates)")
    if episodes is not None:
        data = read_ssda903(episodes)
        pop = (_population(population) if population is not None else
               _ons_population(_label(area) or area_label(data.source), data.collection_years))
        check_memory(estimate_forecast_bytes(data, model or "stockflow", paths, horizon, sc),
                     budget, "this forecast")
        result = forecast_episodes(data, model or "stockflow", origin, horizon, paths, seed, sc,
                                   pop, area=_label(area), window_years=window)
        if rates_target is not None:
            _write_rates(data, model or "stockflow", origin, pop, window, rates_target)
    else:
        pn = read_panel(panel)
        check_memory(estimate_forecast_bytes(pn, model or DEFAULT_SERIES_MODEL, paths, horizon,
                                             sc), budget, "this forecast")
        if window is not None:
            _stop("--window is stockflow's reference period: it goes with --episodes")
        result = forecast_panel(pn, area, model or DEFAULT_SERIES_MODEL, origin, horizon, paths,
                                seed, sc)
    table = result.forecast_table()
    _write_table(table, target, "forecast")
    if paths_target is not None:
        _write_table(result.measures_table(), paths_target, "forecast")
    head = table.filter((pl.col("placement_group") == "all") & (pl.col("age_band") == "all"))
    from cobic.report.vocabulary import value_label

    out.print(_table(head.select("period", "mean", "q10", "q50", "q90"),
                     f"Children looked after on 31 March: {head['area'][0]}, "
                     f"{value_label(head['model'][0], 'model')} ({result.scenario})",
                     "forecast"))
    out.print(f"Forecast table written to {out_file}"
              + (f"; paths to {paths_out}" if paths_out else ""))


@app.command()
@_guarded
def backtest(
    out_file: Annotated[Path, typer.Option("--out", help="Backtest table (.csv or .parquet).")],
    panel: Annotated[Path | None, typer.Option(help="DfE LA panel CSV.")] = None,
    episodes: Annotated[Path | None, typer.Option(help="An LA's SSDA903 returns.")] = None,
    models: Annotated[str | None, typer.Option(
        help="Comma-separated models (default: all that fit the input).")] = None,
    origins: Annotated[str | None, typer.Option(
        help="Origins, e.g. 2018-2022 (default 2018-2022; with --spend 2018-2020).")] = None,
    horizons: Annotated[str | None, typer.Option(
        help=f"Horizons, e.g. 1-3 (each 1-{LIMITS.max_horizon}; default 1-3, with --spend "
        "1-5).")] = None,
    paths: Annotated[int, typer.Option(
        "--paths", help=f"Simulated paths (1-{LIMITS.max_paths:,}).")] = 1000,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
    by_area: Annotated[Path | None, typer.Option(
        help="Also write metrics per area here (with --spend: one row per area, origin and "
        "year with the outturn and the forecast quantiles).")] = None,
    window: Annotated[float | None, typer.Option(
        help="With --episodes: stockflow's reference period in years (e.g. 0.5, 1, 3): fit "
        "entries, exits and moves on only the last WINDOW years before the origin (default: "
        "exits and moves on 3 years, entries on 6).")] = None,
    population: Annotated[Path | None, typer.Option(
        help="With --episodes: CSV of year, population (0-17); enables the rate model.")] = None,
    gate: Annotated[str | None, typer.Option(
        help="MODEL:BASELINE - exit 1 if MODEL is worse than BASELINE in MAPE or 80% interval "
        "score at any horizon, or its 80% coverage is outside 75-85%.")] = None,
    memory_budget: Annotated[float, typer.Option(help=_MEMORY_HELP)] = 4.0,
    force: Annotated[bool, typer.Option(help=_FORCE_HELP)] = False,
    spend: Annotated[bool, typer.Option(
        "--spend", help="Backtest spend, not children: capitation-style spend forecasts "
        "(panel demand x calibrated, growing cost per child-day) against s251 outturns "
        "(needs --panel and --s251; origins and horizons default to 2018-2020 and 1-5, "
        "financial years named by their ending year).")] = False,
    s251: Annotated[Path | None, typer.Option(
        "--s251", help="With --spend: the s251 outturn table (area, measure, year, Values).")
    ] = None,
    areas: Annotated[str | None, typer.Option(
        help="With --spend: comma-separated areas (default: every area of the s251 table).")
    ] = None,
) -> None:
    """Rolling-origin backtest: MAE, MAPE, MASE, interval coverage and score by horizon."""
    from rich.progress import Progress

    if spend or s251 is not None:
        return _backtest_spend(out_file, panel, s251, origins, horizons, paths, seed, by_area,
                               areas, force, episodes is not None or models is not None)

    from cobic.demand.api import (
        accuracy_gate,
        backtest_episodes,
        backtest_panel,
        estimate_forecast_bytes,
    )

    if (episodes is None) == (panel is None):
        _stop("Give exactly one of --panel CSV or --episodes DIR.")
    from cobic.demand.api import area_label
    from cobic.demand.base import capabilities

    auto_pop = (_ons_population(area_label(episodes))
                if episodes is not None and population is None and episodes.exists() else None)
    chosen, gate_pair = _backtest_models(models, gate, panel is not None,
                                         population is not None or auto_pop is not None)
    # with --episodes and no --origins: every collection year with 3 years of returns up to it
    # and a later one to score (worked out once the returns are read)
    scheme = _scheme(origins or ("2018-2022" if panel is not None else "2000"),
                     horizons or "1-3")
    check_request(paths, max(scheme.horizons))
    _seed(seed)
    budget = _budget(memory_budget)
    inputs = (_input(episodes, "--episodes", "any"), _input(panel, "--panel"),
              _input(population, "--population"))
    target = check_output_file(out_file, inputs=inputs, suffixes=_TABLE_SUFFIXES, force=force)
    area_target = (check_output_file(by_area, inputs=inputs, suffixes=_TABLE_SUFFIXES,
                                     force=force, what="--by-area")
                   if by_area is not None else None)
    check_distinct(target, area_target)
    source = read_panel(panel) if panel is not None else read_ssda903(episodes)
    if auto_pop is not None and set(source.collection_years) - set(auto_pop["year"].to_list()):
        err.print("Population: the ONS estimates do not cover every collection year; entry "
                  "rates are modelled without a population.")
        auto_pop = None
        chosen = [m for m in chosen if not capabilities(m).needs_population]
    pop = _population(population) if population is not None else auto_pop
    if panel is None and origins is None:
        scheme = _episode_scheme(source.collection_years, scheme.horizons)
    for m in chosen:
        check_memory(estimate_forecast_bytes(source, m, paths, max(scheme.horizons), None),
                     budget, f"this backtest ({m})")
    with Progress(console=err, transient=True) as bar:
        task = bar.add_task("backtest", total=len(chosen) * len(scheme.origins))

        def tick(label: str) -> None:
            bar.update(task, advance=1, description=f"backtest: {label}")

        if panel is not None:
            if window is not None:
                _stop("--window is stockflow's reference period: it goes with --episodes")
            res = backtest_panel(source, chosen, scheme, paths, seed, tick)
        else:
            res = backtest_episodes(source, chosen, scheme, paths, seed, population=pop,
                                    progress=tick, window_years=window)
    metrics = res.metrics()
    _write_table(metrics, target, "backtest")
    if area_target is not None:
        _write_table(res.by_area(), area_target, "backtest")
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


def _episode_scheme(years: tuple[int, ...], horizons: tuple[int, ...]):
    """Default origins for an LA's own returns: each year with at least 3 years of returns up
    to it and at least one later year to score."""
    from cobic.demand.backtest import EvaluationScheme

    origins = tuple(y for y in years[2:-1])
    if not origins:
        _stop(f"the returns cover {len(years)} collection year(s) ({years[0]}-{years[-1]}); a "
              "backtest needs at least 4 (3 to fit on, 1 to score)")
    return EvaluationScheme(origins[-LIMITS.max_origins:], horizons)


def _scheme(origins: str, horizons: str):
    from cobic.demand.backtest import EvaluationScheme

    return EvaluationScheme(
        _range(origins, "--origins", 1990, 2100, LIMITS.max_origins),
        _range(horizons, "--horizons", 1, LIMITS.max_horizon, LIMITS.max_horizon))


def _backtest_spend(out_file: Path, panel: Path | None, s251: Path | None, origins, horizons,
                    paths: int, seed: int, by_area: Path | None, areas: str | None,
                    force: bool, other_inputs: bool) -> None:
    """``cobic backtest --spend``: spend forecasts against s251 outturns, with baselines."""
    from rich.progress import Progress

    from cobic.data.dfe import read_finance
    from cobic.spend import SPEND_MODELS, backtest_spend, error_sources

    if panel is None or s251 is None or other_inputs:
        _stop("--spend needs --panel CSV and --s251 CSV (and takes no --episodes or --models)")
    scheme = _scheme(origins or "2018-2020", horizons or "1-5")
    check_request(paths, max(scheme.horizons))
    inputs = (_input(panel, "--panel"), _input(s251, "--s251"))
    target = check_output_file(out_file, inputs=inputs, suffixes=_TABLE_SUFFIXES, force=force)
    area_target = (check_output_file(by_area, inputs=inputs, suffixes=_TABLE_SUFFIXES,
                                     force=force, what="--by-area")
                   if by_area is not None else None)
    check_distinct(target, area_target)
    chosen = [a.strip() for a in areas.split(",")] if areas else None
    pn, fin = read_panel(panel), read_finance(s251)
    with Progress(console=err, transient=True) as bar:
        task = bar.add_task("spend backtest", total=len(SPEND_MODELS) * len(scheme.origins))
        res = backtest_spend(pn, fin, scheme, chosen, n_paths=paths, seed=seed,
                             source=str(s251), progress=lambda label: bar.update(
                                 task, advance=1, description=f"spend backtest: {label}"))
    metrics = res.metrics().select("model", "horizon", "n", "mape", "bias", "coverage_50",
                                   "coverage_80", "coverage_95", "interval_score_80")
    _write_table(metrics, target, "backtest")
    if area_target is not None:
        cases = res.cases.filter(pl.col("model") == "cobic").select(
            "area", "origin", "year", "horizon", "actual", "q05", "q10", "q50", "q90", "q95")
        _write_table(cases, area_target, "backtest")
    shown = metrics.with_columns(pl.col("interval_score_80") / 1e6).with_columns(
        pl.col(c).round(3) for c in metrics.columns if metrics[c].dtype == pl.Float64)
    out.print(_table(shown.rename({"interval_score_80": "interval_score_80 (GBP m)"}),
                     "Spend backtest: forecasts of s251 TotalLACFinance (MAPE and bias in %)"))
    out.print(_table(error_sources(res).with_columns(pl.col(pl.Float64).round(3)),
                     "Where the error comes from: demand or unit cost"))
    out.print("cobic = panel demand x calibrated cost per child-day x fitted growth; default = "
              "England unit cost, fixed uplift, 2% efficiency, case management and overheads; "
              "cpi2 = last outturn x 2% a year; trend3 = last outturn x trailing 3-year growth; "
              "demand_only / cost_only = cobic with the outturn unit cost / demand.")
    out.print(f"Backtest table written to {out_file}")


def _backtest_models(models: str | None, gate: str | None, panel: bool,
                     population: bool) -> tuple[list[str], tuple[str, str] | None]:
    from cobic.demand.base import capabilities, models_with

    if panel:
        default = list(models_with(published_tables=True))
    else:  # one LA: no pooling across areas; a model that needs a population needs one
        default = [m for m in models_with(episodes=True, pooled=False)
                   if population or not capabilities(m).needs_population]
    chosen = list(dict.fromkeys(m.strip() for m in models.split(","))) if models else default
    unknown = [m for m in chosen if m not in default]
    if unknown or not chosen:
        _stop(f"--models: {unknown or models!r} not available for this input (choose from "
              f"{', '.join(default)})")
    gate_pair = None
    if gate:
        pair = tuple(x.strip() for x in gate.split(":", 1))
        if len(pair) != 2 or any(x not in default for x in pair):
            _stop(f"--gate: expected MODEL:BASELINE with models from {', '.join(default)}; got "
                  f"{gate!r}")
        gate_pair = pair
        chosen += [m for m in gate_pair if m not in chosen]
    return chosen, gate_pair


_PATHS_COLUMNS = {"path": pl.Int64, "period": pl.Int64, "placement_group": pl.String,
                  "value": pl.Float64}


def _read_paths(path: Path) -> pl.DataFrame:
    """A paths table (``cobic forecast --paths-out``) with its types and values checked."""
    label = str(path)
    try:
        df = pl.read_parquet(path) if path.suffix.lower() == ".parquet" else pl.read_csv(
            path, infer_schema=False)
    except (pl.exceptions.PolarsError, OSError) as e:
        raise DataError([Problem(label, "unreadable", f"not readable as a paths table ({e})")]
                        ) from None
    missing = [c for c in _PATHS_COLUMNS if c not in df.columns]
    if missing:
        raise DataError([Problem(label, "missing-column", "required column of a paths table "
                                 "(written by cobic forecast --paths-out) is missing", column=c)
                         for c in missing])
    first_line = 2 if path.suffix.lower() != ".parquet" else 1
    problems = []
    for col, dtype in _PATHS_COLUMNS.items():
        cast = df[col].cast(pl.String).cast(dtype, strict=False)
        bad = cast.is_null() & df[col].is_not_null() | df[col].is_null()
        if dtype == pl.Float64:
            bad = bad | ~cast.is_finite().fill_null(False) | (cast < 0).fill_null(False)
        if dtype == pl.Int64 and col == "path":
            bad = bad | (cast < 0).fill_null(False)
        for i in bad.arg_true().head(20).to_list():
            problems.append(Problem(label, "paths-value", "must be a finite number, not "
                                    "negative" if dtype == pl.Float64 else
                                    f"must be {'a whole number' if dtype == pl.Int64 else 'given'}",
                                    row=i + first_line, column=col,
                                    value=None if df[col][i] is None else str(df[col][i])))
        df = df.with_columns(cast.alias(col))
    if problems:
        raise DataError(problems)
    key = ["path", "period", "placement_group", *(["measure"] if "measure" in df.columns else [])]
    dupes = df.with_row_index("_i").filter(pl.struct(key).is_duplicated())
    if dupes.height:
        r = dupes.row(0, named=True)
        raise DataError([Problem(label, "paths-duplicate", f"{dupes.height:,} rows repeat a "
                                 f"({', '.join(key)}) of another row: each path, year and "
                                 "group has one value per measure (was the measure column "
                                 "dropped?)", row=r["_i"] + first_line, column=key[-1])])
    big = df.filter(pl.col("value") > 1e9)
    if big.height:
        raise DataError([Problem(label, "paths-value", "is implausibly large for one LA "
                                 "(above 1,000,000,000)", column="value",
                                 value=str(big["value"][0]))])
    n_paths = df["path"].n_unique()
    if n_paths > LIMITS.max_paths:
        raise DataError([Problem(label, "too-many-paths", f"holds {n_paths:,} paths; at most "
                                 f"{LIMITS.max_paths:,} are priced", column="path")])
    return df


@app.command()
@_guarded
def price(
    contract: Annotated[Path, typer.Option(help="Contract terms TOML (models/contracts/).")],
    out_dir: Annotated[Path, typer.Option("--out", help="Folder for the tables and workbook.")],
    forecast_file: Annotated[Path | None, typer.Option(
        "--forecast", help="Paths file from cobic forecast --paths-out (.csv or .parquet).")
    ] = None,
    costs: Annotated[Path | None, typer.Option(help="Cost set TOML (models/costs/).")] = None,
    growth: Annotated[Path | None, typer.Option(
        help="With --costs: a fitted cost growth (cobic costs --growth-out, or the shipped "
        "models/costs/growth_england_2024_25.toml) replacing the cost set's fixed uplifts "
        "and efficiency.")] = None,
    area: Annotated[str | None, typer.Option(
        help="Instead of --forecast and --costs: an area of the panel and the s251 table, "
        "forecast with the panel model and priced at its own calibrated, growing costs.")
    ] = None,
    panel: Annotated[Path | None, typer.Option(help="With --area: the DfE LA panel CSV.")] = None,
    s251: Annotated[Path | None, typer.Option(
        "--s251", help="With --area: the s251 outturn table.")] = None,
    paths: Annotated[int, typer.Option(
        "--paths", help="With --area (or areas in --lot): simulated demand paths.")] = 1000,
    lot: Annotated[Path | None, typer.Option(
        help="Instead of --forecast and --costs: a lot file (TOML) listing the LAs of a "
        "regional or consortium contract, each with its own paths and cost set (or an area "
        "of a panel and s251 table), optionally the placement groups of the lot (e.g. "
        "residential only) and each LA's share of the outlay.")] = None,
    seed: Annotated[int, typer.Option(help="Random seed for costs and indicators.")] = 0,
    force: Annotated[bool, typer.Option(help=_FORCE_HELP)] = False,
) -> None:
    """Price a contract on forecast paths: per year and per path, summaries, mechanisms."""
    from cobic.contract import apply_terms, compare_mechanisms, load_contract
    from cobic.contract.calculator import simulate_contract_costs

    _seed(seed)
    if lot is not None:
        if any(v is not None for v in (forecast_file, costs, growth, area, panel, s251)):
            _stop("--lot names every LA's paths and costs itself: give it without --forecast, "
                  "--costs, --growth, --area, --panel or --s251")
        _price_lot(lot, contract, out_dir, paths, seed, force)
        return
    by_area = area is not None or panel is not None or s251 is not None
    if growth is not None and (by_area or costs is None):
        _stop("--growth goes with --costs (with --area the calibrated costs grow as fitted)")
    if by_area == (forecast_file is not None or costs is not None):
        _stop("Give either --forecast PATHS and --costs TOML, or --area NAME with --panel CSV "
              "and --s251 CSV.")
    if by_area:
        if area is None or panel is None or s251 is None:
            _stop("--area needs --panel CSV and --s251 CSV")
        check_request(paths, 1)
        inputs = (_input(panel, "--panel"), _input(s251, "--s251"),
                  _input(contract, "--contract"))
    else:
        if forecast_file is None or costs is None:
            _stop("--forecast needs --costs (or give --area with --panel and --s251)")
        inputs = (_input(forecast_file, "--forecast"), _input(contract, "--contract"),
                  _input(costs, "--costs"))
        if growth is not None:
            inputs += (_input(growth, "--growth"),)
    target = check_output_folder(out_dir, inputs=inputs, force=force, writes=PRICE_OUTPUTS)
    terms = load_contract(contract)
    if by_area:
        demand, spec, source = _area_demand_and_costs(area, panel, s251, terms, paths, seed)
    else:
        demand, spec = _paths_and_costs(forecast_file, costs, growth)
        source = forecast_file
    sim = simulate_contract_costs(demand, spec, terms, seed)
    priced = apply_terms(sim, terms, spec)
    _write_priced(target, priced, compare_mechanisms(sim, priced, multi_year=True), terms,
                  _costs_line(spec), source, spec=spec)


def _costs_line(spec) -> str:
    return f"{spec.name} ({spec.source}), base price year {_fy_text(spec.base_price_year)}"


def _lot_costs(lot_file: Path, terms, n_paths: int, seed: int):
    """The lot file read, every member's demand and costs loaded, and the lot simulated."""
    from cobic.contract.lots import LotMember, load_lot, member_seed, simulate_lot_costs

    spec = load_lot(lot_file)
    for f in spec.files:
        _input(f, f"--lot ({lot_file.name})")
    if terms.method == "historic":
        _stop("--lot: the contract's capitation is a historic outturn, indexed by one cost "
              "set; a lot's capitation must come from its forecast (method forecast or "
              "zero_based)")
    members, rows = [], []
    for i, m in enumerate(spec.members):
        if m.area is not None:
            check_request(n_paths, 1)
            demand, cost_set, source = _area_demand_and_costs(
                m.area, spec.panel, spec.s251, terms, n_paths, member_seed(seed, i))
        else:
            demand, cost_set = _paths_and_costs(m.forecast, m.costs, m.growth)
            source = str(m.forecast)
        members.append(LotMember(m.name, demand, cost_set, m.share))
        rows.append(_member_row(m.name, source, cost_set))
    starts = {m.name: m.demand.years[0] for m in members}
    if len(set(starts.values())) > 1:
        out.print("[yellow]note:[/] the members' forecasts start in different years ("
                  + ", ".join(f"{k}: {_fy_text(v)}" for k, v in starts.items())
                  + "): they are lined up by financial year, so an older forecast is priced "
                  "as it stands; forecast every member from its latest return if you can")
    if n_paths != 1000 and not any(m.area for m in spec.members):
        out.print(f"[yellow]note:[/] --paths {n_paths} applies only to members given by area; "
                  "the members' paths files set their own number of paths")
    try:
        return spec, simulate_lot_costs(members, terms, seed, spec.groups), pl.DataFrame(rows)
    except ValueError as e:
        _stop(f"--lot {lot_file}: {e}")


def _member_row(name: str, source: str, spec) -> dict:
    """What a lot member was priced on, for the workbook (each member's own cost set)."""
    from cobic.report.vocabulary import label, pounds

    weekly = "; ".join(f"{label(g)} {pounds(v)} a week" for g, v in spec.weekly.items())
    growth = (f"fitted growth ({spec.growth_area})" if spec.growth is not None else
              f"fixed uplift {spec.indexation.get('default', 0.0):.1%} a year, efficiency "
              f"{spec.efficiency:.1%}")
    return {"member": name, "demand": source, "cost_set": f"{spec.name} ({spec.source})",
            "base_price_year": _fy_text(spec.base_price_year),
            "weekly_costs": weekly, "cost_growth": growth,
            "case_management_per_child_month": spec.per_child_month,
            "overhead_rate": spec.overhead_rate}


def _fy_text(year: int) -> str:
    return f"{year - 1}-{year % 100:02d}"


def _price_lot(lot_file: Path, contract: Path, out_dir: Path, n_paths: int, seed: int,
               force: bool) -> None:
    """``cobic price --lot``: the contract priced on the lot's summed costs, with the funding
    by member and funder and the risk pooled."""
    from cobic.contract import apply_terms, compare_mechanisms, load_contract
    from cobic.contract.lots import load_lot

    lot_file = _input(lot_file, "--lot")
    files = load_lot(lot_file).files
    target = check_output_folder(out_dir, inputs=(lot_file, _input(contract, "--contract"),
                                                  *files), force=force, writes=LOT_OUTPUTS)
    terms = load_contract(contract)
    spec, lc, members = _lot_costs(lot_file, terms, n_paths, seed)
    priced = apply_terms(lc.combined, terms, None)
    groups = "all placement groups" if spec.groups is None else ", ".join(spec.groups)
    shares = "in the shares stated in the lot file" if lc.shares_stated else \
        "in proportion to each member's expected cost (fixed before the contract starts)"
    notes = [("Lot", f"{spec.name} ({lot_file}): {len(lc.names)} members "
                     f"({', '.join(lc.names)}); {groups}"),
             ("Funding", f"the outlay is split between the members {shares}, then between "
                         "the contract's funders")]
    extra = {"lot": lc.funding(priced), "pooling": lc.pooling(), "lot_members": members}
    _write_priced(target, priced, compare_mechanisms(lc.combined, priced, multi_year=True),
                  terms, "each member's own cost set (see lot)", f"the lot {spec.name}",
                  extra=extra, extra_notes=notes)
    fund = extra["lot"].select("member", "funder", (pl.col("share_of_outlay")).round(3)
                               .alias("share"),
                               (pl.col("expected_outlay") / 1e6).round(2).alias("outlay mean"),
                               (pl.col("outlay_p90") / 1e6).round(2).alias("outlay P90"),
                               (pl.col("expected_own_cost") / 1e6).round(2)
                               .alias("own children's cost"))
    out.print(_table(fund, f"{spec.name}: who pays what over the contract (GBP m)"))
    saved = extra["pooling"]["p90_minus_mean"][-1]
    if len(lc.names) == 1:
        return
    if saved >= 0:
        out.print(f"Pooling the members' risk lowers the margin from the mean to the P90 cost "
                  f"by GBP {saved / 1e6:,.2f}m against the sum of the members' own margins.")
    else:
        out.print(f"Pooling does not lower the risk here: the lot's margin from the mean to "
                  f"the P90 cost is GBP {-saved / 1e6:,.2f}m above the sum of the members' own "
                  "margins (their costs move together, e.g. through the market-wide cost "
                  "growth they share).")


@app.command()
@_guarded
def design(
    contract: Annotated[Path, typer.Option(help="The starting contract terms TOML.")],
    out_file: Annotated[Path, typer.Option(
        "--out", help="The designed contract (TOML, which cobic price accepts).")],
    forecast_file: Annotated[Path | None, typer.Option(
        "--forecast", help="Paths file from cobic forecast --paths-out (.csv or .parquet).")
    ] = None,
    costs: Annotated[Path | None, typer.Option(help="Cost set TOML (models/costs/).")] = None,
    lot: Annotated[Path | None, typer.Option(
        help="Instead of --forecast and --costs: a lot file (as for cobic price --lot).")
    ] = None,
    paths: Annotated[int, typer.Option(
        "--paths", help="With areas in --lot: simulated demand paths.")] = 1000,
    target: Annotated[list[str] | None, typer.Option(
        "--target", help="MEASURE<=VALUE or MEASURE>=VALUE, repeatable, e.g. "
        "provider_loss_prob<=0.3, commissioner_p90<=520e6, provider_margin_mean>=0, "
        "reserve_breach_prob<=0.1.")] = None,
    growth: Annotated[Path | None, typer.Option(
        help="A fitted cost growth replacing the cost set's fixed uplifts (as for price).")
    ] = None,
    frontier: Annotated[Path | None, typer.Option(
        help="Also write every candidate tried (outlay against provider P(loss), Pareto "
        "flagged) here: .csv or .parquet.")] = None,
    objective: Annotated[str, typer.Option(
        help="What to make as good as possible among terms meeting every target.")
    ] = "commissioner_mean",
    seed: Annotated[int, typer.Option(help="Random seed for costs and indicators.")] = 0,
    force: Annotated[bool, typer.Option(help=_FORCE_HELP)] = False,
) -> None:
    """Goal-seek contract terms (capitation point, at-risk share, band widths, caps) that meet
    every --target at the lowest expected commissioner outlay, or say (exit 2) which target
    cannot be met and the nearest values reached."""
    from cobic.contract import apply_terms, load_contract
    from cobic.contract.calculator import simulate_contract_costs
    from cobic.contract.design import design as seek
    from cobic.contract.design import parse_target, sustainability_warnings, terms_toml

    _seed(seed)
    if not target:
        _stop("give at least one --target, e.g. --target 'provider_loss_prob<=0.3'")
    targets = [parse_target(t) for t in target]
    if lot is not None:
        if any(v is not None for v in (forecast_file, costs, growth)):
            _stop("--lot names every LA's paths and costs itself: give it without --forecast, "
                  "--costs or --growth")
        from cobic.contract.lots import load_lot

        lot = _input(lot, "--lot")
        inputs = (lot, _input(contract, "--contract"), *load_lot(lot).files)
    else:
        if forecast_file is None or costs is None:
            _stop("give --forecast PATHS and --costs TOML, or --lot TOML")
        inputs = (_input(forecast_file, "--forecast"), _input(contract, "--contract"),
                  _input(costs, "--costs")) + ((_input(growth, "--growth"),) if growth else ())
    out_t = check_output_file(out_file, inputs=inputs, suffixes=(".toml",), force=force,
                              what="--out")
    fr_t = (check_output_file(frontier, inputs=inputs, suffixes=_TABLE_SUFFIXES, force=force,
                              what="--frontier") if frontier is not None else None)
    check_distinct(out_t, fr_t)
    terms = load_contract(contract)
    if lot is not None:
        sim, spec = _lot_costs(lot, terms, paths, seed)[1].combined, None
    else:
        demand, spec = _paths_and_costs(forecast_file, costs, growth)
        sim = simulate_contract_costs(demand, spec, terms, seed)
    with err.status(f"cobic design: searching terms on {sim.cost.shape[0]:,} paths"):
        res = seek(sim, terms, spec, targets, objective=objective)
    if fr_t is not None:
        _write_table(res.frontier, fr_t, "design")
    if not res.feasible:
        _stop("cobic design: no terms tried meet every target; --out was not written.\n  "
              + "\n  ".join(res.explain()))
    text = terms_toml(res.terms, comment="cobic design: " + "; ".join(map(str, targets)))
    write_file(out_t, lambda p: p.write_text(text, encoding="utf-8"), "design")
    for line in res.explain():
        out.print(line)
    for w in sustainability_warnings(apply_terms(sim, res.terms, spec), res.terms):
        out.print(f"[yellow]warning:[/] {w}")
    out.print(f"Designed contract written to {out_file}"
              + (f"; every candidate to {frontier}" if frontier else ""))


def _paths_and_costs(forecast_file: Path, costs: Path, growth: Path | None):
    """Demand from a paths file and the cost set, its fixed uplifts replaced by a fitted
    growth when one is given (price and design)."""
    from cobic.costs import DemandPaths, load_cost_spec, load_growth, with_growth

    spec = load_cost_spec(costs)
    if growth is not None:
        spec = with_growth(spec, *load_growth(growth))
    return DemandPaths.from_table(_read_paths(forecast_file), str(forecast_file)), spec


def _area_demand_and_costs(area: str, panel: Path, s251: Path, terms, n_paths: int, seed: int):
    """Panel-model demand paths for ``area`` to the contract's last year, and its cost set
    calibrated to its latest s251 outturn with the fitted growth model."""
    import tomllib

    from cobic.calibration import calibrate, cost_set_toml, fit_cost_growth, spend_history
    from cobic.codes import default_codes
    from cobic.costs import DemandPaths, parse_cost_spec
    from cobic.data.dfe import read_finance
    from cobic.demand.api import DEFAULT_SERIES_MODEL, forecast_panel

    pn = read_panel(panel)
    history = spend_history(read_finance(s251), pn, str(s251))
    cal = calibrate(history, area, None, str(s251))
    growth = fit_cost_growth(history, cal.year)
    spec = parse_cost_spec(tomllib.loads(cost_set_toml(cal, growth, default_codes().group_names)),
                           f"{area} calibrated to s251 {cal.year - 1}-{cal.year % 100:02d}")
    origin = int(pn.series(area).filter(pl.col("cla_31mar").is_not_null())["year"].max())
    horizon = terms.years[-1] - origin
    if terms.years[0] <= origin or horizon > LIMITS.max_horizon:
        _stop(f"the contract's years {terms.years[0]}-{terms.years[-1]} must start after the "
              f"panel's last year ({origin}) and end within {LIMITS.max_horizon} years of it")
    paths = forecast_panel(pn, area, DEFAULT_SERIES_MODEL, origin, horizon, n_paths, seed)
    k = terms.years[0] - origin - 1  # forecast years before the contract's first
    d = DemandPaths.from_stock(paths.periods, paths.values[0, :, :, 0])
    demand = dataclasses.replace(d, years=d.years[k:], child_days=d.child_days[:, k:],
                                 entries=d.entries[:, k:], exits=d.exits[:, k:],
                                 moves=d.moves[:, k:])
    out.print(f"{area}: {n_paths:,} demand paths from the panel model (origin {origin}); costs "
              f"calibrated to s251 {cal.year - 1}-{cal.year % 100:02d} (GBP "
              f"{cal.weekly_all_in:,.0f} a week all in), growth fitted on {growth.n_obs} "
              "area-years.")
    return demand, spec, f"the panel model for {area}"


def _terms_text(terms) -> str:
    """The terms as a complete contract TOML (the fingerprint cobic settle compares)."""
    from cobic.contract.design import terms_toml

    return terms_toml(terms)


def _check_priced_terms(priced_dir: Path, terms, contract: Path) -> None:
    """Refuse to settle under a contract other than the one the folder was priced with."""
    from cobic.contract import load_contract

    written = priced_dir / "terms.toml"
    if not written.is_file():
        _stop(f"--priced {priced_dir}: no terms.toml in it (priced by an older cobic?); price "
              "it again with cobic price so settlement can check it belongs to --contract")
    if _terms_text(load_contract(written)) != _terms_text(terms):
        _stop(f"--priced {priced_dir} was priced under other terms than --contract {contract} "
              f"(compare {written} with it): settle with the contract it was priced with, or "
              "price again")


# what cobic price writes in its --out folder (a lot adds its own three tables)
PRICE_OUTPUTS = ("schedule.csv", "summary.csv", "risk.csv", "mechanisms.csv", "by_path_year.csv",
                 "terms.toml", "contract.xlsx")
LOT_OUTPUTS = (*PRICE_OUTPUTS, "lot.csv", "pooling.csv", "lot_members.csv")


def _write_priced(target, priced, mechanisms: pl.DataFrame, terms, costs_line: str, source,
                  extra: dict[str, pl.DataFrame] | None = None,
                  extra_notes: list[tuple[str, str]] = (), spec=None) -> None:
    from cobic.contract.calculator import indicator_cost_note
    from cobic.contract.design import sustainability_warnings
    from cobic.costs import cost_warnings
    from cobic.report.workbook import write_workbook

    warnings_ = sustainability_warnings(priced, terms)
    if spec is not None:
        warnings_ = cost_warnings(spec) + warnings_
    assumed = [f"{terms.source}: {a}" for a in terms.assumed]
    if spec is not None:
        assumed += [f"{spec.source}: {a}" for a in spec.assumed]

    tables = {"schedule": priced.schedule(), "summary": priced.summary(), "risk": priced.risk(),
              "mechanisms": mechanisms, **(extra or {}), "by_path_year": priced.by_path_year()}
    earlier: list[str] = []
    with output_folder(target, "price", earlier) as tmp:
        for name, df in tables.items():
            df.write_csv(tmp / f"{name}.csv")
        # the exact terms priced, so cobic settle can check a folder belongs to its contract
        (tmp / "terms.toml").write_text(_terms_text(terms), encoding="utf-8")
        notes = [
            ("Contract", f"{terms.name} ({terms.source}): {terms.length} years from "
                         f"{terms.first_year - 1}-{terms.first_year % 100:02d}, basis "
                         f"{terms.basis}, capitation {terms.method} at "
                         f"P{round(terms.point * 100)}"),
            ("Costs", costs_line),
            ("Demand", f"{priced.n_paths:,} forecast paths from {source}"),
            *extra_notes,
            ("Money", "GBP, nominal unless marked real (deflated by the inflation assumption) or "
                      "pv (real, discounted at the Green Book rate; year 1 undiscounted)"),
            ("Signs", "variance = actual cost - capitated payment; provider share + "
                      "commissioner share = variance; provider margin = net to provider - cost"),
            ("Indicators", indicator_cost_note(terms)),
            *[("Warning", w) for w in warnings_],
            *[("Assumed", a) for a in assumed],
        ]
        sheets = {k: v for k, v in tables.items() if k != "by_path_year"}
        sheets["by_path_year (first 5k)"] = tables["by_path_year"].head(5000)
        write_workbook(tmp / "contract.xlsx", sheets, notes, spec=spec, terms=terms)

    sch = tables["schedule"].select(
        "contract_year", "financial_year", "capitation", "at_risk", "expected_cost",
        "expected_net_to_provider", "capitation_pv", "p_hit_loss_cap")
    out.print(_table(sch, f"{terms.name}: capitation and expected ledger by year", "schedule"))
    sm = tables["summary"].filter(pl.col("measure").is_in(
        ["actual_cost", "commissioner_outlay", "commissioner_outlay_pv", "provider_margin"]
    )).select("measure", "mean", "p10", "p50", "p80", "p90")
    out.print(_table(sm, "Whole contract over all paths", "summary"))
    mech = mechanisms.select("mechanism", "commissioner_mean", "commissioner_p90",
                             "provider_margin_mean", "provider_margin_p10", "p_provider_loss")
    out.print(_table(mech, "Payment mechanisms on the same paths", "mechanisms"))
    for w in warnings_:
        out.print(f"[yellow]warning:[/] {w}")
    for a in assumed:
        out.print(f"[cyan]assumed:[/] {a}")
    if warnings_:
        out.print("cobic design --target ... can search for terms a provider could sustain.")
    out.print(f"Tables and contract.xlsx written to {target.path}")
    if earlier:
        out.print(f"[yellow]note:[/] {', '.join(earlier)} in {target.path} "
                  f"{'is' if len(earlier) == 1 else 'are'} from an earlier run, not this one "
                  "(cobic never deletes files: move them away if you no longer need them, or "
                  "write to a new folder)")


def _schedule_year(path: Path, year: int, length: int) -> tuple[float, float]:
    """Capitation and expected child-days of ``year`` from a priced folder's schedule.csv."""
    from cobic.data.csvio import LINE, read_text_csv

    sched = read_text_csv(path, ("contract_year", "capitation", "expected_child_days"))
    years = sched["contract_year"].cast(pl.Int64, strict=False)
    if years.is_null().any() or sorted(years.to_list()) != list(range(1, years.len() + 1)):
        raise DataError([Problem(str(path), "schedule-years", "contract_year must run 1, 2, ... "
                                 "with one row each (a schedule written by cobic price)",
                                 column="contract_year")])
    if years.len() != length:
        raise DataError([Problem(str(path), "schedule-length",
                                 f"the schedule has {years.len()} contract years but the "
                                 f"contract has {length}: price this contract first",
                                 column="contract_year")])
    row = sched.filter(years == year)
    if row.height != 1:
        raise DataError([Problem(str(path), "schedule-years", f"no contract year {year}",
                                 column="contract_year")])
    vals = []
    for col in ("capitation", "expected_child_days"):
        v = row[col].cast(pl.Float64, strict=False).item()
        if v is None or not math.isfinite(v) or v < 0 or v > 1e11:
            raise DataError([Problem(str(path), "schedule-value", "must be a finite number, not "
                                     "negative, at most 1e11", row=row[LINE].item(), column=col,
                                     value=row[col].item())])
        vals.append(float(v))
    return vals[0], vals[1]


@app.command()
@_guarded
def settle(
    contract: Annotated[Path, typer.Option(help="Contract terms TOML.")],
    priced_dir: Annotated[Path, typer.Option(
        "--priced", help="Folder written by cobic price (its schedule.csv).")],
    actuals: Annotated[Path, typer.Option(
        help="The year's actuals TOML: contract_year, entries, exits, moves, actual_cost "
        "(optional), and tables child_days and indicators.")],
    costs: Annotated[Path | None, typer.Option(
        help="Cost set TOML, to cost the activity when actual_cost is not given.")] = None,
    out_file: Annotated[Path | None, typer.Option("--out", help="Write the ledger (CSV).")] = None,
    force: Annotated[bool, typer.Option(help=_FORCE_HELP)] = False,
) -> None:
    """Settle one contract year: the ledger with every step shown."""
    from cobic.contract import load_actuals, load_contract
    from cobic.contract import settle as settle_year
    from cobic.contract.settlement import settlement_warnings
    from cobic.costs import load_cost_spec

    inputs = (_input(contract, "--contract"), _input(priced_dir, "--priced", "folder"),
              _input(actuals, "--actuals"), _input(costs, "--costs"))
    target = (check_output_file(out_file, inputs=inputs, suffixes=(".csv",), force=force)
              if out_file is not None else None)
    sched_path = priced_dir / "schedule.csv"
    if not sched_path.is_file():
        _stop(f"--priced {priced_dir}: no schedule.csv in it; run cobic price first")
    terms = load_contract(contract)
    act = load_actuals(actuals, terms)
    _check_priced_terms(priced_dir, terms, contract)
    cap, exp_days = _schedule_year(sched_path, act.contract_year, terms.length)
    spec = load_cost_spec(costs) if costs is not None else None
    ledger = settle_year(terms, act, cap, exp_days, spec)
    bad = ledger.filter(~pl.col("amount").is_finite())
    if bad.height:
        _stop("cobic settle: the ledger has amounts that are not finite numbers ("
              + ", ".join(bad["item"].cast(pl.String).to_list()[:5]) + "): check the actuals "
              "and the priced schedule")
    # money to the penny; indicator values and scores as the numbers they are (0.075, not 0.08)
    shown = pl.when(pl.col("item").cast(pl.String).str.starts_with("indicator")).then(
        pl.col("amount").map_elements(lambda v: f"{v:.4g}", return_dtype=pl.String)).otherwise(
        pl.col("amount").map_elements(lambda v: f"{v:,.2f}", return_dtype=pl.String))
    out.print(_table(ledger.with_columns(amount=shown),
        f"Settlement, contract year {act.contract_year}"))
    for w in settlement_warnings(terms, act, cap, exp_days):
        out.print(f"[yellow]warning:[/] {w}")
    if target is not None:
        write_file(target, lambda p: ledger.write_csv(p), "settle")
        out.print(f"Ledger written to {out_file}")


@app.command()
@_guarded
def costs(
    area: Annotated[str, typer.Option(help="The LA (or England) as named in the s251 table.")],
    panel: Annotated[Path, typer.Option(help="DfE LA panel CSV (children looked after).")],
    s251: Annotated[Path, typer.Option("--s251", help="The s251 outturn table.")],
    year: Annotated[int | None, typer.Option(
        help="Financial year to calibrate to, by its ending year (default: the latest).")
    ] = None,
    out_file: Annotated[Path | None, typer.Option(
        "--out", help="Write the calibrated cost set (TOML) here; cobic price reads it.")
    ] = None,
    growth_out: Annotated[Path | None, typer.Option(
        "--growth-out", help="Write only the fitted cost growth (TOML) here; cobic price "
        "--growth applies it to any cost set priced in that year.")] = None,
    force: Annotated[bool, typer.Option(help=_FORCE_HELP)] = False,
) -> None:
    """Calibrate an LA's all-in cost of a child-day to its own s251 outturn and fit the growth
    of that cost from the s251 history (estimates and standard errors printed)."""
    from cobic.calibration import (
        calibrate,
        cost_set_toml,
        fit_cost_growth,
        growth_toml,
        spend_history,
    )
    from cobic.codes import default_codes
    from cobic.data.dfe import read_finance

    inputs = (_input(panel, "--panel"), _input(s251, "--s251"))
    target, growth_target = (
        check_output_file(f, inputs=inputs, suffixes=(".toml",), force=force)
        if f is not None else None for f in (out_file, growth_out))
    check_distinct(target, growth_target)
    history = spend_history(read_finance(s251), read_panel(panel), str(s251))
    cal = calibrate(history, area, year, str(s251))
    growth = fit_cost_growth(history, cal.year)
    out.print(f"[bold]{area}[/], {cal.year - 1}-{cal.year % 100:02d}: s251 spend on children "
              f"looked after GBP {cal.spend:,.0f} over {cal.activity_days:,.0f} child-days "
              f"(children on 31 March x 365.25) = GBP {cal.spend_per_day:,.2f} a child-day, "
              f"all in.")
    split = cal.split().with_columns(pl.col("value").str.replace_all("_", " "))
    out.print(_table(split.rename({"line": "Item", "value": "GBP (or what it includes)"}),
                     "What the calibrated cost is and includes"))
    fit = (growth.summary().filter(~pl.col("figure").str.starts_with("deviation")
                                   | (pl.col("figure") == f"deviation: {area}"))
           .with_columns(pl.col("estimate", "se").round(4) + 0.0, pl.col("pct_a_year") + 0.0))
    out.print(_table(fit.rename({"figure": "Figure", "estimate": "Estimate (log points)",
                                 "se": "Standard error", "pct_a_year": "% a year"}),
                     f"Growth of spend per child-day, fitted on s251 up to {cal.year} "
                     f"({growth.n_obs} area-years; log points a year)"))
    if target is not None:
        text = cost_set_toml(cal, growth, default_codes().group_names)
        write_file(target, lambda p: p.write_text(text, encoding="utf-8"), "costs")
        out.print(f"Calibrated cost set written to {out_file}")
    if growth_target is not None:
        gtext = growth_toml(growth, area, Path(s251).name)
        write_file(growth_target, lambda p: p.write_text(gtext, encoding="utf-8"), "costs")
        out.print(f"Fitted cost growth written to {growth_out}")


@app.command()
@_guarded
def demo(
    episodes: Annotated[Path | None, typer.Option(
        help="SSDA903 folder to use instead of the embedded synthetic LA.")] = None,
    out_dir: Annotated[Path, typer.Option("--out", help="Folder for the outputs.")] = Path(
        "cobic-demo-output"),
    force: Annotated[bool, typer.Option(help=_FORCE_HELP)] = False,
) -> None:
    """The main job on the embedded data: validate, forecast, price the 7-year COBIC, and
    write an HTML report with charts, CSV/XLSX tables and PNG charts."""
    from rich.progress import Progress

    from cobic.report.demo import STEPS, run_demo

    _input(episodes, "--episodes", "any")
    target = check_output_folder(out_dir, inputs=(episodes,), force=force)
    with Progress(console=err) as bar:
        task = bar.add_task("cobic demo", total=len(STEPS))
        seen: list[str] = []

        def tick(step: str) -> None:
            if seen:
                bar.advance(task)
            seen.append(step)
            bar.update(task, description=step)

        result = run_demo(target, episodes, progress=tick)
        bar.advance(task)
    head = pl.DataFrame({"figure": list(result.headline),
                         "value": [str(v) for v in result.headline.values()]})
    out.print(_table(head, "cobic demo: headline figures"))
    out.print(f"Report: {result.report.resolve()}")
    out.print(f"Tables, workbook and charts: {result.out_dir.resolve()} "
              f"({result.seconds:.1f} s)")
