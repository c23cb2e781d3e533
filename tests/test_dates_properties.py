"""Date rules against a second implementation written with the standard library.

Every function of ``cobic/data/dates.py`` is compared with plain ``datetime`` arithmetic on
random dates (hypothesis) and on the calendar's edges: 29 February births in leap, common and
century years (1900 and 2100 are common, 2000 is leap), the day of a birthday itself, 31 March
and 1 April, and the years the parser accepts.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cobic.data import dates

DAY0 = dt.date(1970, 1, 1)
any_date = st.dates(min_value=dt.date(1890, 1, 1), max_value=dt.date(2110, 12, 31))


def is_leap(y: int) -> bool:
    return y % 4 == 0 and (y % 100 != 0 or y % 400 == 0)


def ref_birthday(dob: dt.date, years: int) -> dt.date:
    """The ``years``-th birthday; a 29 February birth has it on 1 March in common years."""
    y = dob.year + years
    if dob.month == 2 and dob.day == 29 and not is_leap(y):
        return dt.date(y, 3, 1)
    return dt.date(y, dob.month, dob.day)


def ref_age(dob: dt.date, on: dt.date) -> int:
    return on.year - dob.year - ((on.month, on.day) < (dob.month, dob.day))


FEB29 = [dt.date(1896, 2, 29), dt.date(1980, 2, 29), dt.date(1996, 2, 29),
         dt.date(2000, 2, 29), dt.date(2084, 2, 29), dt.date(2096, 2, 29)]


@given(d=any_date)
def test_day_number_counts_days_from_1970(d):
    assert dates.day_number(d) == (d - DAY0).days


@settings(max_examples=60, deadline=None)
@given(dobs=st.lists(any_date, min_size=1, max_size=30), years=st.integers(0, 20))
def test_birthday_days_matches_calendar_arithmetic(dobs, years):
    got = dates.birthday_days(np.array([(d - DAY0).days for d in dobs]), years)
    want = [(ref_birthday(d, years) - DAY0).days for d in dobs]
    assert got.tolist() == want


@pytest.mark.parametrize("years", [1, 4, 16, 18, 20])
def test_birthdays_of_29_february_births_across_century_years(years):
    days = dates.birthday_days(np.array([(d - DAY0).days for d in FEB29]), years)
    want = [ref_birthday(d, years) for d in FEB29]
    assert [DAY0 + dt.timedelta(days=int(v)) for v in days] == want
    got = pl.DataFrame({"dob": FEB29}).select(b=dates.birthday(pl.col("dob"), years))["b"]
    assert got.to_list() == want


def test_century_rules_by_hand():
    """1896 + 4 = 1900 (common: 1 March), 1980 + 20 = 2000 (leap: 29 February),
    2084 + 16 = 2100 (common: 1 March), 1996 + 4 = 2000."""
    df = pl.DataFrame({"dob": [dt.date(1896, 2, 29), dt.date(1980, 2, 29),
                               dt.date(2084, 2, 29), dt.date(1996, 2, 29)],
                       "k": [4, 20, 16, 4]})
    got = [df.slice(i, 1).select(b=dates.birthday(pl.col("dob"), int(k)))["b"][0]
           for i, k in enumerate(df["k"])]
    assert got == [dt.date(1900, 3, 1), dt.date(2000, 2, 29), dt.date(2100, 3, 1),
                   dt.date(2000, 2, 29)]


@settings(max_examples=60, deadline=None)
@given(pairs=st.lists(st.tuples(any_date, any_date), min_size=1, max_size=30),
       years=st.integers(0, 20))
def test_polars_birthday_and_age_match_the_standard_library(pairs, years):
    dob = [min(a, b) for a, b in pairs]
    on = [max(a, b) for a, b in pairs]
    df = pl.DataFrame({"dob": dob, "on": on}).select(
        b=dates.birthday(pl.col("dob"), years), age=dates.age_on(pl.col("dob"), pl.col("on")))
    assert df["b"].to_list() == [ref_birthday(d, years) for d in dob]
    assert df["age"].to_list() == [ref_age(d, o) for d, o in zip(dob, on, strict=True)]


def test_age_changes_on_the_birthday_itself():
    dob = dt.date(2008, 6, 15)
    on = [dt.date(2026, 6, 14), dt.date(2026, 6, 15), dt.date(2026, 6, 16)]
    ages = pl.DataFrame({"dob": [dob] * 3, "on": on}).select(
        a=dates.age_on(pl.col("dob"), pl.col("on")))["a"].to_list()
    assert ages == [17, 18, 18]


@given(d=any_date)
def test_collection_year_runs_1_april_to_31_march(d):
    want = d.year + (d.month >= 4)
    got = pl.DataFrame({"d": [d]}).select(y=dates.collection_year_of(pl.col("d")))["y"][0]
    assert got == want
    assert dates.year_start(want) <= d <= dates.year_end(want)
    assert dates.year_start(want) == dt.date(want - 1, 4, 1)
    assert dates.year_end(want) == dt.date(want, 3, 31)


def _parse(texts, bounded=True):
    return pl.DataFrame({"s": texts}).select(
        d=dates.parse_date(pl.col("s"), bounded=bounded))["d"].to_list()


def test_parser_accepts_exactly_the_stated_years():
    lo, hi = dates.MIN_YEAR, dates.MAX_YEAR
    texts = [f"01/01/{lo - 1}", f"01/01/{lo}", f"31/12/{hi}", f"01/01/{hi + 1}",
             f"{lo}-01-01", f"{hi + 1}-01-01"]
    assert _parse(texts) == [None, dt.date(lo, 1, 1), dt.date(hi, 12, 31), None,
                             dt.date(lo, 1, 1), None]
    assert (lo, hi) == (1900, 2099)
    assert _parse([f"01/01/{hi + 1}"], bounded=False) == [dt.date(hi + 1, 1, 1)]
    assert _parse(["31/02/2020", "2020/01/01", "1/2/20", None]) == [None, None, None, None]
    assert _parse(["1/2/2020", "2020-2-1"]) == [dt.date(2020, 2, 1)] * 2


def test_bounded_is_given_by_name():
    with pytest.raises(TypeError):
        dates.parse_date(pl.col("s"), True)  # noqa: FBT003 (the point of the test)


def test_date_format_names_each_layout_whatever_the_year():
    got = pl.DataFrame({"s": ["01/02/2020", "2020-02-01", "2150-02-01", "01/02/1850",
                              "2020/02/01", None]}).select(
        f=dates.date_format_of(pl.col("s")))["f"].to_list()
    assert got == ["dd/mm/YYYY", "YYYY-mm-dd", "YYYY-mm-dd", "dd/mm/YYYY", None, None]
