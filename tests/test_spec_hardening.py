"""Hostile TOML inputs to contract terms, cost sets and settlement actuals: NaN, infinity, wrong
types, wrong shapes and unreadable files all raise SpecError naming the file and the key, never
another exception; a sweep mutates every value of the shipped specs."""

from __future__ import annotations

import json
import math
import tomllib
from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cobic.cli import app
from cobic.contract import load_actuals, load_contract
from cobic.costs import load_cost_spec
from cobic.errors import SpecError
from cobic.paths import models_dir

CONTRACTS = models_dir() / "contracts"
COSTS = models_dir() / "costs" / "england_2024_25.toml"
C5 = (CONTRACTS / "cobic_5yr.toml").read_text()
C7 = (CONTRACTS / "cobic_7yr.toml").read_text()
COST = COSTS.read_text()
TERMS5 = load_contract(CONTRACTS / "cobic_5yr.toml")
ACTUALS = ("contract_year = 2\nentries = 250\nexits = 240\nmoves = 200\n"
           "actual_cost = 9000000.0\n[child_days]\nfostering = 160000\nresidential = 20000\n"
           "[indicators]\n" + "".join(f'"{i.name}" = {i.baseline}\n'
                                      for i in TERMS5.indicators))


def _dump(value) -> str:
    """A value as inline TOML (enough for the sweep: tables, arrays, scalars, nan, inf)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return "nan" if math.isnan(value) else ("inf" if value == math.inf else
                                                "-inf" if value == -math.inf else repr(value))
    if isinstance(value, int | str):
        return json.dumps(value)
    if isinstance(value, list):
        return "[" + ", ".join(_dump(v) for v in value) + "]"
    return "{" + ", ".join(f"{json.dumps(k)} = {_dump(v)}" for k, v in value.items()) + "}"


def _dumps(doc: dict) -> str:
    return "".join(f"{json.dumps(k)} = {_dump(v)}\n" for k, v in doc.items())


def _load(kind: str, path: Path):
    if kind == "contract":
        return load_contract(path)
    if kind == "costs":
        return load_cost_spec(path)
    return load_actuals(path, TERMS5)


def _error(kind: str, tmp_path: Path, text: str) -> SpecError:
    p = tmp_path / f"{kind}.toml"
    p.write_text(text)
    with pytest.raises(SpecError) as info:
        _load(kind, p)
    assert str(p) in str(info.value)
    return info.value


# ------------------------------------------------------------ one case, one key

CONTRACT_CASES: list[tuple[str, Callable[[str], str], str, str]] = [
    ("nan funder share", lambda s: s.replace("share = 0.1\n", "share = nan\n"),
     "funders[1].share", "nan"),
    ("nan funder shares both", lambda s: s.replace("share = 0.9\n", "share = nan\n")
     .replace("share = 0.1\n", "share = nan\n"), "funders[0].share", "nan"),
    ("nan discount rate", lambda s: s.replace("discount_rate = 0.035", "discount_rate = nan"),
     "finance.discount_rate", "nan"),
    ("inf inflation", lambda s: s.replace("inflation = 0.02", "inflation = inf"),
     "finance.inflation", "inf"),
    ("inf reserve", lambda s: s.replace("provider_reserve = 1500000.0", "provider_reserve = inf"),
     "finance.provider_reserve", "inf"),
    ("nan incentive share", lambda s: s.replace("[0.0, 0.10, 0.10, 0.15, 0.15]",
                                                "[0.0, nan, 0.10, 0.15, 0.15]"),
     "incentive.share_by_year[1]", "nan"),
    ("nan weight", lambda s: s.replace("weight = 0.25\nbaseline = 10.5",
                                       "weight = nan\nbaseline = 10.5"),
     "indicators[0].weight", "nan"),
    ("inf floor", lambda s: s.replace("floor = 12.0", "floor = +inf"), "indicators[0].floor",
     "inf"),
    ("-inf sd", lambda s: s.replace("sd = 1.0", "sd = -inf"), "indicators[0].sd", "-inf"),
    ("nan band share", lambda s: s.replace("provider_share = 0.2 }", "provider_share = nan }"),
     "risk_share.loss_bands[2].provider_share", "nan"),
    ("nan band edge", lambda s: s.replace("upto = 0.08", "upto = nan"),
     "risk_share.loss_bands[1].upto", "nan"),
    ("nan step", lambda s: s.replace("at = 90.0", "at = nan"), "indicators[3].steps[1].at",
     "nan"),
    ("step not a table", lambda s: s.replace("{ at = 90.0, payout = 0.75 }", "90.0"),
     "indicators[3].steps[1]", "90.0"),
    ("nan gate", lambda s: s.replace("quality_gate = 0.25", "quality_gate = nan"),
     "incentive.quality_gate", "nan"),
    ("nan point", lambda s: s.replace('point = "P50"', 'point = "Pnan"'), "capitation.point",
     "nan"),
    ("inf length", lambda s: s.replace("length = 5", "length = inf"), "length", "inf"),
    ("nan length", lambda s: s.replace("length = 5", "length = nan"), "length", "nan"),
    ("huge integer length", lambda s: s.replace("length = 5", "length = " + "9" * 400),
     "length", "999"),
    ("bool length", lambda s: s.replace("length = 5", "length = true"), "length", "True"),
    ("string discount rate", lambda s: s.replace("discount_rate = 0.035",
                                                 'discount_rate = "3.5%"'),
     "finance.discount_rate", "'3.5%'"),
    ("symmetric as text", lambda s: s.replace("symmetric = true", 'symmetric = "no"'),
     "risk_share.symmetric", "'no'"),
    ("funders as a number", lambda s: _mutate(s, ("funders",), 3), "funders", "3"),
    ("indicators as a table", lambda s: _mutate(s, ("indicators",), {"a": 1}), "indicators",
     "{'a': 1}"),
    ("finance as a list", lambda s: _mutate(s, ("finance",), [1]), "finance", "[1]"),
    ("bands as text", lambda s: _mutate(s, ("risk_share", "loss_bands"), "wide"),
     "risk_share.loss_bands", "wide"),
    ("indicator name a number", lambda s: s.replace('name = "3+ placements in the year (%)"',
                                                    "name = 3"), "indicators[0].name", "3"),
]


@pytest.mark.parametrize(("name", "edit", "key", "echo"), CONTRACT_CASES,
                         ids=[c[0] for c in CONTRACT_CASES])
def test_bad_contract_value_names_the_key(tmp_path, name, edit, key, echo):
    e = _error("contract", tmp_path, edit(C5))
    assert e.key == key, str(e)
    assert echo in str(e)


def test_nan_in_hybrid_and_historic(tmp_path):
    e = _error("contract", tmp_path, C7.replace("corridor = ", "corridor = nan #"))
    assert e.key == "hybrid.corridor"
    hist = C5.replace('method = "forecast"', 'method = "historic"\nhistoric_outturn = nan\n'
                                             'historic_year = "2024-25"').replace(
        'point = "P50"', "")  # a point applies to a forecast capitation only
    assert _error("contract", tmp_path, hist).key == "capitation.historic_outturn"
    year = hist.replace("historic_outturn = nan", "historic_outturn = 1.0").replace(
        'historic_year = "2024-25"', "historic_year = [2024]")
    assert _error("contract", tmp_path, year).key == "capitation.historic_year"


COST_CASES: list[tuple[str, Callable[[str], str], str, str]] = [
    ("nan weekly cost", lambda s: s.replace("weekly_cost = 765.0", "weekly_cost = nan"),
     "placement[0].weekly_cost", "nan"),
    ("inf weekly cost", lambda s: s.replace("weekly_cost = 765.0", "weekly_cost = inf"),
     "placement[0].weekly_cost", "inf"),
    ("string weekly cost", lambda s: s.replace("weekly_cost = 765.0", 'weekly_cost = "765"'),
     "placement[0].weekly_cost", "'765'"),
    ("price year a number", lambda s: s.replace('price_year = "2020-21"', "price_year = 2021"),
     "placement[1].price_year", "2021"),
    ("price year far away", lambda s: s.replace('price_year = "2020-21"',
                                                'price_year = "9999-00"'),
     "placement[1].price_year", "9999-00"),
    ("provider a number", lambda s: s.replace('provider = "independent"', "provider = 1", 1),
     "placement[1].provider", "1"),
    ("nan indexation", lambda s: s.replace("default = 0.03", "default = nan"),
     "indexation.default", "nan"),
    ("nan overhead", lambda s: s.replace("rate = 0.12", "rate = nan"), "overheads.rate", "nan"),
    ("inf efficiency", lambda s: s.replace("rate = 0.02", "rate = inf"), "efficiency.rate",
     "inf"),
    ("nan case management", lambda s: s.replace("entry = 2500.0", "entry = nan"),
     "case_management.entry", "nan"),
    ("inf high-cost weeks", lambda s: s.replace("high_cost_weeks = 26.0",
                                                "high_cost_weeks = inf"),
     "uncertainty.high_cost_weeks", "inf"),
    ("zero high-cost mean", lambda s: s.replace("high_cost_mean_weekly = 14000.0",
                                                "high_cost_mean_weekly = 0.0"),
     "uncertainty.high_cost_mean_weekly", "0.0"),
    ("nan start-up", lambda s: s.replace("[250000.0, 50000.0]", "[250000.0, nan]"),
     "startup.by_year[1]", "nan"),
    ("start-up not a list", lambda s: s.replace("[250000.0, 50000.0]", '"250000"'),
     "startup.by_year", "'250000'"),
    ("nan provider mix", lambda s: s + "\n[provider_mix]\nfostering = nan\n",
     "provider_mix.fostering", "nan"),
    ("provider mix a list", lambda s: _mutate(s, ("provider_mix",), [0.5]), "provider_mix",
     "[0.5]"),
    ("placement a table", lambda s: _mutate(s, ("placement",), {"a": 1}), "placement",
     "{'a': 1}"),
    ("placement row a number", lambda s: _mutate(s, ("placement", 2), 7), "placement[2]", "7"),
    ("overheads a number", lambda s: _mutate(s, ("overheads",), 0.12), "overheads", "0.12"),
    ("indexation a list", lambda s: _mutate(s, ("indexation",), [0.03]), "indexation",
     "[0.03]"),
]


@pytest.mark.parametrize(("name", "edit", "key", "echo"), COST_CASES,
                         ids=[c[0] for c in COST_CASES])
def test_bad_cost_value_names_the_key(tmp_path, name, edit, key, echo):
    e = _error("costs", tmp_path, edit(COST))
    assert e.key == key, str(e)
    assert echo in str(e)


ACTUALS_CASES: list[tuple[str, Callable[[str], str], str, str]] = [
    ("bool contract year", lambda s: s.replace("contract_year = 2", "contract_year = true"),
     "contract_year", "True"),
    ("float contract year", lambda s: s.replace("contract_year = 2", "contract_year = 2.0"),
     "contract_year", "2.0"),
    ("contract year 0", lambda s: s.replace("contract_year = 2", "contract_year = 0"),
     "contract_year", "0"),
    ("contract year beyond the contract", lambda s: s.replace("contract_year = 2",
                                                             "contract_year = 6"),
     "contract_year", "6"),
    ("nan actual cost", lambda s: s.replace("actual_cost = 9000000.0", "actual_cost = nan"),
     "actual_cost", "nan"),
    ("inf actual cost", lambda s: s.replace("actual_cost = 9000000.0", "actual_cost = inf"),
     "actual_cost", "inf"),
    ("negative actual cost", lambda s: s.replace("actual_cost = 9000000.0",
                                                 "actual_cost = -1.0"), "actual_cost", "-1.0"),
    ("bool actual cost", lambda s: s.replace("actual_cost = 9000000.0", "actual_cost = true"),
     "actual_cost", "True"),
    ("inf child days", lambda s: s.replace("fostering = 160000", "fostering = inf"),
     "child_days.fostering", "inf"),
    ("string child days", lambda s: s.replace("fostering = 160000", 'fostering = "lots"'),
     "child_days.fostering", "'lots'"),
    ("child days a list", lambda s: _mutate(s, ("child_days",), [1]), "child_days", "[1]"),
    ("no child days", lambda s: _mutate(s, ("child_days",), {}), "child_days", "needs"),
    ("nan entries", lambda s: s.replace("entries = 250", "entries = nan"), "entries", "nan"),
    ("negative moves", lambda s: s.replace("moves = 200", "moves = -1"), "moves", "-1"),
    ("bool exits", lambda s: s.replace("exits = 240", "exits = false"), "exits", "False"),
    ("nan indicator", lambda s: s.replace(f"= {TERMS5.indicators[0].baseline}\n", "= nan\n"),
     f"indicators.{TERMS5.indicators[0].name}", "nan"),
    ("string indicator", lambda s: s.replace(f"= {TERMS5.indicators[0].baseline}\n",
                                             '= "ten"\n'),
     f"indicators.{TERMS5.indicators[0].name}", "'ten'"),
    ("indicators a list", lambda s: _mutate(s, ("indicators",), [1]), "indicators", "[1]"),
    ("child days an array of tables", lambda s: "contract_year = 2\n[[child_days]]\n",
     "child_days", "[{}]"),
]


@pytest.mark.parametrize(("name", "edit", "key", "echo"), ACTUALS_CASES,
                         ids=[c[0] for c in ACTUALS_CASES])
def test_bad_actuals_value_names_the_key(tmp_path, name, edit, key, echo):
    e = _error("actuals", tmp_path, edit(ACTUALS))
    assert e.key == key, str(e)
    assert echo in str(e)


def test_good_actuals_load(tmp_path):
    p = tmp_path / "a.toml"
    p.write_text(ACTUALS)
    a = load_actuals(p, TERMS5)
    assert (a.contract_year, a.actual_cost, a.child_days["fostering"]) == (2, 9e6, 160000.0)


def test_cli_settle_refuses_nan_actual_cost(tmp_path):
    (tmp_path / "schedule.csv").write_text("contract_year,capitation,expected_child_days\n"
                                           "2,10000000.0,180000.0\n")
    p = tmp_path / "a.toml"
    p.write_text(ACTUALS.replace("actual_cost = 9000000.0", "actual_cost = nan"))
    res = CliRunner().invoke(app, ["settle", "--contract", str(CONTRACTS / "cobic_5yr.toml"),
                                   "--priced", str(tmp_path), "--actuals", str(p)])
    assert res.exit_code == 2, res.output
    assert "actual_cost" in res.output and "finite" in res.output


# ------------------------------------------------------------ unreadable files

@pytest.mark.parametrize("kind", ["contract", "costs", "actuals"])
@pytest.mark.parametrize(("problem", "expect"), [
    ("missing", "no such file"), ("folder", "folder"), ("latin-1", "UTF-8"),
    ("bad TOML", "line 2"),
])
def test_unreadable_file_is_a_spec_error(tmp_path, kind, problem, expect):
    p = tmp_path / "spec.toml"
    if problem == "folder":
        p.mkdir()
    elif problem == "latin-1":
        p.write_bytes('name = "caf\xe9"\n'.encode("latin-1"))
    elif problem == "bad TOML":
        p.write_text('name = "x"\nlength = = 5\n')
    with pytest.raises(SpecError) as info:
        _load(kind, p)
    assert str(p) in str(info.value) and expect in str(info.value)


# ------------------------------------------------------------ the sweep

DELETE = "<deleted>"
BAD = {"number": [math.nan, math.inf, -1e308, "x", True, [1.0], 10**400, DELETE],
       "table": ["x", 1.0, [], DELETE], "array": ["x", 1.0, {}, DELETE],
       "text": [1.0, True, [], DELETE], "bool": ["x", 1, DELETE]}
SOURCES = {"cobic_5yr": ("contract", C5), "cobic_7yr": ("contract", C7),
           "aca_corridor": ("contract", (CONTRACTS / "aca_corridor.toml").read_text()),
           "england_costs": ("costs", COST), "actuals": ("actuals", ACTUALS)}


def _shape(v) -> str:
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, int | float):
        return "number"
    return "table" if isinstance(v, dict) else "array" if isinstance(v, list) else "text"


def _leaves(node, path=()):
    """Every (path, value) below ``node``, tables and arrays included."""
    items = node.items() if isinstance(node, dict) else enumerate(node)
    for k, v in items:
        yield (*path, k), v
        if isinstance(v, dict | list):
            yield from _leaves(v, (*path, k))


LEAVES = [(name, path) for name, (_, text) in SOURCES.items()
          for path, _ in _leaves(tomllib.loads(text))]


def _mutate(text: str, path: tuple, bad) -> str:
    doc = tomllib.loads(text)
    node = doc
    for k in path[:-1]:
        node = node[k]
    if bad is DELETE:
        del node[path[-1]]
    else:
        node[path[-1]] = bad
    return _dumps(doc)


@pytest.fixture(scope="module")
def sweep_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("sweep")


@pytest.mark.parametrize(("name", "path"), LEAVES,
                         ids=[f"{n}:{'.'.join(map(str, p))}" for n, p in LEAVES])
def test_sweep_gives_spec_error_or_loads(sweep_dir, name, path):
    kind, text = SOURCES[name]
    shape = _shape(_value(text, path))
    p = sweep_dir / f"{name}.toml"
    for bad in BAD[shape]:
        p.write_text(_mutate(text, path, bad))
        try:
            _load(kind, p)
        except SpecError as e:
            assert str(p) in str(e), bad
            continue
        # a number was read there: a non-finite one is never accepted
        assert not (shape == "number" and isinstance(bad, float) and not math.isfinite(bad)), \
            f"accepted {bad!r}"


def test_sweep_size():
    n = sum(len(BAD[_shape(_value(SOURCES[name][1], path))]) for name, path in LEAVES)
    assert n > 1000, n


def _value(text: str, path: tuple):
    node = tomllib.loads(text)
    for k in path:
        node = node[k]
    return node


def test_sweep_round_trips_the_shipped_files(tmp_path):
    for name, (kind, text) in SOURCES.items():
        p = tmp_path / f"{name}.toml"
        p.write_text(_dumps(tomllib.loads(text)))
        assert tomllib.loads(p.read_text()) == tomllib.loads(text)
        _load(kind, p)
