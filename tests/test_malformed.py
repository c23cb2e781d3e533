"""A catalogue of malformed inputs: each gives a clear error naming file, line/column and rule,
and the CLI exits with status 2 and writes nothing."""

from __future__ import annotations

import dataclasses
import shutil
from collections.abc import Callable
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

from cobic.cli import app
from cobic.data.dfe import read_panel
from cobic.data.ssda903 import read_ssda903
from cobic.data.synth import SynthSpec, generate, write_ssda903
from cobic.errors import DataError

GOOD_PANEL = """area,old_la_code,new_la_code,year,cla_31mar,cla_rate_per_10k,starts,ceased,mye_year,pop_0_17_mid_prev_year
England,970.0,,2024,83530,69,33130,33780,2023,12105450
Barnet,302.0,E09000003,2023,326,35,199,190,2022,93010
Barnet,302.0,E09000003,2024,310,33,175,191,2023,93340
"""


@pytest.fixture(scope="module")
def good_la(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("good")
    spec = dataclasses.replace(SynthSpec(seed=5), population_0_17=8_000, n_years=2,
                               burn_in_years=6)
    write_ssda903(generate(spec), folder)
    return folder


def _lines(p: Path) -> list[str]:
    return p.read_text().splitlines()


def _set_cell(p: Path, line: int, column: str, value: str) -> None:
    rows = _lines(p)
    cols = rows[0].split(",")
    cells = rows[line - 1].split(",")
    cells[cols.index(column)] = value
    rows[line - 1] = ",".join(cells)
    p.write_text("\n".join(rows) + "\n")


def _first_closed_episode_line(p: Path) -> int:
    rows = _lines(p)
    dec = rows[0].split(",").index("DEC")
    return next(i for i, r in enumerate(rows[1:], start=2) if r.split(",")[dec])


def _ep(folder: Path) -> Path:
    return folder / "2017-episodes.csv"


def _hdr(folder: Path) -> Path:
    return folder / "2017-header.csv"


# Each case: (name, how to break the copy, expected rule, expected file suffix, row?, column?)
def _missing_column(f):
    rows = _lines(_ep(f))
    cols = rows[0].split(",")
    i = cols.index("PLACE")
    _ep(f).write_text("\n".join(",".join(c for j, c in enumerate(r.split(",")) if j != i)
                                for r in rows) + "\n")


def _bad_date(f):
    _set_cell(_ep(f), 3, "DECOM", "2020-13-45")


def _dec_before_decom(f):
    line = _first_closed_episode_line(_ep(f))
    _set_cell(_ep(f), line, "DEC", "01/01/2000")


def _unknown_place(f):
    _set_cell(_ep(f), 2, "PLACE", "Q9")


def _unknown_rne(f):
    _set_cell(_ep(f), 2, "RNE", "Z")


def _dup_child_header(f):
    rows = _lines(_hdr(f))
    _hdr(f).write_text("\n".join(rows + [rows[1]]) + "\n")


def _same_start_different_episode(f):
    rows = _lines(_ep(f))
    cols = rows[0].split(",")
    cells = rows[1].split(",")
    cells[cols.index("PLACE")] = "K2" if cells[cols.index("PLACE")] != "K2" else "U4"
    _ep(f).write_text("\n".join(rows + [",".join(cells)]) + "\n")


def _empty(f):
    _ep(f).write_bytes(b"")


def _semicolons(f):
    _ep(f).write_text(_ep(f).read_text().replace(",", ";"))


def _latin1(f):
    rows = _lines(_hdr(f))
    data = "\n".join(rows).encode() + b"\n"
    data = data.replace(rows[3].encode(), rows[3].encode() + b"\xe9", 1)
    _hdr(f).write_bytes(data)


def _child_not_in_header(f):
    _set_cell(_ep(f), 2, "CHILD", "999999999")


def _dob_future(f):
    _set_cell(_hdr(f), 2, "DOB", "01/01/2090")


def _start_after_18(f):
    # the latest header gives the first child a DOB 25+ years before its episodes
    _set_cell(_hdr(f), 2, "DOB", "01/01/1990")


def _missing_header_file(f):
    (f / "2016-header.csv").unlink()


def _no_rows(f):
    _ep(f).write_text(_lines(_ep(f))[0] + "\n")


def _ragged(f):
    rows = _lines(_ep(f))
    rows[4] = rows[4] + ",EXTRA"
    _ep(f).write_text("\n".join(rows) + "\n")


def _rec_missing(f):
    line = _first_closed_episode_line(_ep(f))
    _set_cell(_ep(f), line, "REC", "")


def _blank_required(f):
    _set_cell(_ep(f), 3, "LS", "")


def _gap_year(f):
    for kind in ("header", "episodes"):
        shutil.copy(f / f"2017-{kind}.csv", f / f"2019-{kind}.csv")


SSDA903_CASES: list[tuple[str, Callable, str, str, bool, str | None]] = [
    ("missing column", _missing_column, "missing-column", "2017-episodes.csv", True, "PLACE"),
    ("unparseable date", _bad_date, "date-format", "2017-episodes.csv", True, "DECOM"),
    ("DEC before DECOM", _dec_before_decom, "dec-before-decom", "2017-episodes.csv", True, None),
    ("unknown PLACE code", _unknown_place, "code-PLACE", "2017-episodes.csv", True, "PLACE"),
    ("unknown RNE code", _unknown_rne, "code-RNE", "2017-episodes.csv", True, "RNE"),
    ("duplicate child in header", _dup_child_header, "header-duplicate-child",
     "2017-header.csv", True, "CHILD"),
    ("overlapping episodes with the same start", _same_start_different_episode,
     "episode-duplicate-start", "2017-episodes.csv", True, "DECOM"),
    ("empty file", _empty, "empty-file", "2017-episodes.csv", False, None),
    ("wrong delimiter", _semicolons, "delimiter", "2017-episodes.csv", True, None),
    ("non-UTF-8 bytes", _latin1, "encoding", "2017-header.csv", True, None),
    ("episode child not in header", _child_not_in_header, "child-not-in-header",
     "2017-episodes.csv", True, "CHILD"),
    ("date of birth in the future", _dob_future, "dob-plausible", "2017-header.csv", True, None),
    ("episode after the 18th birthday", _start_after_18, "decom-after-18", "-episodes.csv", True,
     "DECOM"),
    ("missing header file", _missing_header_file, "file-missing", "2016-header.csv", False, None),
    ("header line but no rows", _no_rows, "no-rows", "2017-episodes.csv", False, None),
    ("row with an extra field", _ragged, "field-count", "2017-episodes.csv", True, None),
    ("DEC without REC", _rec_missing, "rec-missing", "2017-episodes.csv", True, None),
    ("blank required value", _blank_required, "required", "2017-episodes.csv", True, "LS"),
    ("a year missing between returns", _gap_year, "year-missing", "", False, None),
]


def _panel_text_in_count(text):
    return text.replace("Barnet,302.0,E09000003,2023,326", "Barnet,302.0,E09000003,2023,abc")


def _panel_negative_population(text):
    return text.replace("2022,93010", "2022,-93010")


def _panel_duplicate(text):
    return text + text.splitlines()[2] + "\n"


def _panel_bad_year(text):
    return text.replace("Barnet,302.0,E09000003,2024", "Barnet,302.0,E09000003,24/25")


PANEL_CASES = [
    ("text in a count", _panel_text_in_count, "not-a-number", 3, "cla_31mar"),
    ("negative population", _panel_negative_population, "negative", 3, "pop_0_17_mid_prev_year"),
    ("duplicate area and year", _panel_duplicate, "duplicate-area-year", 3, "area"),
    ("year not a number", _panel_bad_year, "year", 4, "year"),
]


def test_catalogue_has_at_least_15_distinct_rules():
    rules = {c[2] for c in SSDA903_CASES} | {c[2] for c in PANEL_CASES}
    assert len(rules) >= 15


def test_good_inputs_are_usable(good_la, tmp_path):
    read_ssda903(good_la)
    p = tmp_path / "panel.csv"
    p.write_text(GOOD_PANEL)
    assert read_panel(p).table.height == 3


@pytest.mark.parametrize(("name", "breaker", "rule", "file_suffix", "has_row", "column"),
                         SSDA903_CASES, ids=[c[0] for c in SSDA903_CASES])
def test_malformed_ssda903(good_la, tmp_path, name, breaker, rule, file_suffix, has_row, column):
    folder = tmp_path / "la"
    shutil.copytree(good_la, folder)
    breaker(folder)
    with pytest.raises(DataError) as info:
        read_ssda903(folder, year_label="ending")
    problems = [p for p in info.value.problems if p.rule == rule]
    assert problems, f"{name}: expected rule {rule}, got {[str(p) for p in info.value.problems]}"
    p = problems[0]
    assert p.file.endswith(file_suffix)
    assert p.message
    if has_row:
        assert p.row is not None and p.row >= 1
    if column:
        assert p.column == column
    assert rule in str(info.value) and p.file in str(info.value)

    # the CLI: status 2, the problem named, nothing written
    report = tmp_path / "out" / "report.csv"
    before = sorted(x.name for x in folder.iterdir())
    res = CliRunner().invoke(app, ["validate", "--episodes", str(folder), "--report", str(report),
                                   "--year-label", "ending"])
    assert res.exit_code == 2
    assert rule in res.output
    assert not report.exists() and not report.parent.exists()
    assert sorted(x.name for x in folder.iterdir()) == before


@pytest.mark.parametrize(("name", "breaker", "rule", "line", "column"), PANEL_CASES,
                         ids=[c[0] for c in PANEL_CASES])
def test_malformed_panel(tmp_path, name, breaker, rule, line, column):
    p = tmp_path / "panel.csv"
    p.write_text(breaker(GOOD_PANEL))
    with pytest.raises(DataError) as info:
        read_panel(p)
    problems = [x for x in info.value.problems if x.rule == rule]
    assert problems, [str(x) for x in info.value.problems]
    assert problems[0].file == str(p)
    assert problems[0].row == line
    assert problems[0].column == column
    report = tmp_path / "report.csv"
    res = CliRunner().invoke(app, ["validate", "--panel", str(p), "--report", str(report)])
    assert res.exit_code == 2
    assert rule in res.output
    assert not report.exists()


def test_all_problems_are_listed_not_just_the_first(good_la, tmp_path):
    folder = tmp_path / "la"
    shutil.copytree(good_la, folder)
    _set_cell(_ep(folder), 2, "PLACE", "Q9")
    _set_cell(_ep(folder), 3, "RNE", "Z")
    _set_cell(folder / "2016-episodes.csv", 4, "DECOM", "31/02/2015")
    with pytest.raises(DataError) as info:
        read_ssda903(folder)
    rules = {p.rule for p in info.value.problems}
    assert {"code-PLACE", "code-RNE", "date-format"} <= rules


def test_exact_duplicate_row_is_dropped_and_reported(good_la, tmp_path):
    folder = tmp_path / "la"
    shutil.copytree(good_la, folder)
    rows = _lines(_ep(folder))
    _ep(folder).write_text("\n".join(rows + [rows[5]]) + "\n")
    clean = read_ssda903(good_la)
    data = read_ssda903(folder)
    assert data.episodes.height == clean.episodes.height
    dropped = data.quality.filter(pl.col("outcome") == "dropped")
    assert dropped.height == 1
    assert dropped["line"].item() == len(rows) + 1
    assert dropped["detail"].item() == "exact duplicate: identical to line 6 of the same file"
    q = data.quality_summary()
    assert (q["kept"] + q["merged"] + q["dropped"] == q["read"]).all()


def test_partial_overlap_is_resolved_and_reported(tmp_path):
    cols = ("CHILD,SEX,DOB,DECOM,RNE,LS,CIN,PLACE,PLACE_PROVIDER,DEC,REC")
    rows = ["A,1,01/01/2010,01/05/2020,S,C2,N1,U4,PR1,01/09/2020,X1",
            "A,1,01/01/2010,01/08/2020,P,C2,N1,K2,PR4,01/12/2020,E4A"]
    p = tmp_path / "one.csv"
    p.write_text(cols + "\n" + "\n".join(rows) + "\n")
    data = read_ssda903(p)
    assert data.episodes["DEC"].to_list()[0].isoformat() == "2020-08-01"
    rep = data.quality_report()
    assert rep["change"].to_list() == ["overlap-resolved"]
    assert rep["line"].to_list() == [2]
    assert "01/09/2020 set to 01/08/2020" in rep["detail"].item()


def test_episode_open_past_the_18th_birthday_is_an_error(tmp_path):
    cols = "CHILD,SEX,DOB,DECOM,RNE,LS,CIN,PLACE,PLACE_PROVIDER,DEC,REC"
    # the extract ends 31/03/2022 (the 31 March after the latest DECOM)
    rows = ["A,1,01/01/2004,01/05/2021,S,C2,N1,U4,PR1,,",  # 18 on 01/01/2022, still open
            "B,2,01/01/2012,01/05/2021,S,C2,N1,U4,PR1,01/03/2022,E4A"]
    p = tmp_path / "one.csv"
    p.write_text(cols + "\n" + "\n".join(rows) + "\n")
    with pytest.raises(DataError) as info:
        read_ssda903(p)
    [prob] = info.value.problems
    assert (prob.rule, prob.row, prob.column) == ("open-after-18", 2, "DEC")
