"""Payment mechanisms compared on the same demand and cost paths.

Each mechanism is calibrated to the same expected payment where it has a rate to set, so the
comparison is about who carries which risk:

* ``block``: a fixed sum a year (the capitation); the provider carries all variance;
* ``tariff``: payment by results, a price per unit of activity (child-days and events at unit
  costs) scaled to the capitation in expectation; the provider carries price risk only;
* ``per_child_month``: a rate per child-month looked after (volume risk stays with the
  commissioner);
* ``case_rate``: Kansas-style declining case rate, 100% of the monthly rate for a child's first
  6 months in care, 66% for the next 6 and 29% after (needs days by time in care);
* ``cobic``: the contract as priced (capitation, bands, caps, incentives);
* ``cobic_multi_year`` (on request, ``multi_year=True``): the same yearly payments, then one
  end-of-contract reconciliation: the contract's own reconciliation and cumulative caps if it
  has them (the row then equals ``cobic``), else its yearly risk share (bands, caps) applied
  once to the cumulative variance over the cumulative payment (research/capitation.md 2.2,
  2.4), truing up the yearly shares. Variants that change the capitation paid (indexation, a
  reopener) must be priced: pass them as ``variants``.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import polars as pl

from cobic.contract.calculator import Priced, SimulatedCosts
from cobic.contract.rules import end_of_contract

__all__ = ["compare_mechanisms", "multi_year_net", "KANSAS_WEIGHTS"]

KANSAS_WEIGHTS = (1.0, 0.66, 0.29)


def _scaled(cap: np.ndarray, activity: np.ndarray) -> np.ndarray:
    mean = activity.mean(axis=0)
    return activity * (cap / np.where(mean > 0, mean, 1.0))[None, :]


def multi_year_net(priced: Priced) -> np.ndarray:
    """``[path, year]`` net to provider of ``cobic_multi_year`` (see the module docstring):
    the priced yearly amounts, the last year trued up to the reconciled cumulative share."""
    terms = priced.terms
    if not terms.multi_year_end:
        terms = replace(terms, reconciliation=terms.risk_share)
    yearly = priced.provider_share.copy()
    net = priced.net_to_provider.copy()
    if priced.end is not None:  # undo the priced adjustment: back to the yearly shares
        yearly[:, -1] -= priced.end.adjustment
        net[:, -1] += priced.end.adjustment
    end = end_of_contract(terms, priced.capitation_by_path, priced.target, priced.variance,
                          yearly, priced.composite)
    net[:, -1] -= end.adjustment
    return net


def payments(sim: SimulatedCosts, priced: Priced, multi_year: bool = False
             ) -> dict[str, np.ndarray]:
    """``[path, year]`` payments to the provider under each mechanism."""
    cap = priced.capitation
    out = {
        "block": np.broadcast_to(cap, sim.cost.shape).copy(),
        "tariff": _scaled(cap, sim.cost_expected_prices),
        "per_child_month": _scaled(cap, sim.child_days),
    }
    if sim.days_by_duration is not None:
        weighted = (sim.days_by_duration * np.array(KANSAS_WEIGHTS)[None, None, :]).sum(axis=2)
        out["case_rate"] = _scaled(cap, weighted)
    out["cobic"] = priced.net_to_provider
    if multi_year:
        out["cobic_multi_year"] = multi_year_net(priced)
    return out


def compare_mechanisms(sim: SimulatedCosts, priced: Priced,
                       variants: dict[str, Priced] | None = None,
                       multi_year: bool = False) -> pl.DataFrame:
    """Commissioner's cost and provider's margin over the whole contract, per mechanism:
    mean, spread (P10, P50, P90, standard deviation) and the chance of a provider loss.

    Parameters
    ----------
    variants : dict of str to Priced, optional
        Further contracts priced on the same ``sim`` (e.g. cost-indexed or with a reopener),
        one row each under its name.
    multi_year : bool
        Add the ``cobic_multi_year`` row (off by default: the rows of before).
    """
    rows = []
    cost = sim.cost.sum(axis=1)
    pays = payments(sim, priced, multi_year) | {k: v.net_to_provider for k, v in (variants or {}).items()}
    for name, pay in pays.items():
        total = pay.sum(axis=1)
        margin = total - cost
        rows.append({
            "mechanism": name,
            "commissioner_mean": float(total.mean()),
            "commissioner_p10": float(np.quantile(total, 0.1)),
            "commissioner_p50": float(np.quantile(total, 0.5)),
            "commissioner_p90": float(np.quantile(total, 0.9)),
            "commissioner_sd": float(total.std()),
            "provider_margin_mean": float(margin.mean()),
            "provider_margin_p10": float(np.quantile(margin, 0.1)),
            "provider_margin_p90": float(np.quantile(margin, 0.9)),
            "provider_margin_sd": float(margin.std()),
            "p_provider_loss": float((margin < 0).mean()),
        })
    return pl.DataFrame(rows)
