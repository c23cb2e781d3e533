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
