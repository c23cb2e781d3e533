"""Derived measures on a tiny hand-made return, checked against numbers worked out by hand."""

from __future__ import annotations

from datetime import date

import polars as pl
import pytest

from cobic.codes import load_codes
from cobic.data import derive
from cobic.data.ssda903 import read_ssda903
from cobic.errors import SpecError
from cobic.paths import models_dir

COLS = ("CHILD,SEX,DOB,ETHNIC,UPN,MOTHER,MC_DOB,DECOM,RNE,LS,CIN,PLACE,PLACE_PROVIDER,DEC,REC,"
        "REASON_PLACE_CHANGE,HOME_POST,PL_POST,URN")
ROWS = [
    # A: born 29/02/2004 (leap day); in foster care 01/04/2020 - 11/04/2020 (10 days), then
    # residential from 11/04/2020 (a move) until her 18th birthday, 01/03/2022 (E17).
    "A,2,29/02/2004,WBRI,,,,01/04/2020,S,C2,N1,U4,PR1,11/04/2020,X1,,,,",
    "A,2,29/02/2004,WBRI,,,,11/04/2020,P,C2,N1,K2,PR4,01/03/2022,E17,CARPL,,,",
    # B: born 15/06/2019; in care 31/03/2021 - 31/03/2022 (left on 31 March: not counted that day)
    "B,1,15/06/2019,WBRI,,,,31/03/2021,S,V2,N1,U1,PR1,31/03/2022,E4A,,,,",
    # C: short breaks only (V3): never counted
    "C,1,01/01/2010,WBRI,,,,01/05/2020,S,V3,N1,U4,PR1,,,,,,",
    # D: legal-status change only (not a move), still looked after at the extract end
    "D,2,10/10/2008,WBRI,,,,01/06/2021,S,V2,N4,U5,PR4,01/09/2021,X1,,,,",
    "D,2,10/10/2008,WBRI,,,,01/09/2021,L,C2,N4,U5,PR4,,,,,,",
]


@pytest.fixture()
def data(tmp_path):
    p = tmp_path / "combined.csv"
    p.write_text(COLS + "\n" + "\n".join(ROWS) + "\n")
    return read_ssda903(p)


def test_extract_and_years(data):
    assert data.extract_end == date(2022, 3, 31)
    assert data.collection_years == (2021, 2022)


def test_stock_by_hand(data):
    s = derive.stock(data, on=[date(2021, 3, 31), date(2022, 3, 31)])
    got = {(d, g, a): n for d, g, _, a, n in s.iter_rows()}
    # 31/03/2021: A residential aged 17 (birthday 1 March in 2021), B fostering aged 1 (DECOM day)
    # 31/03/2022: A left 01/03/2022, B left that day; D fostering aged 13; C never counted
    assert got == {
        (date(2021, 3, 31), "residential", 17): 1,
        (date(2021, 3, 31), "fostering", 1): 1,
        (date(2022, 3, 31), "fostering", 13): 1,
    }
    with_breaks = derive.stock(data, on=date(2022, 3, 31), exclude_short_breaks=False)
    assert with_breaks["children"].sum() == 2  # C (V3) counted only when asked


def test_child_days_by_hand(data):
    cd = {(y, g): n for y, g, n in derive.child_days(data).iter_rows()}
    # 2020-21 (year 2021): A fostering 10 days; A residential 11/04/2020-31/03/2021 = 355 days;
    # B 31/03/2021 only = 1 day.
    # 2021-22 (year 2022): A residential 01/04/2021-28/02/2022 = 334 days; B 364 days
    # (01/04/2021-30/03/2022: left on 31/03); D 01/06/2021-31/03/2022 = 304 days.
    assert cd == {(2021, "fostering"): 11, (2021, "residential"): 355,
                  (2022, "fostering"): 364 + 304, (2022, "residential"): 334}


def test_flows_by_hand(data):
    fb = derive.flow_balance(data).to_dicts()
    assert fb[0] == {"year": 2021, "stock_start": 0, "entries": 2, "exits": 0,
                          "stock_end": 2, "child_days": 366, "moves": 1}
    assert fb[1] == {"year": 2022, "stock_start": 2, "entries": 1, "exits": 2, "stock_end": 1,
                     "child_days": 1002, "moves": 0}
    ex = derive.exits(data)
    assert dict(ex.select("exit_reason", "age").iter_rows()) == {
        "remained_with_carers_at_18": 17, "returned_home": 2}
    en = derive.entries(data)
    assert sorted(en["age"].to_list()) == [1, 12, 16]


def test_code_spec_errors_name_the_key(tmp_path):
    good = (models_dir() / "ssda903.toml").read_text()
    cases = {
        "unknown top-level key": (good + "\n[bogus]\nx = 1\n", "bogus"),
        "code in two groups": (good.replace('secure = ["K1"]', 'secure = ["K1", "K2"]'),
                               "placement_groups.secure"),
        "code in no group": (good.replace('secure = ["K1"]', "secure = []"), "placement_groups"),
        "age bands with a gap": (good.replace("min_age = 5", "min_age = 6"), "age_bands[2]"),
    }
    for name, (text, key) in cases.items():
        p = tmp_path / "codes.toml"
        p.write_text(text)
        with pytest.raises(SpecError) as info:
            load_codes(p)
        assert f"key '{key}'" in str(info.value), name


def test_periods_are_contiguous_runs(data):
    p = derive.periods_of_care(data)
    assert p.filter(pl.col("CHILD") == "A")["episodes"].to_list() == [2]
    assert p.filter(pl.col("CHILD") == "D")["end"].to_list() == [None]


# a second return for the period, move, age-band and short-break rules (mutation testing of
# cobic/data/derive.py found them unchecked); 2020-21 and 2021-22, extract end 31/03/2022
ROWS2 = [
    # E: born 01/01/2012. Period 1: fostering 01/05/2020, moved to residential 01/07/2020 (P),
    # home 01/09/2020. Period 2 after a gap (S): fostering from 01/12/2020, still in care.
    "E,1,01/01/2012,WBRI,,,,01/05/2020,S,C2,N1,U4,PR1,01/07/2020,X1,,,,",
    "E,1,01/01/2012,WBRI,,,,01/07/2020,P,C2,N1,K2,PR4,01/09/2020,E4A,CARPL,,,",
    "E,1,01/01/2012,WBRI,,,,01/12/2020,S,C2,N1,U4,PR1,,,,,,",
    # F: born 05/05/2005. Home on 01/06/2020, back after a gap on 01/08/2020 with RNE P: a new
    # period (the gap), not a move; still in care at the extract end, aged 16.
    "F,2,05/05/2005,WBRI,,,,01/05/2020,S,C2,N1,U4,PR1,01/06/2020,E4A,,,,",
    "F,2,05/05/2005,WBRI,,,,01/08/2020,P,C2,N1,U4,PR1,,,,,,",
    # G: short breaks only (V3), with a move and an exit: never counted by default
    "G,1,01/01/2015,WBRI,,,,01/06/2021,S,V3,N1,U4,PR1,03/06/2021,X1,,,,",
    "G,1,01/01/2015,WBRI,,,,03/06/2021,P,V3,N1,K2,PR4,05/06/2021,E4A,,,,",
    # H: born 10/10/2021, in foster care from 20/10/2021: aged 0 at the extract end
    "H,2,10/10/2021,WBRI,,,,20/10/2021,S,V2,N1,U4,PR1,,,,,,",
    # I: her first episode in the data starts with a legal-status change (L), not S: it still
    # begins her first period
    "I,2,03/03/2011,WBRI,,,,01/06/2020,L,C2,N1,U4,PR1,,,,,,",
    # J: a secure placement of no days (starts and ends on 15/01/2021): no child-days
    "J,1,01/02/2007,WBRI,,,,15/01/2021,S,C2,N1,K1,PR4,15/01/2021,E4A,,,,",
    # K: leaves on 01/04/2022, the day after the extract end: still in care on 31/03/2022
    "K,1,01/02/2009,WBRI,,,,01/10/2021,S,C2,N1,U4,PR1,01/04/2022,E4A,,,,",
]


@pytest.fixture()
def data2(tmp_path):
    p = tmp_path / "second.csv"
    p.write_text(COLS + "\n" + "\n".join(ROWS2) + "\n")
    return read_ssda903(p)


def test_periods_are_numbered_one_two_by_gaps_not_codes(data2):
    p = derive.periods_of_care(data2)  # the default leaves out G's short breaks
    got = {(c, n): e for c, n, e in p.select("CHILD", "period", "episodes").iter_rows()}
    assert got == {("E", 1): 2, ("E", 2): 1, ("F", 1): 1, ("F", 2): 1, ("H", 1): 1,
                   ("I", 1): 1, ("J", 1): 1, ("K", 1): 1}
    # K left after the extract end: open at the end of the data, with no exit reason
    k = p.filter(pl.col("CHILD") == "K")
    assert k["end"].to_list() == [None] and k["exit_reason"].to_list() == [None]


def test_an_episode_of_no_days_adds_no_child_days(data2):
    cd = derive.child_days(data2)
    assert cd.filter(pl.col("placement_group") == "secure").height == 0
    assert cd["child_days"].min() > 0


def test_moves_are_changes_inside_a_period_only(data2):
    # E's move to residential (2020-21) is the only one: F's return after a gap with RNE P
    # starts a period, and G's move is a short break
    assert derive.placement_moves(data2).rows() == [(2021, "residential", 1)]
    with_breaks = derive.placement_moves(data2, exclude_short_breaks=False)
    assert with_breaks.rows() == [(2021, "residential", 1), (2022, "residential", 1)]


def test_exits_leave_out_short_breaks_by_default(data2):
    # E home 01/09/2020 aged 8, F home 01/06/2020 aged 15, J home 15/01/2021 aged 13 (all
    # 2020-21; K leaves after the extract end); G only when asked
    assert sorted(derive.exits(data2).select("year", "age").rows()) == [
        (2021, 8), (2021, 13), (2021, 15)]
    assert derive.exits(data2, exclude_short_breaks=False)["exits"].sum() == 4


def test_stock_totals_by_age_band_and_group_by_hand(data2):
    # 31/03/2022, all fostering: E aged 10, F 16, H 0, I 11, K 13 (leaves the next day)
    bands = derive.stock_totals(data2, "age_band")
    assert bands.rows() == [("under 1", 1), ("10-15", 3), ("16-17", 1)]  # youngest first
    groups = derive.stock_totals(data2, "placement_group")
    assert groups.rows() == [("fostering", 5)]
    # 31/03/2021: E (period 2), F and I fostering
    assert derive.stock_totals(data2, "placement_group", on=date(2021, 3, 31)).rows() == [
        ("fostering", 3)]
    with pytest.raises(ValueError, match="by must be"):
        derive.stock_totals(data2, "age")


def test_stock_totals_sort_largest_group_first(data):
    # 30/04/2021: A residential, B fostering (D not yet in care): a tie, broken by name
    got = derive.stock_totals(data, "placement_group", on=date(2021, 4, 30)).rows()
    assert got == [("fostering", 1), ("residential", 1)]
    got = derive.stock_totals(data, "placement_group", on=date(2021, 9, 30)).rows()
    assert got == [("fostering", 2), ("residential", 1)]  # B and D fostering, A residential


def test_every_age_maps_to_its_band(data2):
    ages = pl.DataFrame({"age": list(range(18))})
    got = ages.select(band=derive.age_band_expr(data2, pl.col("age")))["band"].to_list()
    want = ["under 1"] + ["1-4"] * 4 + ["5-9"] * 5 + ["10-15"] * 6 + ["16-17"] * 2
    assert got == want


def test_open_episodes_end_the_day_after_the_extract(data2):
    eps = derive.episodes_in_scope(data2)
    assert "G" not in eps["CHILD"].to_list()  # short breaks left out by default
    open_ends = eps.filter(pl.col("DEC").is_null())["end"].unique().to_list()
    assert open_ends == [date(2022, 4, 1)]


def test_stock_dates_outside_the_data_are_refused(data2):
    # the data start 01/04/2020: the day before is the first allowed date (31/03/2020)
    assert derive.stock(data2, on=date(2020, 3, 31)).height == 0
    for bad in (date(2020, 3, 30), date(2022, 4, 1)):
        with pytest.raises(ValueError, match="the data cover 31/03/2020 to 31/03/2022"):
            derive.stock(data2, on=bad)
