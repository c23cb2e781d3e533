"""How money is written for people, at the bottom of the layers (the contract's messages and
explanation lines use it; :mod:`cobic.report.vocabulary` re-exports it for every screen).

``money_m`` for totals (``£62.4m``), ``pounds`` for ledgers (``£62,443,120``), ``pence`` for
rates and explanation lines (``£200.00``); a negative amount is written ``-£16.0m``.
"""

from __future__ import annotations

__all__ = ["money_m", "pounds", "pence"]


def _sign(v: float, body: str) -> str:
    return f"-{body}" if v < 0 and body.strip("£0.,mk") else body


def money_m(v: float, dp: int = 1) -> str:
    """£m to ``dp`` decimals (totals): ``£62.4m``; amounts under £50k in whole pounds."""
    if abs(v) < 5e4:
        return pounds(v)
    return _sign(v, f"£{abs(v) / 1e6:,.{dp}f}m")


def pounds(v: float) -> str:
    """Whole pounds (ledgers): ``£62,443,120``."""
    return _sign(v, f"£{abs(v):,.0f}")


def pence(v: float) -> str:
    """Pounds and pence (rates, explanation lines): ``£200.00``."""
    return _sign(v, f"£{abs(v):,.2f}")
