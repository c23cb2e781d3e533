"""The ``cobic`` command. It orchestrates; the logic lives in the library.

Data errors exit with status 2 and name the file, line, column and rule; nothing is written.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
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
from cobic.paths import fixtures_dir

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
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def _table(df: pl.DataFrame, title: str) -> Table:
    t = Table(title=title, title_justify="left")
    for c in df.columns:
        t.add_column(c, justify="right" if df[c].dtype.is_numeric() else "left")
    for row in df.iter_rows(named=True):
        t.add_row(*["" if v is None else f"{v:,}" if isinstance(v, int) and k != "year"
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
    s = derive.stock(data, on=data.extract_end)
    by = (s.group_by("placement_group").agg(children=pl.col("children").sum())
          .sort("children", descending=True))
    out.print(_table(by, f"Stock on {data.extract_end:%d/%m/%Y} by placement group"))
    ab = s.group_by("age_band").agg(children=pl.col("children").sum())
    order = {b: i for i, b in enumerate(data.codes.age_band_labels)}
    ab = ab.sort(pl.col("age_band").replace_strict(order, return_dtype=pl.Int32))
    out.print(_table(ab, f"Stock on {data.extract_end:%d/%m/%Y} by age band"))


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
    tmp = Path(tempfile.mkdtemp(dir=out_dir.parent if out_dir.parent.exists() else None,
                                prefix=f".{out_dir.name}."))
    try:
        write_ssda903(la, tmp)
        la.truth.sort("measure", "year", "placement_group").write_csv(tmp / "truth.csv",
                                                                       line_terminator="\n")
        la.population.write_csv(tmp / "population.csv", line_terminator="\n")
        spec_d = {k: v for k, v in dataclasses.asdict(spec).items() if k != "placement_mix"}
        (tmp / "spec.json").write_text(json.dumps(spec_d, indent=1, sort_keys=True) + "\n")
        tmp.chmod(0o755)
        if out_dir.exists():
            shutil.rmtree(out_dir)
        os.replace(tmp, out_dir)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp)
    n_eps = la.episodes.height
    out.print(f"Wrote {years} years of SSDA903 returns for {spec.name} to {out_dir} "
              f"({la.children.height:,} children, {n_eps:,} episodes), with truth.csv.")


@app.command()
def demo(
    episodes: Annotated[Path | None, typer.Option(
        help="SSDA903 folder to use instead of the embedded synthetic LA.")] = None,
) -> None:
    """The main job on the embedded default data: validate and summarise it."""
    src = episodes or (fixtures_dir() / FIXTURE_LA)
    try:
        data = read_ssda903(src)
    except DataError as e:
        _fail(e)
    _print_ssda903_summary(data)
    out.print("[green]Data validated.[/]")

