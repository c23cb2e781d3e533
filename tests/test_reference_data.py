"""Readers of DfE tables and the shipped reference fixtures, against published figures."""

from __future__ import annotations

import polars as pl
import pytest

from cobic.costs import default_unit_costs_path, load_unit_costs
from cobic.data import dfe
from cobic.errors import SpecError
from cobic.paths import fixtures_dir


@pytest.fixture(scope="module")
def panel(shared_data):
    return dfe.read_panel(shared_data / "dfe" / "la_cla_panel_2015_2025.csv")


def test_england_rows_equal_the_typed_headline_fixture(panel):
    typed = pl.read_csv(fixtures_dir() / "england_headline_2015_2025.csv")
    eng = panel.series("England").select(typed.columns).with_columns(
        pl.col("cla_rate_per_10k").cast(pl.Int64))
    assert eng.equals(typed.cast(eng.schema))


def test_panel_markers_and_reorganisations(panel):
    # every '-' in cla_31mar is an area that did not exist that year
    dashes = panel.markers.filter((pl.col("column") == "cla_31mar") & (pl.col("marker") == "-"))
    assert dashes.height == panel.table.filter(pl.col("cla_31mar").is_null()).height
    reorg = dict(panel.reorganisations.select("area", "last_year").iter_rows())
    assert reorg["Northamptonshire"] == 2021
    assert reorg["Cumbria"] == 2023
    starts = dict(panel.reorganisations.select("area", "first_year").iter_rows())
    assert starts["North Northamptonshire"] == 2022
    assert starts["Westmorland and Furness"] == 2024


def test_complete_la_series_count(panel):
    # DOMAIN.md: "across 145 LAs with complete series"
    assert len(dfe.complete_series(panel, range(2015, 2026))) == 145


def test_unknown_area_names_candidates(panel):
    with pytest.raises(KeyError, match="Barnet"):
        panel.series("Barnetshire")


def test_population_reader(shared_data):
    pop = dfe.read_population(shared_data / "dfe" / "ons_mye_0_17_2012_2024_all_geographies.csv")
    eng = pop.filter((pl.col("area_level") == "england") & (pl.col("mid_year") == 2024))
    assert eng["population_0_17"].item() == 12_183_016
    # the nine regions (E12 codes; Inner/Outer London are E13 sub-regions) add up to England
    regions = pop.filter((pl.col("area_level") == "region") & (pl.col("mid_year") == 2024)
                         & pl.col("area_code").str.starts_with("E12"))
    assert regions.height == 9
    assert regions["population_0_17"].sum() == eng["population_0_17"].item()


def test_outcomes_reader(shared_data):
    o = dfe.read_outcomes(shared_data / "dfe" / "outcomes_lait_england_and_selected_las.csv")
    assert set(o["indicator"].unique()) >= {"CareLeaverEET", "CareLeaverAcc"}
    assert o["value"].drop_nulls().is_between(0, 100).all()


def test_unit_costs_match_published_s251(shared_data):
    uc = load_unit_costs(default_unit_costs_path())
    fin = pl.read_csv(shared_data / "dfe" / "finance_s251_lait_england_and_selected_las.csv",
                      infer_schema=False)
    eng = fin.filter((pl.col("area") == "England") & pl.col("year").str.starts_with("2024-25"))
    s251 = {r["measure"]: float(r["Values"]) for r in eng.iter_rows(named=True)}

    def cost(g, p="all"):
        return uc.filter((pl.col("placement_group") == g) & (pl.col("provider") == p))[
            "weekly_cost"].item()

    assert cost("fostering") == s251["FosteringFinance"]
    assert cost("residential") == s251["RescareFinance"]
    assert cost("other") == s251["LACFinance"]


def test_unit_cost_spec_errors_name_the_key(tmp_path):
    good = default_unit_costs_path().read_text()
    cases = {
        "unknown key": (good + "\nbogus = 1\n", "bogus"),
        "negative cost": (good.replace("weekly_cost = 765.0", "weekly_cost = -765.0"),
                          "placement[0].weekly_cost"),
        "unknown group": (good.replace('placement_group = "secure"', 'placement_group = "jail"'),
                          "placement_group"),
    }
    for name, (text, key) in cases.items():
        p = tmp_path / "c.toml"
        p.write_text(text)
        with pytest.raises(SpecError) as info:
            load_unit_costs(p)
        assert key in str(info.value), name


def test_characteristics_flows_and_finance_readers(shared_data):
    d = shared_data / "dfe"
    ch = dfe.read_england_characteristics(d / "england_cla_31march_characteristics_2021_2025.csv")
    fl = dfe.read_england_flows(d / "england_cla_flows_characteristics_2021_2025.csv")
    la = dfe.read_la_characteristics(d / "la_selected_cla_characteristics_2021_2025.csv")
    fin = dfe.read_finance(d / "finance_s251_lait_england_and_selected_las.csv")
    # England age groups at 31 March 2025 add up to the headline 81,770 (within DfE rounding)
    ages = ch.filter((pl.col("year") == 2025) & (pl.col("cla_group") == "Age group")
                     & (pl.col("characteristic") != "Total"))
    assert abs(ages["number"].sum() - 81_770) <= 10 * ages.height
    assert set(fl["flow"].unique()) >= {"ceased"}
    # suppressed cells are nulls with the marker kept, never zeros
    sup = la.filter(pl.col("suppressed").is_not_null())
    assert sup.height > 0 and sup["number"].null_count() == sup.height
    eng = fin.filter((pl.col("area") == "England") & (pl.col("measure") == "RescareFinance"))
    assert dict(eng.select("year", "value").iter_rows())[2025] == 7385.0
