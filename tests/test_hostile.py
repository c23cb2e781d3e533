"""A catalogue of hostile and unusual inputs across every command.

Each case runs one ``cobic`` command in a scratch workspace holding good inputs (a small
synthetic LA, a DfE-style panel, forecast paths, a priced folder, contracts, costs, actuals)
and a folder and file of the user's own. It checks:

* the exit status (2 for bad input or an unsafe output, 0 where the input is fine);
* the message names what is wrong (a fragment of it is given per case);
* no Python traceback is shown;
* nothing in the workspace changed: every file's checksum is the same after the run and no
  file appeared (so no output was written and no input or user file was touched).
"""

from __future__ import annotations

import dataclasses
import hashlib
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

from cobic.cli import app
from cobic.data.synth import SynthSpec, generate, write_ssda903
from cobic.paths import models_dir, shared_data_dir

runner = CliRunner()
CONTRACT5 = models_dir() / "contracts" / "cobic_5yr.toml"
CONTRACT7 = models_dir() / "contracts" / "cobic_7yr.toml"
COSTS = models_dir() / "costs" / "england_2024_25.toml"

PANEL = """area,old_la_code,new_la_code,year,cla_31mar,cla_rate_per_10k,starts,ceased,mye_year,pop_0_17_mid_prev_year
England,970,,2021,80850,67,28440,29410,2020,12064500
England,970,,2022,82170,70,31680,30150,2021,12079300
England,970,,2023,83840,71,33000,31000,2022,12100000
England,970,,2024,83530,69,33130,33780,2023,12105450
Barnet,302,E09000003,2021,350,37,200,190,2020,93000
Barnet,302,E09000003,2022,340,36,190,200,2021,93100
Barnet,302,E09000003,2023,326,35,199,190,2022,93010
Barnet,302,E09000003,2024,310,33,175,191,2023,93340
Camden,202,E09000007,2021,220,52,120,118,2020,42000
Camden,202,E09000007,2022,215,51,110,115,2021,42100
Camden,202,E09000007,2023,212,50,105,108,2022,42200
Camden,202,E09000007,2024,211,50,100,101,2023,42300
Ealing,307,E09000009,2021,400,49,230,220,2020,81000
Ealing,307,E09000009,2022,410,50,240,230,2021,81200
Ealing,307,E09000009,2023,405,50,235,240,2022,81300
Ealing,307,E09000009,2024,398,49,230,237,2023,81400
"""
UPN = "Z999888777666"
LA_YEARS = (2023, 2024, 2025)  # collection years of the scratch LA
POSTCODE = "ZZ9 9ZZ"


# ------------------------------------------------------------------ the workspace


def _build_base(root: Path) -> None:
    la = root / "la"
    spec = dataclasses.replace(SynthSpec(seed=11), population_0_17=9_000, first_year=LA_YEARS[0],
                               n_years=len(LA_YEARS), burn_in_years=6)
    write_ssda903(generate(spec), la)
    _put_upn_and_postcodes(la)
    (root / "panel.csv").write_text(PANEL)
    (root / "pop.csv").write_text("year,population\n" + "".join(
        f"{y},9000\n" for y in range(2010, 2031)))
    for p in (CONTRACT5, CONTRACT7, COSTS):
        shutil.copy(p, root / p.name)
    res = runner.invoke(app, ["forecast", "--episodes", str(la), "--horizon", "7", "--paths",
                              "40", "--out", str(root / "f.csv"), "--paths-out",
                              str(root / "paths.parquet")])
    assert res.exit_code == 0, res.output
    res = runner.invoke(app, ["price", "--forecast", str(root / "paths.parquet"), "--contract",
                              str(root / CONTRACT5.name), "--costs", str(root / COSTS.name),
                              "--out", str(root / "priced")])
    assert res.exit_code == 0, res.output
    (root / "actuals.toml").write_text(_actuals(
        "contract_year = 1\nentries = 25\nexits = 24\nmoves = 20\n"
        "[child_days]\nfostering = 16000\nresidential = 2000\n"))
    (root / "mine").mkdir()
    (root / "mine" / "board-paper.docx").write_text("the board paper")
    (root / "mine.csv").write_text("my own table\n")
    (root / "home").mkdir()


def _put_upn_and_postcodes(la: Path) -> None:
    """Give the first child of the last year a UPN and postcodes (to test messages)."""
    hdr = sorted(la.glob("*-header.csv"))[-1]
    rows = hdr.read_text().splitlines()
    cols = rows[0].split(",")
    cells = rows[1].split(",")
    cells[cols.index("UPN")] = UPN
    rows[1] = ",".join(cells)
    hdr.write_text("\n".join(rows) + "\n")
    eps = sorted(la.glob("*-episodes.csv"))[-1]
    rows = eps.read_text().splitlines()
    cols = rows[0].split(",")
    for i in range(1, len(rows)):
        cells = rows[i].split(",")
        cells[cols.index("HOME_POST")] = POSTCODE
        cells[cols.index("PL_POST")] = POSTCODE
        rows[i] = ",".join(cells)
    eps.write_text("\n".join(rows) + "\n")


def _actuals(head: str) -> str:
    """An actuals TOML: ``head`` plus a value for each of the 5-year contract's indicators."""
    from cobic.contract import load_contract

    names = [i.name for i in load_contract(CONTRACT5).indicators]
    return head + "[indicators]\n" + "".join(f'"{n}" = 60.0\n' for n in names)


@pytest.fixture(scope="module")
def base(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("hostile-base")
    _build_base(root)
    return root


@pytest.fixture()
def ws(base, tmp_path, monkeypatch) -> Path:
    root = tmp_path / "ws"
    shutil.copytree(base, root, symlinks=True)
    monkeypatch.chdir(root)
    return root


def _checksums(root: Path) -> dict[str, str]:
    return {p.relative_to(root).as_posix(): (hashlib.sha256(p.read_bytes()).hexdigest()
                                             if p.is_file() else "dir")
            for p in sorted(root.rglob("*")) if not p.is_symlink()}


# ------------------------------------------------------------------ editing helpers


def _last(la: Path, table: str) -> Path:
    return sorted(la.glob(f"*-{table}.csv"))[-1]


def _rows(p: Path) -> list[str]:
    return p.read_text().splitlines()


def _set(p: Path, line: int, column: str, value: str) -> None:
    rows = _rows(p)
    cols = rows[0].split(",")
    cells = rows[line - 1].split(",")
    cells[cols.index(column)] = value
    rows[line - 1] = ",".join(cells)
    p.write_text("\n".join(rows) + "\n")


def _closed_line(p: Path) -> int:
    rows = _rows(p)
    dec = rows[0].split(",").index("DEC")
    return next(i for i, r in enumerate(rows[1:], start=2) if r.split(",")[dec])


def _panel_cell(ws: Path, area: str, year: int, column: str, value: str) -> None:
    rows = _rows(ws / "panel.csv")
    cols = rows[0].split(",")
    for i, r in enumerate(rows):
        c = r.split(",")
        if c[0] == area and c[3] == str(year):
            c[cols.index(column)] = value
            rows[i] = ",".join(c)
    (ws / "panel.csv").write_text("\n".join(rows) + "\n")


def _toml_replace(ws: Path, name: str, old: str, new: str) -> None:
    p = ws / name
    text = p.read_text()
    assert old in text, (name, old)
    p.write_text(text.replace(old, new, 1))


def _rename_last_year(ws: Path, sep: str = "_", upper: bool = False) -> None:
    for table in ("header", "episodes"):
        p = _last(ws / "la", table)
        year = p.name[:4]
        name = f"{year}{sep}{table.upper() if upper else table}.csv"
        p.rename(p.with_name(name))


def _dates_to(ws: Path, fmt: Callable[[str], str]) -> None:
    pat = re.compile(r"\b(\d{2})/(\d{2})/(\d{4})\b")
    for p in (ws / "la").glob("*.csv"):
        p.write_text(pat.sub(lambda m: fmt(m.group(0)), p.read_text()))


def _keep_one_child(ws: Path) -> None:
    """The LA cut down to its first child (in every year's files)."""
    child = _rows(_last(ws / "la", "episodes"))[1].split(",")[0]
    for p in (ws / "la").glob("*.csv"):
        rows = _rows(p)
        p.write_text("\n".join([rows[0], *[r for r in rows[1:] if r.split(",")[0] == child]])
                     + "\n")


def _iso(d: str) -> str:
    return f"{d[6:10]}-{d[3:5]}-{d[0:2]}"


# ------------------------------------------------------------------ the cases


@dataclass(frozen=True)
class Case:
    id: str
    args: list[str]
    message: str  # a regular expression the output must match (case-insensitive)
    setup: Callable[[Path], None] | None = None
    code: int = 2
    env: dict | None = None
    absent: tuple[str, ...] = ()  # text that must not appear (e.g. a UPN)


def _validate_la(setup, message, code=2, absent=()):
    return dict(args=["validate", "--episodes", "la"], setup=setup, message=message, code=code,
                absent=absent)


def _validate_panel(setup, message, code=2):
    return dict(args=["validate", "--panel", "panel.csv"], setup=setup, message=message,
                code=code)


FORECAST_LA = ["forecast", "--episodes", "la", "--out", "new.csv", "--paths", "20"]
BACKTEST_PANEL = ["backtest", "--panel", "panel.csv", "--out", "bt.csv", "--origins", "2023",
                  "--horizons", "1", "--paths", "20", "--models", "naive"]
PRICE = ["price", "--forecast", "paths.parquet", "--contract", "cobic_5yr.toml", "--costs",
         "england_2024_25.toml", "--out", "new-priced"]
SETTLE = ["settle", "--contract", "cobic_5yr.toml", "--priced", "priced", "--actuals",
          "actuals.toml", "--costs", "england_2024_25.toml", "--out", "ledger.csv"]


def _with(args: list[str], option: str, value: str) -> list[str]:
    out = list(args)
    if option in out:
        out[out.index(option) + 1] = value
    else:
        out += [option, value]
    return out


def _edit_schedule(column: str, value: str):
    def setup(ws: Path) -> None:
        _set(ws / "priced" / "schedule.csv", 2, column, value)
    return setup


CASES = [
    # ---- outputs: nothing lost
    Case("price-out-user-folder", _with(PRICE, "--out", "mine"), "did not write"),
    Case("price-out-user-folder-force-collision", _with(PRICE, "--out", "mine") + ["--force"],
         r"files of yours named as this command's outputs \(schedule.csv\)",
         setup=lambda ws: (ws / "mine" / "schedule.csv").write_text("x")),
    # every clash named at once, and without suggesting a --force that cannot help
    Case("price-out-user-folder-collisions", _with(PRICE, "--out", "mine"),
         r"\(contract.xlsx, summary.csv\)\. cobic never overwrites a file it did not write, "
         r"even with --force", setup=lambda ws: [(ws / "mine" / n).write_text("x")
                                                 for n in ("summary.csv", "contract.xlsx")]),
    Case("demo-out-user-folder", ["demo", "--out", "mine"], "did not write"),
    Case("demo-out-dot", ["demo", "--out", "."], "current folder"),
    Case("demo-out-dot-force", ["demo", "--out", ".", "--force"], "current folder"),
    Case("price-out-dot", _with(PRICE, "--out", "."), "current folder"),
    Case("demo-out-parent", ["demo", "--out", ".."], "parent of the current folder"),
    Case("demo-out-home", ["demo", "--out", "home"], "home folder", env={"HOME": "home"}),
    Case("synth-out-user-folder", ["synth", "--out", "mine"], "did not write"),
    Case("synth-out-dot", ["synth", "--out", "."], "current folder"),
    Case("validate-report-over-input", ["validate", "--episodes", "la", "--report",
                                        "la/PLACEHOLDER"], "input"),
    Case("validate-report-user-file", ["validate", "--episodes", "la", "--report", "mine.csv"],
         "not written by cobic"),
    Case("validate-report-folder", ["validate", "--episodes", "la", "--report", "mine"],
         "is a folder"),
    Case("validate-report-parquet", ["validate", "--episodes", "la", "--report", "r.parquet"],
         r"must end in \.csv"),
    Case("forecast-out-over-panel", ["forecast", "--panel", "panel.csv", "--area", "Barnet",
                                     "--out", "panel.csv"], "also an input"),
    Case("forecast-out-in-input-folder", _with(FORECAST_LA, "--out", "la/f.csv"),
         "inside the input folder"),
    Case("forecast-out-user-file", _with(FORECAST_LA, "--out", "mine.csv"),
         "not written by cobic"),
    Case("forecast-out-same-as-paths-out", FORECAST_LA + ["--paths-out", "new.csv"],
         "two outputs"),
    Case("forecast-out-folder", _with(FORECAST_LA, "--out", "mine"), "is a folder"),
    Case("forecast-out-proc", _with(FORECAST_LA, "--out", "/proc/cobic-x.csv"),
         "cannot write"),
    Case("forecast-out-txt", _with(FORECAST_LA, "--out", "f.txt"), r"\.csv or \.parquet"),
    Case("forecast-out-symlink", _with(FORECAST_LA, "--out", "link.csv"),
         "not written by cobic", setup=lambda ws: (ws / "link.csv").symlink_to(ws / "mine.csv")),
    Case("forecast-out-edited-cobic-file", _with(FORECAST_LA, "--out", "f.csv"),
         "changed since", setup=lambda ws: (ws / "f.csv").write_text("edited by hand\n")),
    Case("forecast-paths-out-over-input", FORECAST_LA + ["--paths-out",
                                                         "la/PLACEHOLDER"], "input"),
    Case("backtest-out-over-panel", _with(BACKTEST_PANEL, "--out", "panel.csv"),
         "also an input"),
    Case("backtest-by-area-same-as-out", BACKTEST_PANEL + ["--by-area", "bt.csv"],
         "two outputs"),
    Case("price-out-is-a-file", _with(PRICE, "--out", "mine.csv"), "is a file"),
    Case("price-output-would-replace-its-input", _with(_with(
        PRICE, "--out", "priced"), "--forecast", "priced/by_path_year.csv") + ["--force"],
        # the file is an input and, rewritten by hand, an edited output: refused as either
        "input|changed since", setup=lambda ws: pl.read_parquet(ws / "paths.parquet").write_csv(
            ws / "priced" / "by_path_year.csv")),
    Case("price-edited-output", _with(PRICE, "--out", "priced"), "changed since",
         setup=lambda ws: (ws / "priced" / "risk.csv").write_text("edited\n")),
    Case("settle-out-inside-priced", _with(SETTLE, "--out", "priced/ledger.csv"),
         "inside the input folder"),
    Case("settle-out-user-file", _with(SETTLE, "--out", "mine.csv"), "not written by cobic"),
    # ---- the DfE panel: garbage is not usable
    *[Case(f"panel-count-{tag}", **_validate_panel(
        lambda ws, v=v: _panel_cell(ws, "Barnet", 2023, "cla_31mar", v), "cla_31mar"))
      for tag, v in [("nan", "nan"), ("NaN", "NaN"), ("inf", "inf"), ("minus-inf", "-inf"),
                     ("huge", "99999999999999999999"), ("1e400", "1e400"),
                     ("bool", "TRUE"), ("text", "lots"), ("negative", "-3"),
                     ("fraction", "3.5")]],
    Case("panel-rate-nan", **_validate_panel(
        lambda ws: _panel_cell(ws, "Camden", 2022, "cla_rate_per_10k", "nan"),
        "cla_rate_per_10k")),
    Case("panel-rate-over-10000", **_validate_panel(
        lambda ws: _panel_cell(ws, "Camden", 2022, "cla_rate_per_10k", "20000"),
        "cla_rate_per_10k")),
    Case("panel-count-over-population", **_validate_panel(
        lambda ws: _panel_cell(ws, "Barnet", 2024, "cla_31mar", "2000000000"), "population")),
    Case("panel-year-1999", **_validate_panel(
        lambda ws: _panel_cell(ws, "Barnet", 2021, "year", "1999"), "year")),
    Case("panel-population-zero", **_validate_panel(
        lambda ws: _panel_cell(ws, "Barnet", 2022, "pop_0_17_mid_prev_year", "0"),
        "pop_0_17_mid_prev_year")),
    Case("panel-population-text", **_validate_panel(
        lambda ws: _panel_cell(ws, "Barnet", 2022, "pop_0_17_mid_prev_year", "lots"),
        "pop_0_17_mid_prev_year")),
    Case("panel-duplicate-area-year", **_validate_panel(
        lambda ws: (ws / "panel.csv").write_text(PANEL + PANEL.splitlines()[5] + "\n"),
        "Barnet")),
    Case("panel-missing-column", **_validate_panel(
        lambda ws: (ws / "panel.csv").write_text(PANEL.replace(",starts", ",begun")),
        "starts")),
    Case("panel-empty", **_validate_panel(lambda ws: (ws / "panel.csv").write_text(""),
                                          "empty")),
    Case("panel-latin1", **_validate_panel(
        lambda ws: (ws / "panel.csv").write_bytes(PANEL.replace("Camden", "Cam\xe9den")
                                                  .encode("latin-1")), "UTF-8")),
    Case("panel-semicolons", **_validate_panel(
        lambda ws: (ws / "panel.csv").write_text(PANEL.replace(",", ";")), "separated")),
    Case("panel-missing-file", ["validate", "--panel", "nope.csv"], "no such file"),
    Case("forecast-panel-nan", ["forecast", "--panel", "panel.csv", "--area", "Camden", "--out",
                                "new.csv", "--paths", "20"], "cla_31mar",
         setup=lambda ws: _panel_cell(ws, "Barnet", 2023, "cla_31mar", "nan")),
    Case("forecast-panel-unknown-area", ["forecast", "--panel", "panel.csv", "--area",
                                         "Camdne", "--out", "new.csv"], "not in"),
    Case("forecast-panel-no-area", ["forecast", "--panel", "panel.csv", "--out", "new.csv"],
         "--area"),
    # ---- SSDA903 returns
    Case("ssda903-dec-after-year", **_validate_la(
        lambda ws: _set(_first := sorted((ws / "la").glob("*-episodes.csv"))[0],
                        _closed_line(_first), "DEC", "01/01/2099"), "DEC")),
    Case("ssda903-duplicate-year-files", **_validate_la(
        lambda ws: shutil.copy(_last(ws / "la", "episodes"),
                               _last(ws / "la", "episodes").with_name(
                                   _last(ws / "la", "episodes").name.upper().replace(".CSV",
                                                                                   ".csv"))),
        r"EPISODES.*episodes|episodes.*EPISODES")),
    Case("ssda903-two-digit-years", **_validate_la(
        lambda ws: _dates_to(ws, lambda d: d[:6] + d[8:]), "date")),
    Case("ssda903-year-0018", **_validate_la(
        lambda ws: _set(_last(ws / "la", "header"), 2, "DOB", "01/04/0018"), "DOB")),
    Case("ssda903-dec-before-decom", **_validate_la(
        lambda ws: _set(_last(ws / "la", "episodes"), _closed_line(_last(ws / "la", "episodes")),
                        "DEC", "01/01/2000"), "DEC", absent=(UPN, POSTCODE))),
    Case("ssda903-unknown-place", **_validate_la(
        lambda ws: _set(_last(ws / "la", "episodes"), 2, "PLACE", "Q9"), "PLACE")),
    Case("ssda903-child-not-in-header", **_validate_la(
        lambda ws: _set(_last(ws / "la", "episodes"), 2, "CHILD", "99999999"), "header",
        absent=(UPN, POSTCODE))),
    Case("ssda903-missing-header-file", **_validate_la(
        lambda ws: _last(ws / "la", "header").unlink(), "header")),
    Case("ssda903-empty-episodes", **_validate_la(
        lambda ws: _last(ws / "la", "episodes").write_text(""), "empty")),
    Case("ssda903-ragged-row", **_validate_la(
        lambda ws: _last(ws / "la", "episodes").write_text(
            _last(ws / "la", "episodes").read_text() + "1,2,3\n"), "fields")),
    Case("ssda903-semicolons", **_validate_la(
        lambda ws: _last(ws / "la", "header").write_text(
            _last(ws / "la", "header").read_text().replace(",", ";")), "separated")),
    Case("ssda903-latin1", **_validate_la(
        lambda ws: _last(ws / "la", "header").write_bytes(
            _last(ws / "la", "header").read_bytes().replace(b"WBRI", b"WBR\xe9", 1)), "UTF-8")),
    Case("ssda903-dob-future", **_validate_la(
        lambda ws: _set(_last(ws / "la", "header"), 2, "DOB", "01/01/2090"), "DOB")),
    Case("ssda903-file-is-a-folder", **_validate_la(
        lambda ws: (_last(ws / "la", "header").unlink(),
                    _last(ws / "la", "episodes").with_name(
                        _last(ws / "la", "episodes").name.replace("episodes", "header")).mkdir()),
        "header")),
    Case("ssda903-missing-folder", ["validate", "--episodes", "nope"], "no such"),
    Case("ssda903-year-label-end", ["validate", "--episodes", "la", "--year-label", "end"],
         "year-label"),
    Case("ssda903-no-yearly-files", ["validate", "--episodes", "mine"], "YYYY"),
    # usable inputs that used to fail or be misread: status 0, nothing written
    Case("ssda903-trailing-blank-line", **_validate_la(
        lambda ws: _last(ws / "la", "episodes").write_text(
            _last(ws / "la", "episodes").read_text() + "\n"), "usable", code=0)),
    Case("ssda903-three-blank-lines-and-commas", **_validate_la(
        lambda ws: _last(ws / "la", "header").write_text(
            _last(ws / "la", "header").read_text() + "\n,,,,,,\n\n"), "usable", code=0)),
    Case("ssda903-underscore-names", **_validate_la(
        lambda ws: _rename_last_year(ws), rf"to {LA_YEARS[-1] - 1}-{LA_YEARS[-1] % 100}",
        code=0)),
    Case("ssda903-iso-dates", **_validate_la(lambda ws: _dates_to(ws, _iso), "ISO", code=0)),
    # ---- limits
    Case("forecast-paths-100000", _with(FORECAST_LA, "--paths", "100000") + ["--memory-budget", "0.5"],
         "memory"),
    Case("forecast-paths-too-many", _with(FORECAST_LA, "--paths", "10000000"), "--paths"),
    Case("forecast-paths-0", _with(FORECAST_LA, "--paths", "0"), "--paths"),
    Case("forecast-paths-negative", _with(FORECAST_LA, "--paths", "-5"), "--paths"),
    Case("forecast-paths-text", _with(FORECAST_LA, "--paths", "many"), "--paths"),
    Case("forecast-horizon-0", FORECAST_LA + ["--horizon", "0"], "--horizon"),
    Case("forecast-horizon-50", FORECAST_LA + ["--horizon", "50"], "--horizon"),
    Case("forecast-memory-budget-nan", FORECAST_LA + ["--memory-budget", "nan"],
         "--memory-budget"),
    Case("forecast-scenario-uasc-huge", FORECAST_LA + ["--scenario", "uasc=1e7"], "uasc"),
    Case("forecast-scenario-uasc-nan", FORECAST_LA + ["--scenario", "uasc=nan"], "uasc"),
    Case("forecast-scenario-no-year", FORECAST_LA + ["--scenario", "entry_step=+20%"], "year"),
    Case("forecast-scenario-step-huge", FORECAST_LA + ["--scenario",
                                                       "entry_step=+90000%@2027"], "within"),
    Case("forecast-scenario-unknown", FORECAST_LA + ["--scenario", "bogus=1"], "unknown"),
    Case("forecast-scenario-stay-on-series", ["forecast", "--panel", "panel.csv", "--area",
                                              "Camden", "--model", "naive", "--out", "new.csv",
                                              "--scenario", "stay=+10%"], "stockflow"),
    Case("forecast-unknown-model", FORECAST_LA + ["--model", "prophet"], "prophet"),
    Case("forecast-origin-outside", FORECAST_LA + ["--origin", "1999"], "1999"),
    Case("forecast-population-missing", FORECAST_LA + ["--population", "nope.csv"], "no such"),
    Case("forecast-population-text", FORECAST_LA + ["--population", "pop.csv"], "population",
         setup=lambda ws: (ws / "pop.csv").write_text("year,population\n2020,lots\n")),
    Case("forecast-population-zero", FORECAST_LA + ["--population", "pop.csv"], "population",
         setup=lambda ws: (ws / "pop.csv").write_text("year,population\n2020,0\n")),
    Case("forecast-population-columns", FORECAST_LA + ["--population", "pop.csv"],
         "population", setup=lambda ws: (ws / "pop.csv").write_text("yr,pop\n2020,9000\n")),
    Case("backtest-paths-10-million", _with(BACKTEST_PANEL, "--paths", "10000000"), "--paths"),
    Case("backtest-paths-0", _with(BACKTEST_PANEL, "--paths", "0"), "--paths"),
    Case("backtest-origins-text", _with(BACKTEST_PANEL, "--origins", "abc"), "--origins"),
    Case("backtest-horizons-50", _with(BACKTEST_PANEL, "--horizons", "1-50"), "--horizons"),
    Case("backtest-unknown-model", _with(BACKTEST_PANEL, "--models", "nosuch"), "nosuch"),
    Case("backtest-gate-no-colon", BACKTEST_PANEL + ["--gate", "panel"], "--gate"),
    Case("backtest-no-input", ["backtest", "--out", "bt.csv"], "exactly one"),
    # ---- contracts, costs, settlement
    Case("price-contract-missing", _with(PRICE, "--contract", "nope.toml"), "no such file"),
    Case("price-costs-missing", _with(PRICE, "--costs", "nope.toml"), "no such file"),
    Case("price-forecast-missing", _with(PRICE, "--forecast", "nope.parquet"), "no such file"),
    Case("price-contract-is-folder", _with(PRICE, "--contract", "mine"), "folder"),
    Case("price-discount-rate-nan", PRICE, "discount_rate", setup=lambda ws: _toml_replace(
        ws, "cobic_5yr.toml", "name = ", "discount_rate = nan\nname = ")),
    Case("price-share-inf", PRICE, "share", setup=lambda ws: _toml_replace(
        ws, "cobic_5yr.toml", "share_by_year = [0.0,", "share_by_year = [inf,")),
    Case("price-contract-toml-syntax", PRICE, "line", setup=lambda ws: _toml_replace(
        ws, "cobic_5yr.toml", "length = 5", "length = = 5")),
    Case("price-costs-weekly-inf", PRICE, "inf|finite", setup=lambda ws: (
        ws / "england_2024_25.toml").write_text(re.sub(
            r"weekly_cost = [0-9.]+", "weekly_cost = inf",
            (ws / "england_2024_25.toml").read_text(), count=1))),
    Case("price-paths-garbage", _with(PRICE, "--forecast", "mine.csv"), "paths table"),
    Case("price-paths-negative", _with(PRICE, "--forecast", "neg.csv"), "not negative",
         setup=lambda ws: (ws / "neg.csv").write_text(
             "area,path,period,placement_group,measure,value\n"
             "x,0,2026,fostering,child_days,-100000\n")),
    Case("price-paths-nan", _with(PRICE, "--forecast", "nan.csv"), "finite",
         setup=lambda ws: (ws / "nan.csv").write_text(
             "area,path,period,placement_group,measure,value\n"
             "x,0,2026,fostering,child_days,nan\n")),
    Case("settle-actual-cost-nan", SETTLE, "actual_cost", setup=lambda ws: (
        ws / "actuals.toml").write_text(_actuals(
            "contract_year = 1\nactual_cost = nan\nentries = 1\nexits = 1\nmoves = 1\n"
            "[child_days]\nfostering = 16000\n"))),
    Case("settle-child-days-inf", SETTLE, "child_days|fostering", setup=lambda ws: (
        ws / "actuals.toml").write_text(_actuals("contract_year = 1\nentries = 1\nexits = 1\n"
                                                 "moves = 1\n[child_days]\nfostering = inf\n"))),
    Case("settle-contract-year-true", SETTLE, "contract_year", setup=lambda ws: (
        ws / "actuals.toml").write_text(_actuals("contract_year = true\nactual_cost = 1e6\n"))),
    Case("settle-contract-year-9", SETTLE, "contract_year", setup=lambda ws: (
        ws / "actuals.toml").write_text(_actuals("contract_year = 9\nactual_cost = 1e6\n"))),
    Case("settle-actuals-missing", _with(SETTLE, "--actuals", "nope.toml"), "no such file"),
    Case("settle-priced-missing", _with(SETTLE, "--priced", "nope"), "no such"),
    Case("settle-priced-no-schedule", _with(SETTLE, "--priced", "mine"), "schedule.csv"),
    # a folder priced under the 5-year contract, settled under the same contract with another
    # capitation point (same length, so the schedule alone cannot tell): refused
    Case("settle-under-other-terms", _with(SETTLE, "--contract", "other5.toml"),
         "priced under other terms", setup=lambda ws: (ws / "other5.toml").write_text(
             (ws / "cobic_5yr.toml").read_text().replace('point = "P50"', 'point = "P80"'))),
    Case("settle-schedule-garbage", SETTLE, "schedule.csv",
         setup=lambda ws: (ws / "priced" / "schedule.csv").write_text("garbage\n1,2\n")),
    Case("settle-schedule-capitation-text", SETTLE, "capitation",
         setup=_edit_schedule("capitation", "lots")),
    Case("settle-schedule-capitation-nan", SETTLE, "capitation",
         setup=_edit_schedule("capitation", "nan")),
    Case("settle-five-year-priced-under-seven-year", _with(SETTLE, "--contract",
                                                           "cobic_7yr.toml"), "priced under other terms|contract has 7"),
    # ---- found by a new user's probe (each was exit 0, an OOM kill or a leak)
    Case("forecast-panel-origin-0", ["forecast", "--panel", "panel.csv", "--area", "Camden",
                                     "--model", "naive", "--origin", "0", "--out", "new.csv"],
         "origin 0"),
    Case("ssda903-one-typo-names-its-line", **_validate_la(
        lambda ws: _set(_last(ws / "la", "episodes"), 3, "DECOM", "01/01/2099"),
        r"line 3, column DECOM")),
    Case("ssda903-upn-in-the-sex-column", **_validate_la(
        lambda ws: _set(_last(ws / "la", "header"), 3, "SEX", "Z602560257806"), "SEX",
        absent=("Z602560257806",))),
    Case("ssda903-postcode-in-the-dob-column", **_validate_la(
        lambda ws: _set(_last(ws / "la", "header"), 3, "DOB", "SW1A 1AA"), "DOB",
        absent=("SW1A 1AA",))),
    Case("price-costs-weekly-7-billion", PRICE, "weekly_cost", setup=lambda ws: (
        ws / "england_2024_25.toml").write_text(re.sub(
            r"weekly_cost = [0-9.]+", "weekly_cost = 7.65e9",
            (ws / "england_2024_25.toml").read_text(), count=1))),
    Case("price-paths-measure-dropped", _with(PRICE, "--forecast", "nomeasure.parquet"),
         "repeat", setup=lambda ws: pl.read_parquet(ws / "paths.parquet").drop("measure")
         .write_parquet(ws / "nomeasure.parquet")),
    Case("settle-child-days-1e12", SETTLE, "child_days", setup=lambda ws: (
        ws / "actuals.toml").write_text(_actuals(
            "contract_year = 1\nentries = 1\nexits = 1\nmoves = 1\n"
            "[child_days]\nfostering = 1e12\n"))),
    Case("settle-indicator-890-percent", SETTLE, "indicators", setup=lambda ws: (
        ws / "actuals.toml").write_text(_actuals(
            "contract_year = 1\nentries = 1\nexits = 1\nmoves = 1\n"
            "[child_days]\nfostering = 16000\n").replace("= 60.0", "= 890.0", 1))),
    Case("settle-schedule-capitation-1e300", SETTLE, "capitation",
         setup=_edit_schedule("capitation", "1e300")),
    Case("forecast-junk-manifest", _with(FORECAST_LA, "--out", "mine/f.csv"),
         "not a cobic manifest", setup=lambda ws: (ws / "mine" / ".cobic-manifest.json")
         .write_text("my notes\n")),
    Case("forecast-seed-negative", FORECAST_LA + ["--seed", "-1"], "--seed"),
    Case("forecast-area-formula", FORECAST_LA + ["--area", '=HYPERLINK("http://x","y")'],
         "--area"),
    Case("forecast-out-name-too-long", _with(FORECAST_LA, "--out", "x" * 300 + ".csv"),
         "longer than 255"),
    Case("synth-population-nan", ["synth", "--out", "s", "--population", "nan"],
         "--population"),
    Case("synth-years-0", ["synth", "--out", "s", "--years", "0"], "--years"),
    Case("synth-unknown-scenario", ["synth", "--out", "s", "--scenario", "boom"],
         "--scenario"),
]


def _resolve_placeholders(args: list[str], ws: Path) -> list[str]:
    """``la/PLACEHOLDER`` stands for the first file of the LA folder (an input file)."""
    first = sorted((ws / "la").iterdir())[0].name
    return [a.replace("PLACEHOLDER", first) for a in args]


def test_the_catalogue_is_large_and_its_ids_unique():
    ids = [c.id for c in CASES]
    assert len(ids) == len(set(ids))
    assert len(CASES) >= 80
    commands = {c.args[0] for c in CASES}
    assert commands == {"validate", "synth", "forecast", "backtest", "price", "settle", "demo"}


def test_a_one_child_la_forecasts_a_bounded_future(ws: Path):
    """One child: rates borrow from their neighbours (partial pooling), so the forecast is
    about that one child ageing out plus a few entrants, not the 1e14 entrants the
    unpooled draws implied; it is written, and nothing else in the folder changes."""
    _keep_one_child(ws)
    before = _checksums(ws)
    res = runner.invoke(app, _resolve_placeholders(
        _with(FORECAST_LA, "--paths", "200") + ["--horizon", "3"], ws))
    assert res.exit_code == 0, res.output
    f = pl.read_csv(ws / "new.csv").filter((pl.col("placement_group") == "all")
                                           & (pl.col("age_band") == "all"))
    assert f.height == 3 and f["mean"].is_finite().all()
    assert (f["mean"] < 10).all() and (f["q95"] < 25).all(), f
    after = _checksums(ws)
    assert {k: v for k, v in after.items() if k not in ("new.csv", ".cobic-manifest.json")} \
        == {k: v for k, v in before.items() if k != ".cobic-manifest.json"}


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_hostile_input(case: Case, ws: Path, monkeypatch):
    if case.setup is not None:
        case.setup(ws)
    if case.env:
        for k, v in case.env.items():
            monkeypatch.setenv(k, str((ws / v).resolve()) if k == "HOME" else v)
    before = _checksums(ws)
    res = runner.invoke(app, _resolve_placeholders(case.args, ws))
    out = res.output
    assert res.exit_code == case.code, out
    assert "Traceback" not in out
    assert res.exception is None or isinstance(res.exception, SystemExit), repr(res.exception)
    assert re.search(case.message, out, re.I | re.S), out
    for text in case.absent:
        assert text not in out
    assert _checksums(ws) == before  # no output, no input or user file changed
    assert (ws / "mine" / "board-paper.docx").read_text() == "the board paper"


# ------------------------------------------------------------------ beyond the catalogue


def test_force_adds_outputs_beside_user_files_and_keeps_them(ws):
    res = runner.invoke(app, _with(PRICE, "--out", "mine") + ["--force"])
    assert res.exit_code == 0, res.output
    assert (ws / "mine" / "board-paper.docx").read_text() == "the board paper"
    assert (ws / "mine" / "schedule.csv").exists()
    # a second run replaces cobic's own outputs without --force, and still keeps the paper
    before = (ws / "mine" / "schedule.csv").read_bytes()
    res = runner.invoke(app, _with(PRICE, "--out", "mine") + ["--force", "--seed", "1"])
    assert res.exit_code == 0, res.output
    assert (ws / "mine" / "board-paper.docx").read_text() == "the board paper"
    assert (ws / "mine" / "schedule.csv").read_bytes() != before


def test_rerun_replaces_cobic_outputs_but_never_an_edited_one(ws):
    args = _with(FORECAST_LA, "--out", "again.csv")
    assert runner.invoke(app, args).exit_code == 0
    assert runner.invoke(app, args + ["--seed", "2"]).exit_code == 0  # its own file: replaced
    (ws / "again.csv").write_text("my edit\n")
    for extra in ([], ["--force"]):  # the edit is the user's: kept, with or without --force
        res = runner.invoke(app, args + extra)
        assert res.exit_code == 2 and "changed since" in res.output
        assert (ws / "again.csv").read_text() == "my edit\n"


def test_an_edited_output_in_a_folder_is_kept_even_with_force(ws):
    """An edited cobic output in an output folder stops the command before any work, with
    --force too, and the folder is left exactly as it was."""
    assert runner.invoke(app, _with(PRICE, "--out", "priced")).exit_code == 0
    (ws / "priced" / "risk.csv").write_text("my notes on the risk\n")
    before = {f.name: f.read_bytes() for f in (ws / "priced").iterdir()}
    res = runner.invoke(app, _with(PRICE, "--out", "priced") + ["--force", "--seed", "3"])
    assert res.exit_code == 2 and "risk.csv" in res.output and "even with --force" in res.output
    assert {f.name: f.read_bytes() for f in (ws / "priced").iterdir()} == before


def test_demo_out_existing_cobic_folder_is_refreshed_not_wiped(ws):
    res = runner.invoke(app, ["demo", "--out", "d"])
    assert res.exit_code == 0, res.output
    (ws / "d" / "notes.txt").write_text("my notes")
    res = runner.invoke(app, ["demo", "--out", "d"])
    assert res.exit_code == 2 and "notes.txt" in res.output
    res = runner.invoke(app, ["demo", "--out", "d", "--force"])
    assert res.exit_code == 0, res.output
    assert (ws / "d" / "notes.txt").read_text() == "my notes"
    assert (ws / "d" / "report.html").exists()


def test_memory_guard_refuses_fast_in_a_real_process(ws):
    """The installed command refuses --paths 100000 under a 0.5 GiB budget before simulating
    (well under 5 s of work: it reads the returns and estimates, it does not simulate)."""
    t0 = time.perf_counter()
    cobic = Path(sys.executable).parent / "cobic"
    proc = subprocess.run([str(cobic), *FORECAST_LA[:-2], "--paths", "100000",
                           "--memory-budget", "0.5"],
                          capture_output=True, text=True, cwd=ws, timeout=300)
    elapsed = time.perf_counter() - t0
    assert proc.returncode == 2, proc.stderr
    assert "memory" in proc.stderr and "--paths" in proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout
    assert not (ws / "new.csv").exists()
    print(f"refused in {elapsed:.1f} s")


def test_unexpected_error_is_one_line_with_a_pointer_to_debug(ws, monkeypatch):
    import cobic.data.ssda903 as ssda

    def boom(*a, **k):
        raise RuntimeError("something unforeseen")

    monkeypatch.setattr("cobic.cli.read_ssda903", boom)
    res = runner.invoke(app, ["validate", "--episodes", "la"])
    assert res.exit_code == 1
    assert "something unforeseen" in res.output and "--debug" in res.output
    assert "Traceback" not in res.output
    res = runner.invoke(app, ["--debug", "validate", "--episodes", "la"])
    assert isinstance(res.exception, RuntimeError)
    assert ssda.read_ssda903 is not boom


def test_terminal_tables_speak_money_not_code(ws):
    """What `cobic price`, `forecast` and `validate` print for people: no snake_case column or
    code, money as £m, chances as %; the CSV files keep their machine names."""
    res = runner.invoke(app, _with(PRICE, "--out", "plain"))
    assert res.exit_code == 0, res.output
    shown = res.output
    res = runner.invoke(app, _with(FORECAST_LA, "--out", "plain.csv"))
    assert res.exit_code == 0, res.output
    shown += res.output
    res = runner.invoke(app, ["validate", "--episodes", "la"])
    shown += res.output
    dfe = shared_data_dir() / "dfe"
    if dfe.is_dir():  # the calibration's tables too
        res = runner.invoke(app, ["costs", "--area", "Leeds", "--panel",
                                  str(dfe / "la_cla_panel_2015_2025.csv"), "--s251",
                                  str(dfe / "finance_s251_lait_england_and_selected_las.csv"),
                                  "--out", "leeds.toml"])
        assert res.exit_code == 0, res.output
        shown += res.output
    table_lines = [ln for ln in shown.splitlines() if ln.startswith(("│", "┃"))]
    assert table_lines
    coded = [ln for ln in table_lines if re.search(r"[a-z]_[a-z]", ln)]
    assert not coded, coded[:5]
    assert re.search(r"Capitation.*\n(.*\n)*.*£\d+\.\dm", shown)
    assert re.search(r"Chance of a\s+┃?", shown) and re.search(r"\d+%", shown)
    assert "commissioner_outlay" in pl.read_csv(ws / "plain" / "summary.csv")["measure"].to_list()


def _edit_latest_header_dob(la: Path, dob: str) -> tuple[str, int, str]:
    """Give the first child of the latest header file another DOB: (child, line, old DOB)."""
    hdr = sorted(la.glob("*-header.csv"))[-1]
    lines = hdr.read_text().splitlines()
    cells = lines[1].split(",")
    child, old = cells[0], cells[2]
    cells[2] = dob
    lines[1] = ",".join(cells)
    hdr.write_text("\n".join(lines) + "\n")
    return child, 2, old


def test_a_dob_that_differs_between_returns_is_a_warning_naming_both(ws):
    """The latest return's DOB is used (DfE do the same), but a changed DOB can move the
    child's age band: validate says so, naming both values and where each came from."""
    from datetime import datetime, timedelta

    hdr = sorted((ws / "la").glob("*-header.csv"))[-1]
    old = hdr.read_text().splitlines()[1].split(",")[2]
    new = (datetime.strptime(old, "%d/%m/%Y") + timedelta(days=3)).strftime("%d/%m/%Y")
    _edit_latest_header_dob(ws / "la", new)
    res = runner.invoke(app, ["validate", "--episodes", "la", "--report", "q.csv"])
    latest = hdr.name
    text = " ".join(res.output.split())
    assert res.exit_code == 0, res.output
    assert "warning:" in text and "Usable, with 1 warning" in text
    assert f"DOB {old}" in text and f"DOB {new}" in text and f"from {latest} line 2" in text
    detail = pl.read_csv(ws / "q.csv").filter(pl.col("change") == "header-conflict")["detail"]
    assert detail.len() == 1 and old in detail[0] and new in detail[0]


def test_an_impossible_dob_is_named_where_it_is_given(ws):
    """A DOB after the child's first episode: each episode refused names the CHILD and the
    header file and line the DOB comes from (the value to correct may be either)."""
    child, line, _ = _edit_latest_header_dob(ws / "la", "01/01/2024")
    res = runner.invoke(app, ["validate", "--episodes", "la"])
    assert res.exit_code == 2
    latest = sorted((ws / "la").glob("*-header.csv"))[-1].name
    text = " ".join(res.output.split())
    assert "[decom-before-birth]" in text and f"CHILD {child}" in text
    assert f"from {latest} line {line}" in text


def test_the_earlier_run_note_never_names_an_input(ws):
    """Pricing into the folder that holds the forecast: the note lists the forecast table left
    by the earlier run, never the paths file this command reads."""
    res = runner.invoke(app, ["forecast", "--episodes", "la", "--out", "fc/forecast.csv",
                              "--paths-out", "fc/paths.parquet", "--horizon", "7",
                              "--paths", "20"])
    assert res.exit_code == 0, res.output
    res = runner.invoke(app, _with(_with(PRICE, "--forecast", "fc/paths.parquet"), "--out",
                                   "fc") + ["--force"])
    assert res.exit_code == 0, res.output
    note = " ".join(res.output.split("note:")[1].split())
    assert "forecast.csv" in note and "paths.parquet" not in note
    assert (ws / "fc" / "paths.parquet").exists()
