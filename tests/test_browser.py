"""Browser tests: serve the notebooks with ``marimo run --headless`` on localhost, open them in
headless Chromium (Debian's package) with Playwright, move a slider, and check the figure on
the page changes to what the library computes. Screenshots go to ``$COBIC_SCREENSHOTS``
(default ``screenshots/`` in the project)."""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

import pytest

from tests.test_notebooks import NOTEBOOKS, load

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
SHOTS = Path(os.environ.get("COBIC_SCREENSHOTS", ROOT / "screenshots"))
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]

pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(),
                                reason="Debian chromium not installed (.ci/run installs it)")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Served:
    def __init__(self, name: str):
        self.port = _free_port()
        marimo = Path(sys.executable).parent / "marimo"
        self.proc = subprocess.Popen(
            [str(marimo), "run", str(NOTEBOOKS / f"{name}.py"), "--headless", "--host",
             "127.0.0.1", "--port", str(self.port), "--no-token"],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=ROOT)
        self.url = f"http://127.0.0.1:{self.port}"
        deadline = time.time() + 60
        while time.time() < deadline:
            try:
                urllib.request.urlopen(self.url, timeout=2)
                return
            except OSError:
                if self.proc.poll() is not None:
                    raise RuntimeError(self.proc.stderr.read().decode()[-2000:]) from None
                time.sleep(0.3)
        self.close()
        raise RuntimeError(f"marimo run did not answer on {self.url}")

    def close(self):
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def _no_errors(page) -> None:
    """Nothing on the page reports an error (a failed cell or a chart that did not draw)."""
    text = page.inner_text("body")
    for bad in ("Traceback", "Error:", "An internal error occurred"):
        assert bad not in text, text[max(0, text.find(bad) - 200): text.find(bad) + 400]


def _figure(page, label: str) -> float:
    m = re.search(re.escape(label) + r"\s*GBP ([\d,.]+)m", page.inner_text("body"))
    assert m, f"{label!r} not on the page"
    return float(m.group(1).replace(",", ""))


@contextmanager
def _opened(name: str, wait_for: str):
    """Serve notebook ``name`` and yield a Chromium page once ``wait_for`` is shown."""
    from playwright.sync_api import sync_playwright

    SHOTS.mkdir(parents=True, exist_ok=True)
    server = Served(name)
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
            page = browser.new_page(viewport={"width": 1280, "height": 2200})
            page.goto(server.url, timeout=60_000)
            page.get_by_text(wait_for).first.wait_for(timeout=180_000)
            yield page
            browser.close()
    finally:
        server.close()


def _move_slider_and_read(name: str, slider: int, label: str, shot: str) -> tuple[float, float]:
    with _opened(name, label) as page:
        before = _figure(page, label)
        s = page.get_by_role("slider").nth(slider)
        s.focus()
        s.press("ArrowRight")
        page.wait_for_function(
            "([label, before]) => { const m = document.body.innerText.match("
            "new RegExp(label.replace(/[()]/g, '\\\\$&') + '\\\\s*GBP ([\\\\d,.]+)m'));"
            " return m && parseFloat(m[1].replace(/,/g, '')) !== before; }",
            arg=[label, before], timeout=120_000)
        time.sleep(1.0)  # let the charts finish drawing for the screenshot
        after = _figure(page, label)
        _no_errors(page)
        page.screenshot(path=str(SHOTS / shot), full_page=True)
    return before, after


def test_what_if_budget_slider_in_the_browser():
    before, after = _move_slider_and_read("what_if_budget", 6, "Scenario budget:",
                                          "what_if_budget.png")
    # the library, independently: efficiency 2% -> 2.5% (one slider step)
    _, defs = load("what_if_budget").app.run()
    model, levers = defs["budget_model"], defs["levers"]
    assert before == round(model.budget(levers)["scenario"].sum() / 1e6, 2)
    moved = replace(levers, efficiency=0.025)
    assert after == round(model.budget(moved)["scenario"].sum() / 1e6, 2)
    assert after < before


def test_contract_sizing_slider_in_the_browser():
    label = "Total capitation (nominal):"
    before, after = _move_slider_and_read("contract_sizing", 1, label, "contract_sizing.png")
    _, defs = load("contract_sizing").app.run()
    inputs = defs["contract_inputs"]
    from cobic.contract import apply_terms
    from cobic.contract.presets import sizing_terms

    def total(point):
        terms = sizing_terms(defs["base_terms"], **{**inputs, "point": point})
        priced = apply_terms(defs["simulated"].first_years(terms.length), terms,
                             defs["cost_spec"])
        return round(priced.capitation.sum() / 1e6, 2)

    assert before == total(0.50)
    assert after == total(0.55)  # the capitation percentile slider moved one step, P50 -> P55
    assert after > before


@pytest.mark.parametrize(("name", "text"), [("demand_explorer", "This area's backtest"),
                                            ("forecast_validation", "Accuracy gate")])
def test_other_notebooks_render_in_the_browser(name, text):
    """The analysts' notebooks load, compute and draw their charts in the browser."""
    with _opened(name, text) as page:
        page.locator(".vega-embed").first.wait_for(timeout=60_000)
        time.sleep(1.0)
        assert page.locator(".vega-embed").count() >= 1
        _no_errors(page)
        page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)
