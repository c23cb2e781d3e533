"""Placement mix: reading DfE placement breakdowns, share forecasts and their backtest.

The expected figures are worked by hand from the made-up table below (comments show the sums).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from cobic.costs import mix_weekly_costs
from cobic.demand import mix
from cobic.errors import DataError

HEADER = "la_name,new_la_code,time_period,cla_group,characteristic,cla_31_march_number,percentage"
TYPES = ("Foster placements", "Secure homes and children's homes",
         "Independent and semi-independent living arrangements/supported accommodation",
         "Placed with parents or other person with parental responsibility",
         "Placed for adoption", "Residential schools", "Other residential settings",
         "Other placements", "Total")
# counts in TYPES order: foster, children's homes, supported, parents, adoption,
# residential schools, other residential, other, total
TABLE = {
    ("A", 2021): (70, 10, 5, 5, 5, 0, 0, 5, 100),
    ("A", 2022): (90, 15, 6, 3, 3, 1, 1, 1, 120),
    ("A", 2023): (80, 16, 6, 2, 2, 2, 1, 1, 110),
    ("B", 2021): (40, 5, 2, 1, 1, 0, 0, 1, 50),
    ("B", 2022): (46, 8, 3, "c", 1, 0, 0, "c", 60),  # 58 published: 2 children hidden
    ("B", 2023): (42, 6, 3, 2, 1, 0, 0, 1, 55),
}
# unit costs for hand sums: a foster week costs 1, a children's home week 10, the rest 0
WEEKLY = {g: 0.0 for g in mix.MIX_GROUPS} | {"fostering": 1.0, "residential": 10.0}


def _rows(table: dict = TABLE) -> list[str]:
    rows = []
    for (la, year), counts in table.items():
        for kind, n in zip(TYPES, counts, strict=True):
            rows.append(f"{la},E0000000{la == 'B':d},{year},Placement,\"{kind}\",{n},")
        rows.append(f"{la},E0000000{la == 'B':d},{year},Age group,Total,{counts[-1]},100")
    return rows


def _write(tmp_path: Path, rows: list[str], name: str = "mix.csv") -> Path:
    p = tmp_path / name
    p.write_text("\n".join([HEADER, *rows]) + "\n", encoding="utf-8")
    return p


def _line(rows: list[str], la: str, year: int, kind: str) -> int:
    """The file line of a Placement row (the header is line 1)."""
    key = f"{la},E0000000{la == 'B':d},{year},Placement,\"{kind}\","
    return next(i for i, r in enumerate(rows) if r.startswith(key)) + 2


def _problems(err: pytest.ExceptionInfo) -> list:
    return err.value.problems


@pytest.fixture()
def table_mix(tmp_path: Path) -> mix.PlacementMix:
    return mix.read_placement_mix(_write(tmp_path, _rows()))


# ---------------------------------------------------------------- reading


def test_counts_by_group_and_year(table_mix):
    a = table_mix.wide("A")
    assert a["year"].to_list() == [2021, 2022, 2023]
    assert a["total"].to_list() == [100, 120, 110]
    assert a["residential"].to_list() == [10, 15, 16]
    # other = other residential settings + other placements: 0 + 5, 1 + 1, 1 + 1
    assert a["other"].to_list() == [5, 2, 2]
    assert a["suppressed"].to_list() == [0, 0, 0]
    assert table_mix.areas() == ["A", "B"]


def test_suppressed_cells_reported_and_kept(tmp_path):
    rows = _rows()
    m = mix.read_placement_mix(_write(tmp_path, rows))
    sup = m.suppressed
    assert sup.height == 2
    assert sup["characteristic"].to_list() == [TYPES[3], TYPES[7]]
    assert sup["placement_group"].to_list() == ["placed_with_parents", "other"]
    assert sup["marker"].to_list() == ["c", "c"]
    assert sup["meaning"].to_list() == ["suppressed (confidential)"] * 2
    assert sup["line"].to_list() == [_line(rows, "B", 2022, TYPES[3]),
                                     _line(rows, "B", 2022, TYPES[7])]
    b22 = m.wide("B").filter(pl.col("year") == 2022).row(0, named=True)
    # published parts 46 + 8 + 3 + 1 = 58 of 60: the 2 hidden children are kept, not dropped
    assert b22["suppressed"] == 2 and b22["placed_with_parents"] == 0 and b22["total"] == 60
    t = m.totals.filter((pl.col("area") == "B") & (pl.col("year") == 2022))
    assert t["suppressed_cells"].to_list() == [2]


def test_la_placement_counts_and_unknown_area(tmp_path):
    p = _write(tmp_path, _rows())
    assert mix.la_placement_counts(p, "B")["fostering"].to_list() == [40, 46, 42]
    with pytest.raises(KeyError, match="'C' is not in"):
        mix.la_placement_counts(p, "C")


def test_bad_cells_named_all_at_once(tmp_path):
    rows = _rows()
    i = _line(rows, "A", 2021, TYPES[0]) - 2
    j = _line(rows, "B", 2023, TYPES[1]) - 2
    rows[i] = rows[i].replace(",70,", ",seventy,")
    rows[j] = rows[j].replace(",6,", ",,")
    with pytest.raises(DataError) as err:
        mix.read_placement_mix(_write(tmp_path, rows))
    got = {(p.rule, p.row, p.column) for p in _problems(err)}
    assert ("not-a-number", i + 2, "cla_31_march_number") in got
    assert ("required", j + 2, "cla_31_march_number") in got
    assert str(tmp_path / "mix.csv") in str(err.value)


@pytest.mark.parametrize("change, rule", [
    (("A", 2022, TYPES[0], ",90,", ",85,"), "parts-do-not-add-up"),
    (("B", 2022, TYPES[0], ",46,", ",49,"), "parts-exceed-total"),
    (("A", 2023, "Total", ",110,", ",c,"), "total-suppressed"),
])
def test_totals_checked(tmp_path, change, rule):
    la, year, kind, old, new = change
    rows = _rows()
    i = _line(rows, la, year, kind) - 2
    rows[i] = rows[i].replace(old, new)
    with pytest.raises(DataError) as err:
        mix.read_placement_mix(_write(tmp_path, rows))
    (p,) = _problems(err)
    assert (p.rule, p.row, p.column) == (rule, _line(rows, la, year, "Total"),
                                         "cla_31_march_number")


def test_unknown_and_missing_placement_types(tmp_path):
    rows = _rows()
    i = _line(rows, "A", 2021, TYPES[5]) - 2
    rows[i] = rows[i].replace("Residential schools", "Boarding schools")
    with pytest.raises(DataError) as err:
        mix.read_placement_mix(_write(tmp_path, rows))
    rules = {(p.rule, p.column) for p in _problems(err)}
    assert ("unknown-placement", "characteristic") in rules
    assert ("missing-row", "characteristic") in rules  # A 2021 has no residential schools row
    assert any("Boarding schools" in str(p) for p in _problems(err))


def test_duplicate_row_and_no_placement_rows(tmp_path):
    rows = _rows()
    dup = rows + [rows[0]]
    with pytest.raises(DataError) as err:
        mix.read_placement_mix(_write(tmp_path, dup))
    assert [p.rule for p in _problems(err)] == ["duplicate-row"]
    ages = [r for r in rows if ",Age group," in r]
    with pytest.raises(DataError, match="no-placement-rows"):
        mix.read_placement_mix(_write(tmp_path, ages, "ages.csv"))


# ---------------------------------------------------------------- forecasts and backtest


def test_naive_shares_by_hand(table_mix):
    hist = table_mix.history()
    s = mix.naive_shares(hist.until(2022), 2)
    assert s.shape == (2, 2, len(mix.MIX_GROUPS))
    ri = mix.MIX_GROUPS.index("residential")
    assert s[0, :, ri] == pytest.approx([15 / 120, 15 / 120])
    assert s[1, 0, mix.MIX_GROUPS.index("suppressed")] == pytest.approx(2 / 60)
    np.testing.assert_allclose(s.sum(axis=2), 1.0)


def test_naive_backtest_errors_by_hand(table_mix):
    cases = mix.backtest_mix(table_mix.history(), ["naive"], [2021, 2022], [1, 2], WEEKLY)
    # origin 2021 h1, h2 and origin 2022 h1 (2024 is beyond the table): 3 x 2 LAs
    assert cases.height == 6
    a = cases.filter((pl.col("area") == "A") & (pl.col("origin") == 2021)).sort("horizon")
    # A: 10% residential in 2021; x the actual totals 120 and 110; x the naive total 100
    assert a["res_fc"].to_list() == pytest.approx([12.0, 11.0])
    assert a["res_fc_nt"].to_list() == pytest.approx([10.0, 10.0])
    # cost per child per week: 0.7 x 1 + 0.1 x 10 = 1.7; actual 2022: 90 x 1 + 15 x 10 = 240
    w = mix.WEEKS_PER_YEAR
    assert a["cost_fc"][0] == pytest.approx(1.7 * 120 * w)
    assert a["cost_actual"][0] == pytest.approx(240 * w)
    m = mix.mix_metrics(cases).filter(pl.col("model") == "naive").sort("horizon")
    # h1 APEs: A@2021 3/15 = 20%, B@2021 |6 - 8|/8 = 25%, A@2022 |13.75 - 16|/16 = 14.0625%,
    # B@2022 |8/60 x 55 - 6|/6 = 22.2222% (over): MAPE 20.3212%, bias -9.2101%
    h1 = m.row(0, named=True)
    assert h1["n"] == 4
    assert h1["res_mape"] == pytest.approx((20 + 25 + 14.0625 + 200 / 9) / 4)
    assert h1["res_bias"] == pytest.approx((-20 - 25 - 14.0625 + 200 / 9) / 4)
    assert h1["res_me"] == pytest.approx((-3 - 2 - 2.25 + 4 / 3) / 4)
    # h2 (origin 2021 only): A |11 - 16|/16 = 31.25%, B |5.5 - 6|/6 = 8.3333%
    h2 = m.row(1, named=True)
    assert h2["res_mape"] == pytest.approx((31.25 + 25 / 3) / 2)
    assert h2["res_bias"] == pytest.approx(-(31.25 + 25 / 3) / 2)
    # the naive total: A@2021 h1 10 vs 15 is 33.33% under
    a_nt = cases.filter((pl.col("area") == "A") & (pl.col("origin") == 2021)
                        & (pl.col("horizon") == 1))
    assert float((a_nt["res_fc_nt"] / a_nt["res_actual"])[0]) == pytest.approx(2 / 3)
    # cost h1 A@2021: |1.7 x 120 - 240| / 240 = 15%
    assert float((1 - a_nt["cost_fc"] / a_nt["cost_actual"])[0]) == pytest.approx(0.15)


def test_shrunk_is_naive_with_one_year(table_mix):
    hist = table_mix.history().until(2021)
    np.testing.assert_allclose(mix.shrunk_shares(hist, 2), mix.naive_shares(hist, 2))


def _two_group(res: list[float], n: float, areas: int = 2) -> mix.MixHistory:
    counts = np.array([[[n * (1 - r), n * r] for r in res]] * areas)
    return mix.MixHistory(tuple(f"LA{i}" for i in range(areas)),
                          tuple(range(2021, 2021 + len(res))), ("fostering", "residential"),
                          counts)


def test_shrunk_logit_trend_by_hand():
    # huge counts (no sampling noise), every LA and England on the same logit-linear trend:
    # residential 10% then 12%; the forecast carries the logit step forward
    hist, eng = _two_group([0.10, 0.12], 1e8), _two_group([0.10, 0.12], 1e8, areas=1)
    s = mix.shrunk_shares(hist, 2, eng)

    def logit(p):
        return math.log(p / (1 - p))

    step = logit(0.12) - logit(0.10)
    want = [1 / (1 + math.exp(-(logit(0.12) + h * step))) for h in (1, 2)]
    assert want[0] == pytest.approx(0.14337, abs=1e-5)
    np.testing.assert_allclose(s[:, :, 1], [want, want], rtol=1e-6)
    np.testing.assert_allclose(s.sum(axis=2), 1.0)


def test_shrunk_smooths_small_las_only():
    # the residential share alternates 10%, 14%, 10%, 14%: for 50 children (5 or 7 in
    # children's homes) that is noise (binomial sd of a share ~ 4.5 points), so the level is
    # pulled below the last 14%; for a million children it is taken as it stands
    small = mix.shrunk_shares(_two_group([0.1, 0.14, 0.1, 0.14], 50.0), 1, drift=False)
    large = mix.shrunk_shares(_two_group([0.1, 0.14, 0.1, 0.14], 1e6), 1, drift=False)
    assert 0.10 < small[0, 0, 1] < 0.135
    assert large[0, 0, 1] == pytest.approx(0.14, abs=1e-3)


def test_england_shares_and_model_names(table_mix):
    hist = table_mix.history()
    eng = mix.MixHistory(("England",), hist.years, ("fostering", "residential"),
                         np.array([[[90.0, 10.0], [80.0, 20.0], [75.0, 25.0]]]))
    s = mix.forecast_shares("england", hist.until(2022), 1, eng.until(2022))
    assert s[:, 0, mix.MIX_GROUPS.index("residential")] == pytest.approx([0.2, 0.2])
    assert s[:, 0, mix.MIX_GROUPS.index("supported")] == pytest.approx([0.0, 0.0])
    with pytest.raises(ValueError, match="needs England"):
        mix.forecast_shares("england", hist, 1)
    with pytest.raises(ValueError, match="unknown share model 'trend'"):
        mix.forecast_shares("trend", hist, 1)


def test_ratios_and_bar(table_mix):
    cases = mix.backtest_mix(table_mix.history(), ["naive", "shrunk"], [2021, 2022], [1, 2],
                             WEEKLY)
    m = mix.mix_metrics(cases)
    r = mix.ratios_to(m).filter(pl.col("model") == "naive")
    assert r["res_mape_ratio"].to_list() == [1.0, 1.0]
    # horizon 2 has origin 2021 only, where shrunk has one year of history: it is naive
    assert mix.meets_bar(m, "shrunk")
    assert mix.meets_bar(m, "naive", baseline="shrunk")


def test_weekly_costs_from_the_shipped_cost_set():
    w = mix_weekly_costs()
    assert set(w) == set(mix.MIX_GROUPS)
    assert w["residential"] == 7385.0 and w["fostering"] == 765.0
    assert w["suppressed"] == w["other"] == 2100.0


# ---------------------------------------------------------------- real data


def test_real_placement_breakdown(shared_data):
    d = shared_data / "dfe"
    la = mix.read_placement_mix(d / "la_selected_cla_characteristics_2021_2025.csv")
    assert len(la.areas()) == 15
    hist = la.history()
    assert hist.years == (2021, 2022, 2023, 2024, 2025)
    assert not np.isnan(hist.counts).any()
    np.testing.assert_allclose(hist.shares.sum(axis=2), 1.0)
    np.testing.assert_array_equal(la.totals["total"], la.totals["published_total"])
    assert la.suppressed.height > 0 and set(la.suppressed["marker"]) <= set("ckxz")
    assert la.suppressed.filter(pl.col("placement_group") == "residential").height == 0
    eng = mix.read_england_mix(d / "england_cla_31march_characteristics_2021_2025.csv")
    np.testing.assert_allclose(eng.history().shares.sum(axis=2), 1.0)
