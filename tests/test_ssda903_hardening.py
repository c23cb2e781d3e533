"""Hostile inputs to the SSDA903 reader: blank lines, dates after the collection year, file
names, two-digit and ISO dates, personal data in messages, unreadable files."""

from __future__ import annotations

import dataclasses
import re
import shutil
from pathlib import Path

import polars as pl
import pytest

from cobic.data import csvio, derive
from cobic.data.ssda903 import read_ssda903
from cobic.data.synth import SynthSpec, generate, write_ssda903
from cobic.errors import DataError

EP16, EP17, HD16, HD17 = ("2016-episodes.csv", "2017-episodes.csv", "2016-header.csv",
                          "2017-header.csv")
COMBINED_COLS = ("CHILD,SEX,DOB,ETHNIC,UPN,MOTHER,MC_DOB,DECOM,RNE,LS,CIN,PLACE,PLACE_PROVIDER,"
                 "DEC,REC,REASON_PLACE_CHANGE,HOME_POST,PL_POST,URN")
# Two children in a combined extract covering 2020-21 and 2021-22 (extract end 31/03/2022).
COMBINED_ROWS = [
    "A,2,29/02/2004,WBRI,A123456789012,,,01/04/2020,S,C2,N1,U4,PR1,11/04/2020,X1,,AB1 2CD,"
    "EF3 4GH,",
    "A,2,29/02/2004,WBRI,A123456789012,,,11/04/2020,P,C2,N1,K2,PR4,01/03/2022,E17,CARPL,"
    "AB1 2CD,EF3 4GH,",
    "D,2,10/10/2008,WBRI,,,,01/06/2021,S,V2,N4,U5,PR4,01/09/2021,X1,,,,",
    "D,2,10/10/2008,WBRI,,,,01/09/2021,L,C2,N4,U5,PR4,,,,,,",
]


@pytest.fixture(scope="module")
def la():
    spec = dataclasses.replace(SynthSpec(seed=5), population_0_17=8_000, n_years=2,
                               burn_in_years=6)
    return generate(spec)


@pytest.fixture(scope="module")
def good(la, tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("good")
    write_ssda903(la, folder)
    return folder


@pytest.fixture()
def copy(good, tmp_path) -> Path:
    folder = tmp_path / "la"
    shutil.copytree(good, folder)
    return folder


def _rows(p: Path) -> list[str]:
    return p.read_text().splitlines()


def _write(p: Path, rows: list[str]) -> None:
    p.write_text("\n".join(rows) + "\n")


def _set(p: Path, line: int, column: str, value: str) -> None:
    rows = _rows(p)
    cells = rows[line - 1].split(",")
    cells[rows[0].split(",").index(column)] = value
    rows[line - 1] = ",".join(cells)
    _write(p, rows)


def _closed_line(p: Path) -> int:
    rows = _rows(p)
    dec = rows[0].split(",").index("DEC")
    return next(i for i, r in enumerate(rows[1:], start=2) if r.split(",")[dec])


def _stock_truth(la) -> dict:
    t = la.truth.filter((pl.col("measure") == "stock") & (pl.col("value") > 0))
    return {(r["year"], r["placement_group"]): r["value"] for r in t.iter_rows(named=True)}


def _stock(data) -> dict:
    s = derive.stock(data).group_by("date", "placement_group").agg(pl.col("children").sum())
    return {(d.year, g): float(n) for d, g, n in s.iter_rows()}


def _core(df: pl.DataFrame) -> pl.DataFrame:
    return df.drop("file", "line")


def _problems(folder: Path, rule: str, **kw) -> list:
    with pytest.raises(DataError) as info:
        read_ssda903(folder, **kw)
    found = [p for p in info.value.problems if p.rule == rule]
    assert found, [str(p) for p in info.value.problems]
    return found


def _combined(tmp_path: Path, rows: list[str], name: str = "one.csv") -> Path:
    p = tmp_path / name
    p.write_text(COMBINED_COLS + "\n" + "\n".join(rows) + "\n")
    return p


# ------------------------------------------------------------------ blank lines

def test_blank_lines_are_ignored_and_counted(la, good, copy):
    (copy / EP17).write_text((copy / EP17).read_text() + "\n\n\n")  # three trailing
    rows = _rows(copy / HD16)
    _write(copy / HD16, rows[:5] + [",,,,,,", "   "] + rows[5:])  # interior, as Excel writes
    rows = _rows(copy / EP16)
    _write(copy / EP16, rows[:9] + [",,,,,,,,,,,,,,,,,,,,"] + rows[9:])  # more commas than columns
    clean, data = read_ssda903(good), read_ssda903(copy)
    assert _stock(data) == _stock_truth(la)
    assert _core(data.episodes).equals(_core(clean.episodes))
    assert _core(data.header).equals(_core(clean.header))
    assert derive.flow_balance(data).equals(derive.flow_balance(clean))
    q = data.quality_summary()
    blanks = {Path(f).name: n for f, n in q.select("file", "blank_lines").iter_rows()}
    assert blanks == {EP16: 1, EP17: 3, HD16: 2, HD17: 0}
    assert (q["kept"] + q["merged"] + q["dropped"] == q["read"]).all()
    assert q["read"].to_list() == clean.quality_summary()["read"].to_list()


def test_line_numbers_count_blank_lines(copy):
    rows = _rows(copy / EP17)
    _write(copy / EP17, rows[:4] + ["", ",,,"] + rows[4:])  # two blank lines before line 5
    _set(copy / EP17, 12, "PLACE", "Q9")  # was line 10 of the file as written
    [p] = _problems(copy, "code-PLACE")
    assert (p.row, p.column, p.value) == (12, "PLACE", "Q9")


def test_quoted_values_spanning_lines_keep_line_numbers(tmp_path):
    p = tmp_path / "q.csv"
    p.write_text('a,b,c\n"x\ny",2,3\n\n4,"5",6\n,,,,,\n7,8,9\n\n')
    t = csvio.read_text_table(p, ("a",))
    assert t.table["_line"].to_list() == [2, 5, 7]
    assert t.blank_lines == (4, 6, 8)


def test_only_blank_lines_is_no_rows(copy):
    _write(copy / EP17, [_rows(copy / EP17)[0], "", ",,,,", ""])
    [p] = _problems(copy, "no-rows")
    assert p.file.endswith(EP17)


# ------------------------------------------------------------------ DEC after the year

def test_dec_after_the_collection_year_is_rejected(copy):
    line = _closed_line(copy / EP17)
    _set(copy / EP17, line, "DEC", "02/04/2017")  # the year ends 31/03/2017
    with pytest.raises(DataError) as info:
        read_ssda903(copy, year_label="ending")
    [p] = info.value.problems
    assert p.file.endswith(EP17)
    assert (p.rule, p.row, p.column, p.value) == ("dec-after-year", line, "DEC", "02/04/2017")


def test_combined_dec_after_the_extract_end_is_rejected(tmp_path):
    rows = list(COMBINED_ROWS)
    rows[2] = rows[2].replace("01/09/2021,X1", "01/01/2025,X1")
    [p] = _problems(_combined(tmp_path, rows), "dec-after-year")
    assert (p.row, p.column, p.value) == (4, "DEC", "01/01/2025")


def test_combined_extract_end_and_day_after_it(tmp_path):
    data = read_ssda903(_combined(tmp_path, COMBINED_ROWS))
    assert data.collection_years == (2021, 2022)
    assert str(data.extract_end) == "2022-03-31"
    # an episode ending on 1 April covered 31 March: accepted (as in the published sample)
    rows = COMBINED_ROWS[:3] + ["D,2,10/10/2008,WBRI,,,,01/09/2021,L,C2,N4,U5,PR4,01/04/2022,E4A,,,,"]
    data = read_ssda903(_combined(tmp_path, rows, "two.csv"))
    assert str(data.extract_end) == "2022-03-31"


def test_combined_dates_in_the_future_are_rejected(tmp_path):
    rows = list(COMBINED_ROWS)
    rows[3] = rows[3].replace("01/09/2021,L", "01/09/2090,L")
    found = _problems(_combined(tmp_path, rows), "date-in-future")
    assert [(p.row, p.column, p.value) for p in found] == [(5, "DECOM", "01/09/2090")]


# ------------------------------------------------------------------ file names

def test_file_names_ignore_case_and_separator(la, good, copy):
    (copy / EP17).rename(copy / "2017_episodes.csv")
    (copy / HD16).rename(copy / "2016 Header.CSV")
    (copy / EP16).rename(copy / "2016-EPISODES.csv")
    data = read_ssda903(copy)
    assert data.collection_years == (2016, 2017)
    assert _stock(data) == _stock_truth(la)
    assert _core(data.episodes).equals(_core(read_ssda903(good).episodes))


def test_two_files_for_one_year_and_table_are_rejected(copy):
    shutil.copy(copy / EP16, copy / "2016-EPISODES.csv")
    [p] = _problems(copy, "duplicate-file")
    assert "2016-EPISODES.csv" in str(p) and "2016-episodes.csv" in str(p)


def test_near_miss_names_do_not_shorten_history(copy):
    (copy / EP17).rename(copy / "2017-episodes.CSV.bak")
    (copy / HD17).rename(copy / "header-2017.csv")
    found = _problems(copy, "file-name")
    assert sorted(Path(p.file).name for p in found) == ["2017-episodes.CSV.bak",
                                                        "header-2017.csv"]


def test_near_miss_beside_the_real_file_is_ignored_and_listed(good, copy):
    shutil.copy(copy / EP17, copy / "2017-episodes.csv.bak")
    (copy / "notes.txt").write_text("unrelated")
    data = read_ssda903(copy)
    assert data.collection_years == (2016, 2017)
    assert [Path(f).name for f in data.ignored_files] == ["2017-episodes.csv.bak"]


def test_folder_named_like_a_file_is_an_error(copy):
    for kind in ("header", "episodes"):
        (copy / f"2018-{kind}.csv").mkdir()
    found = _problems(copy, "file-missing")
    assert {Path(p.file).name for p in found} == {"2018-header.csv", "2018-episodes.csv"}


def test_unreadable_file_is_a_data_error(copy, monkeypatch):
    target = copy / HD17
    real = Path.read_bytes

    def read_bytes(self):
        if self == target:
            raise PermissionError(13, "Permission denied", str(self))
        return real(self)

    monkeypatch.setattr(Path, "read_bytes", read_bytes)
    [p] = _problems(copy, "file-unreadable")
    assert p.file == str(target)


def test_invalid_year_label_is_a_clear_value_error(good):
    with pytest.raises(ValueError, match=re.escape(
            "year_label must be one of ending, starting, auto; got 'end'")):
        read_ssda903(good, year_label="end")


# ------------------------------------------------------------------ date layouts

def test_two_digit_year_is_a_date_format_error(copy):
    _set(copy / EP17, 3, "DECOM", "01/04/17")
    with pytest.raises(DataError) as info:
        read_ssda903(copy)  # year_label auto: must not turn into a year-label problem
    assert {p.rule for p in info.value.problems} == {"date-format"}
    [p] = info.value.problems
    assert (p.row, p.column, p.value) == (3, "DECOM", "01/04/17")
    assert "4-digit year" in p.message and "dd/mm/YYYY" in p.message


def test_year_before_1900_is_rejected(copy):
    _set(copy / EP17, 3, "DECOM", "01/04/0018")
    _set(copy / HD17, 2, "DOB", "0018-04-01")
    found = _problems(copy, "date-range", year_label="ending")
    assert {(Path(p.file).name, p.row, p.column, p.value) for p in found} == {
        (EP17, 3, "DECOM", "01/04/0018"), (HD17, 2, "DOB", "0018-04-01")}
    assert "1900" in found[0].message


def _to_iso(text: str) -> str:
    return re.sub(r"\b(\d\d)/(\d\d)/(\d{4})\b", r"\3-\2-\1", text)


def test_iso_dates_are_read_and_reported(la, good, copy):
    for name in (EP17, HD17):
        (copy / name).write_text(_to_iso((copy / name).read_text()))
    rows = _rows(copy / EP16)  # a file mixing both layouts, row by row
    _write(copy / EP16, [r if i % 2 else _to_iso(r) for i, r in enumerate(rows)])
    data = read_ssda903(copy)
    assert _stock(data) == _stock_truth(la)
    assert _core(data.episodes).equals(_core(read_ssda903(good).episodes))
    assert data.date_formats == ("dd/mm/YYYY", "YYYY-mm-dd")
    formats = {Path(f).name: d for f, d in
               data.quality_summary().select("file", "date_formats").iter_rows()}
    assert formats == {EP16: "dd/mm/YYYY, YYYY-mm-dd", EP17: "YYYY-mm-dd",
                       HD16: "dd/mm/YYYY", HD17: "YYYY-mm-dd"}
    assert read_ssda903(good).date_formats == ("dd/mm/YYYY",)


def test_combined_file_with_iso_dates(tmp_path):
    want = read_ssda903(_combined(tmp_path, COMBINED_ROWS))
    got = read_ssda903(_combined(tmp_path, [_to_iso(r) for r in COMBINED_ROWS], "iso.csv"))
    assert got.collection_years == want.collection_years == (2021, 2022)
    assert _core(got.episodes).equals(_core(want.episodes))
    assert got.date_formats == ("YYYY-mm-dd",)


# ------------------------------------------------------------------ personal data in messages

def test_cross_field_rule_names_the_child_not_the_row(copy):
    ep, hd = copy / EP17, copy / HD17
    line = _closed_line(ep)
    child = _rows(ep)[line - 1].split(",")[0]
    _set(ep, line, "HOME_POST", "ZZ9 9ZZ")
    _set(ep, line, "PL_POST", "YY8 8YY")
    _set(ep, line, "DEC", "01/01/2000")  # before DECOM: a cross-column rule
    hline = next(i for i, r in enumerate(_rows(hd), start=1) if r.split(",")[0] == child)
    upn = _rows(hd)[hline - 1].split(",")[4]
    assert re.fullmatch(r"[A-Z]\d{12}", upn)
    _set(hd, hline, "MOTHER", "1")
    _set(hd, hline, "MC_DOB", "31/02/2015")  # not a date: its value must not be shown
    _set(hd, hline, "DOB", "01/01/2090")  # after the year: a frame-level header rule
    with pytest.raises(DataError) as info:
        read_ssda903(copy, year_label="ending")
    text = str(info.value)
    for secret in (upn, "ZZ9 9ZZ", "YY8 8YY", "31/02/2015", "{"):
        assert secret not in text
    rules = {p.rule: p for p in info.value.problems}
    assert {"dec-before-decom", "dob-plausible", "date-format"} <= set(rules)
    p = rules["dec-before-decom"]
    assert f"CHILD {child}" in p.message
    assert (p.row, p.column, p.value) == (line, "DEC", "01/01/2000")
    assert "DECOM" in p.message
    assert f"CHILD {child}" in rules["dob-plausible"].message
    assert rules["dob-plausible"].column == "DOB"
    assert (rules["date-format"].column, rules["date-format"].value) == ("MC_DOB", None)


def test_combined_cross_field_rule_hides_upn_and_postcodes(tmp_path):
    rows = list(COMBINED_ROWS)
    rows[0] = rows[0].replace("11/04/2020,X1", "01/01/2019,X1")  # DEC before DECOM
    found = _problems(_combined(tmp_path, rows), "dec-before-decom")
    text = " ".join(map(str, found))
    assert "CHILD A" in text
    for secret in ("A123456789012", "AB1 2CD", "EF3 4GH"):
        assert secret not in text
