"""Benchmark: read + check + stitch + derive SSDA903 returns at national scale.

Generates (once, cached in benchmarks/out/) a synthetic data set of about 80,000 children
looked after over 10 collection years, then times in a fresh process each:

* baseline: polars reading the same CSV files as text (the I/O floor, no checks);
* cobic: ``read_ssda903`` (every rule checked, years stitched, duplicates merged, overlaps
  resolved, row-level quality report) plus stock on every 31 March, entries, exits,
  child-days and moves (``derive.flow_balance`` and ``derive.stock``).

Reports wall time, the ratio to the baseline measured in the same run, and peak memory.
Targets (issue 2): under 30 s and 4 GiB on a 2-core machine. Usage::

    python benchmarks/bench_data_layer.py [--population 8000000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

OUT = Path(__file__).resolve().parent / "out"

BASELINE = """
import polars as pl, sys, glob
frames = [pl.read_csv(f, infer_schema=False) for f in sorted(glob.glob(sys.argv[1] + '/*.csv'))
          if f.endswith(('-header.csv', '-episodes.csv'))]
print(sum(f.height for f in frames))
"""

COBIC = """
import sys
from cobic.data.ssda903 import read_ssda903
from cobic.data import derive
d = read_ssda903(sys.argv[1])
fb = derive.flow_balance(d)
s = derive.stock(d)
e = derive.entries(d); x = derive.exits(d)
print(d.episodes.height, int(fb['stock_end'][-1]))
"""


def _run(code: str, folder: Path) -> tuple[float, float, str]:
    """Run ``code`` in a fresh interpreter; return wall seconds, peak RSS (GiB), stdout."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    t0 = time.perf_counter()
    res = subprocess.run([sys.executable, "-c", code, str(folder)], capture_output=True,
                         text=True, check=True)
    wall = time.perf_counter() - t0
    peak_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return wall, max(peak_kib, before) / 1024**2, res.stdout.strip()


def _dataset(population: float, seed: int) -> Path:
    folder = OUT / f"national_{int(population)}_{seed}"
    if (folder / "truth.csv").exists():
        return folder
    from cobic.data.synth import SynthSpec, generate, write_ssda903

    print(f"generating a synthetic data set for {population:,.0f} children aged 0-17 "
          "(once; cached)...", flush=True)
    t0 = time.perf_counter()
    la = generate(SynthSpec(population_0_17=population, seed=seed, name="National-scale LA"))
    write_ssda903(la, folder)
    la.truth.write_csv(folder / "truth.csv")
    print(f"  generated {la.children.height:,} children, {la.episodes.height:,} episodes in "
          f"{time.perf_counter() - t0:.1f} s", flush=True)
    return folder


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--population", type=float, default=8_000_000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    folder = _dataset(args.population, args.seed)
    import polars as pl

    truth = pl.read_csv(folder / "truth.csv")
    last = truth["year"].max()
    stock = truth.filter((pl.col("measure") == "stock") & (pl.col("year") == last))["value"].sum()
    rows = sum(f.read_bytes().count(b"\n") - 1 for f in folder.glob("*-episodes.csv"))
    print(f"data set: {folder.name}: {stock:,.0f} children looked after on 31 March {last}, "
          f"{rows:,} episode rows in 10 yearly files")

    results = []
    for i in range(args.repeat):
        b_wall, b_mem, _ = _run(BASELINE, folder)
        c_wall, c_mem, c_out = _run(COBIC, folder)
        results.append((b_wall, c_wall, c_mem))
        print(f"  run {i + 1}: baseline {b_wall:.2f} s, cobic {c_wall:.2f} s "
              f"(ratio {c_wall / b_wall:.1f}x), peak memory {c_mem:.2f} GiB; output {c_out}")
    b = sorted(r[0] for r in results)[len(results) // 2]
    c = sorted(r[1] for r in results)[len(results) // 2]
    mem = max(r[2] for r in results)
    summary = {"children_looked_after": stock, "episode_rows": rows, "baseline_s": round(b, 2),
               "cobic_s": round(c, 2), "ratio_to_baseline": round(c / b, 2),
               "peak_memory_gib": round(mem, 2), "target_s": 30, "target_gib": 4,
               "meets_target": c < 30 and mem < 4}
    print(json.dumps(summary, indent=1))
    (OUT / "bench_data_layer.json").write_text(json.dumps(summary, indent=1) + "\n")


if __name__ == "__main__":
    main()
