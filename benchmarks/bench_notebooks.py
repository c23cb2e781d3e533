"""Benchmark: notebook responsiveness and the one-command demo.

1. The recompute after a contract slider change (contract_sizing: the pricing and headline
   cells) and after a budget slider change (what_if_budget: a price lever, which re-costs the
   cached demand), measured in-process on the notebooks' own cells (target: under 100 ms),
   against running the whole notebook in the same run.
2. ``cobic demo`` end to end in a fresh process (target: under 30 s), against ``cobic --help``
   (interpreter and import start-up) in the same run.

Usage::

    python benchmarks/bench_notebooks.py [--repeat 10]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = Path(__file__).resolve().parent / "out"


def _load(name: str):
    spec = importlib.util.spec_from_file_location(f"nb_{name}", ROOT / "notebooks" / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _median(xs):
    return sorted(xs)[len(xs) // 2]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repeat", type=int, default=10)
    args = ap.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    res = {}

    nb = _load("contract_sizing")
    t0 = time.perf_counter()
    _, defs = nb.app.run()
    full = time.perf_counter() - t0
    refs = {k: defs[k] for k in ("apply_terms", "base_terms", "compare_mechanisms", "cost_bases",
                                 "cost_growth", "sizing_terms")}
    times = []
    for i in range(args.repeat):
        inputs = {**defs["contract_inputs"], "point": (50 + 5 * (i % 8)) / 100}
        t0 = time.perf_counter()
        _, d2 = nb.price_contract.run(contract_inputs=inputs, **refs)
        nb.show_headline.run(mo=defs["mo"], pl=defs["pl"], cost_growth=defs["cost_growth"],
                             base_terms=defs["base_terms"],
                             **{k: d2[k] for k in ("priced", "risk", "schedule", "summary",
                                                   "terms")})
        times.append(time.perf_counter() - t0)
    ms = _median(times) * 1000
    print(f"contract_sizing: recompute after a contract slider {ms:.1f} ms (median of "
          f"{args.repeat}); whole notebook {full:.1f} s; ratio {ms / 1000 / full:.4f}; "
          f"target < 100 ms: {'met' if ms < 100 else 'NOT met'}")
    res["contract_slider_ms"] = round(ms, 1)
    res["contract_notebook_s"] = round(full, 2)

    nb = _load("what_if_budget")
    t0 = time.perf_counter()
    _, defs = nb.app.run()
    full = time.perf_counter() - t0
    def recompute(levers) -> float:
        t0 = time.perf_counter()
        _, d2 = nb.compute_budget.run(budget_model=defs["budget_model"], levers=levers)
        nb.show_budget.run(band=d2["band"], budget=d2["budget"], levers=levers, mo=defs["mo"],
                           html_table=defs["html_table"])
        nb.show_chart.run(band=d2["band"], budget=d2["budget"], waterfall=d2["waterfall"],
                          chart_choice=defs["chart_choice"], charts=defs["charts"],
                          mo=defs["mo"])
        return time.perf_counter() - t0

    times = [recompute(replace(defs["levers"], efficiency=(i % 10) / 200))
             for i in range(args.repeat)]
    ms = _median(times) * 1000
    print(f"what_if_budget: recompute after a price slider {ms:.1f} ms (median of "
          f"{args.repeat}); whole notebook {full:.1f} s; ratio {ms / 1000 / full:.4f}; "
          f"target < 100 ms: {'met' if ms < 100 else 'NOT met'}")
    res["budget_slider_ms"] = round(ms, 1)
    res["budget_notebook_s"] = round(full, 2)
    # a demand lever re-simulates 300 paths (each new setting once: it is cached after)
    year = defs["years"][1]
    times = [recompute(replace(defs["levers"], entry_shock=0.05 * (i + 1), entry_shock_year=year))
             for i in range(min(args.repeat, 6))]
    ms = _median(times) * 1000
    print(f"what_if_budget: recompute after a new demand-lever setting {ms:.0f} ms (median of "
          f"{len(times)}; 300 paths); ratio to the whole notebook {ms / 1000 / full:.3f}; "
          f"target < 500 ms: {'met' if ms < 500 else 'NOT met'}")
    res["budget_demand_lever_ms"] = round(ms, 1)

    cobic = Path(sys.executable).parent / "cobic"
    t0 = time.perf_counter()
    subprocess.run([str(cobic), "--help"], check=True, capture_output=True)
    base = time.perf_counter() - t0
    with tempfile.TemporaryDirectory() as d:
        t0 = time.perf_counter()
        subprocess.run([str(cobic), "demo", "--out", str(Path(d) / "out")], check=True,
                       capture_output=True)
        demo = time.perf_counter() - t0
    print(f"cobic demo end to end: {demo:.1f} s (cobic --help: {base:.2f} s; ratio "
          f"{demo / base:.1f}x); target < 30 s: {'met' if demo < 30 else 'NOT met'}")
    res["demo_s"] = round(demo, 2)
    res["cli_startup_s"] = round(base, 2)
    (OUT / "bench_notebooks.json").write_text(json.dumps(res, indent=1) + "\n")


if __name__ == "__main__":
    main()
