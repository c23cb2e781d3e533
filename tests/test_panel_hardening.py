"""Hostile values in the DfE panel, the other DfE tables and a user's population CSV: each is a
located DataError (file, line, column, rule, value), never a pandera traceback or a silent null."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from cobic.data import dfe
from cobic.data.population import read_population_csv
from cobic.errors import DataError

HEADER = ("area,old_la_code,new_la_code,year,cla_31mar,cla_rate_per_10k,starts,ceased,mye_year,"
          "pop_0_17_mid_prev_year")
# line 2: England 2024; line 3: Barnet 2023; line 4: Barnet 2024
PANEL = f"""{HEADER}
England,970.0,,2024,83530,69,33130,33780,2023,12105450
Barnet,302.0,E09000003,2023,326,35,199,190,2022,93010
Barnet,302.0,E09000003,2024,310,33,175,191,2023,93340
"""
BARNET_2023 = "Barnet,302.0,E09000003,2023,326,35,199,190,2022,93010"
PANEL_COLS = HEADER.split(",")


def _with(cell: str, value: str, line: str = BARNET_2023) -> str:
    cells = line.split(",")
    cells[PANEL_COLS.index(cell)] = value
    assert line in PANEL
    return PANEL.replace(line, ",".join(cells))


def _problems(reader, path: Path, text: str) -> list:
    path.write_text(text)
    with pytest.raises(DataError) as info:
        reader(path)
    return info.value.problems


def _only(problems: list, rule: str) -> object:
    hits = [p for p in problems if p.rule == rule]
    assert len(hits) == 1, [str(p) for p in problems]
    return hits[0]


HOSTILE = [
    # (column, value as written, rule)
    *[("cla_31mar", v, "not-finite") for v in ("nan", "NaN", "inf", "-inf", "Infinity", "1e400")],
    *[("cla_rate_per_10k", v, "not-finite") for v in ("nan", "inf", "1e400")],
    *[("pop_0_17_mid_prev_year", v, "not-finite") for v in ("NaN", "Infinity")],
    ("cla_31mar", "99999999999999999999", "too-large"),
    ("pop_0_17_mid_prev_year", "99999999999999999999", "too-large"),
    ("starts", "TRUE", "not-a-number"),
    ("ceased", "FALSE", "not-a-number"),
    ("pop_0_17_mid_prev_year", "lots", "not-a-number"),
    ("old_la_code", "nan", "not-finite"),
    ("cla_31mar", "2000000000", "above-population"),
    ("starts", "93011", "above-population"),
    ("cla_rate_per_10k", "10000.5", "out-of-range"),
    ("year", "1999", "out-of-range"),
    ("mye_year", "1850", "out-of-range"),
    ("pop_0_17_mid_prev_year", "0", "out-of-range"),
    ("pop_0_17_mid_prev_year", "2000000000", "out-of-range"),
]


@pytest.mark.parametrize(("column", "value", "rule"), HOSTILE,
                         ids=[f"{c}={v}" for c, v, _ in HOSTILE])
def test_hostile_panel_value_is_a_located_error(tmp_path, column, value, rule):
    p = tmp_path / "panel.csv"
    problem = _only(_problems(dfe.read_panel, p, _with(column, value)), rule)
    assert (problem.file, problem.row, problem.column, problem.value) == (str(p), 3, column,
                                                                         value)
    assert problem.message


def test_a_count_without_population_is_still_bounded(tmp_path):
    line = "Barnet,302.0,E09000003,2023,2000000000,35,199,190,2022,x"
    problem = _only(_problems(dfe.read_panel, tmp_path / "p.csv", PANEL.replace(BARNET_2023, line)),
                    "out-of-range")
    assert (problem.row, problem.column, problem.value) == (3, "cla_31mar", "2000000000")


def test_every_hostile_cell_is_listed(tmp_path):
    line = "Barnet,302.0,E09000003,2023,nan,35,TRUE,190,2022,93010"
    text = PANEL.replace(BARNET_2023, line).replace("2024,310", "2024,inf")
    problems = _problems(dfe.read_panel, tmp_path / "p.csv", text)
    assert {(p.row, p.column, p.rule) for p in problems} == {
        (3, "cla_31mar", "not-finite"), (3, "starts", "not-a-number"),
        (4, "cla_31mar", "not-finite")}


def test_a_tenfold_typo_reads_with_a_warning(tmp_path):
    p = tmp_path / "p.csv"
    p.write_text(PANEL.replace("2024,310,", "2024,3100,"))
    panel = dfe.read_panel(p)
    assert panel.table.filter(panel.table["area"] == "Barnet")["cla_31mar"].to_list() == [326,
                                                                                        3100]
    [w] = panel.warnings
    assert (w.file, w.rule, w.row, w.column, w.value) == (str(p), "year-on-year-jump", 4,
                                                          "cla_31mar", "3100")
    assert "Barnet" in w.message


@pytest.mark.parametrize(("before", "after"), [("326", "310"), ("326", "970"), ("10", "35")])
def test_no_warning_within_the_factor_or_for_small_counts(tmp_path, before, after):
    p = tmp_path / "p.csv"
    p.write_text(PANEL.replace("2023,326,", f"2023,{before},").replace("2024,310,",
                                                                       f"2024,{after},"))
    assert dfe.read_panel(p).warnings == []


def _csv_non_null(path: Path) -> dict[str, int]:
    with path.open(newline="") as f:
        rows = list(csv.DictReader(f))
    return {c: sum(1 for r in rows if r[c].strip() not in ("", *dfe.MARKERS))
            for c in ("cla_31mar", "cla_rate_per_10k", "starts", "ceased",
                      "pop_0_17_mid_prev_year")}


def test_real_panel_reads_unchanged_without_warnings(shared_data):
    path = shared_data / "dfe" / "la_cla_panel_2015_2025.csv"
    panel = dfe.read_panel(path)
    expected = _csv_non_null(path)
    assert expected["cla_31mar"] == 1870 - 73  # 73 '-' for areas that did not exist
    assert {c: panel.table[c].count() for c in expected} == expected
    assert panel.table["cla_31mar"].sum() == sum(
        int(r["cla_31mar"]) for r in csv.DictReader(path.open()) if r["cla_31mar"] != "-")
    assert panel.warnings == []


# ---------------------------------------------------------------- the other DfE readers

ONS = ("time_period,time_identifier,geographic_level,country_code,country_name,region_code,"
       "region_name,old_la_code,new_la_code,la_name,age_group,population_estimate\n"
       "2024,Reporting year,National,E92000001,England,,,,,,Children aged 0 to 17 years,"
       "12183016\n"
       "2024,Reporting year,Local authority,E92000001,England,E12000001,North East,841,"
       "E06000005,Darlington,Children aged 0 to 17 years,{pop}\n")


@pytest.mark.parametrize(("pop", "rule"), [("0", "out-of-range"), ("nan", "not-finite"),
                                           ("TRUE", "not-a-number"), ("1e400", "not-finite")])
def test_ons_population_hostile_values(tmp_path, pop, rule):
    p = tmp_path / "ons.csv"
    problem = _only(_problems(dfe.read_population, p, ONS.format(pop=pop)), rule)
    assert (problem.row, problem.value) == (3, pop)
    assert problem.column in ("population_estimate", "population_0_17")


def test_ons_population_year_out_of_range(tmp_path):
    text = ONS.format(pop="22771").replace("2024,Reporting year,Local", "1989,Reporting year,Local")
    problem = _only(_problems(dfe.read_population, tmp_path / "o.csv", text), "out-of-range")
    assert (problem.row, problem.column, problem.value) == (3, "mid_year", "1989")


def test_ons_markers_are_kept_as_nulls_not_dropped(shared_data):
    path = shared_data / "dfe" / "ons_mye_0_17_2012_2024_all_geographies.csv"
    rows = list(csv.DictReader(path.open()))
    pop = dfe.read_population(path)
    assert pop.height == len(rows)
    assert pop["suppressed"].to_list().count("x") == sum(
        r["population_estimate"] == "x" for r in rows) == 21


def test_outcomes_finance_and_characteristics_give_located_errors(tmp_path):
    out = "LA and Regions,Short Desc,Years,Values\nBarnet,CareLeaverEET,2016,55\n"
    problem = _only(_problems(dfe.read_outcomes, tmp_path / "o.csv",
                              out.replace(",55", ",155")), "out-of-range")
    assert (problem.row, problem.column, problem.value) == (2, "value", "155.0")
    problem = _only(_problems(dfe.read_outcomes, tmp_path / "o.csv",
                              out.replace("2016", "1999")), "out-of-range")
    assert (problem.row, problem.column) == (2, "year")
    fin = "area,measure,year,Values\nEngland,LACFinance,2024-25 (OT),2100.0\n"
    problem = _only(_problems(dfe.read_finance, tmp_path / "f.csv",
                              fin.replace("2100.0", "inf")), "not-finite")
    assert (problem.row, problem.column, problem.value) == (2, "Values", "inf")
    ch = "time_period,cla_group,characteristic,cla_31_march_number,percentage\n" \
         "2025,Age group,1 to 4 years,11630,14\n"
    problem = _only(_problems(dfe.read_england_characteristics, tmp_path / "c.csv",
                              ch.replace(",14", ",140")), "out-of-range")
    assert (problem.row, problem.column, problem.value) == (2, "percentage", "140")
    problem = _only(_problems(dfe.read_england_characteristics, tmp_path / "c.csv",
                              ch.replace("2025", "1999")), "out-of-range")
    assert (problem.row, problem.column) == (2, "year")


# ---------------------------------------------------------------- a user's population CSV

BY_AGE = "year,age,population\n" + "".join(
    f"{y},{a},{100 + a}.5\n" for y in (2023, 2024) for a in range(18))


def test_population_csv_by_age_is_summed(tmp_path):
    p = tmp_path / "pop.csv"
    p.write_text(BY_AGE)
    pop = read_population_csv(p)
    assert pop.columns == ["year", "population"]
    assert pop.rows() == [(2023, 18 * 100.5 + 153), (2024, 18 * 100.5 + 153)]


def test_population_csv_without_age(tmp_path):
    p = tmp_path / "pop.csv"
    p.write_text("year,population\n2024,60000\n2023,59000\n")
    assert read_population_csv(p).rows() == [(2023, 59000.0), (2024, 60000.0)]


POP_CASES = [
    # (text, rule, line, column, value)
    ("year,population\n2024,lots\n", "not-a-number", 2, "population", "lots"),
    ("year,population\n2024,nan\n", "not-finite", 2, "population", "nan"),
    ("year,population\n2024,inf\n", "not-finite", 2, "population", "inf"),
    ("year,population\n2023,1\n2024,0\n", "not-positive", 3, "population", "0"),
    ("year,population\n2024,-5\n", "negative", 2, "population", "-5"),
    ("year,population\n2024,\n", "required", 2, "population", None),
    ("year,population\n2024.5,100\n", "not-a-whole-number", 2, "year", "2024.5"),
    ("year,population\nTRUE,100\n", "not-a-number", 2, "year", "TRUE"),
    ("year,population\n1850,100\n", "out-of-range", 2, "year", "1850"),
    ("year,population\n2024,100\n2023,100\n2024,100\n", "duplicate-year", 4, "year", "2024"),
    ("year,age,population\n2024,3,100\n2024,3,100\n", "duplicate-year-age", 3, "age", "3"),
    ("year,age,population\n2024,18,100\n", "out-of-range", 2, "age", "18"),
    ("year,pop\n2024,100\n", "missing-column", 1, "population", None),
]


@pytest.mark.parametrize(("text", "rule", "line", "column", "value"), POP_CASES,
                         ids=[c[1] + "-" + str(c[4]) for c in POP_CASES])
def test_population_csv_hostile(tmp_path, text, rule, line, column, value):
    p = tmp_path / "pop.csv"
    problem = _only(_problems(read_population_csv, p, text), rule)
    assert (problem.file, problem.row, problem.column, problem.value) == (str(p), line, column,
                                                                         value)


def test_population_csv_missing_file(tmp_path):
    with pytest.raises(DataError) as info:
        read_population_csv(tmp_path / "nope.csv")
    assert [p.rule for p in info.value.problems] == ["file-missing"]
