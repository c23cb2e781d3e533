"""Browser tests: serve the notebooks with ``marimo run --headless`` on localhost, open them in
headless Chromium (Debian's package) with Playwright, move a slider, and check the figure on
the page changes to what the library computes. Screenshots go to ``$COBIC_SCREENSHOTS``
(default ``screenshots/`` in the project).

No fixed waits: each notebook's last cell renders ``<div id="cobic-ready">`` once the cells it
depends on (the computing and drawing ones) have produced output, with a fresh ``data-run`` on
every re-run; the tests wait for it (a generous ceiling, not a sleep, failing early if the page
shows an error), then for every vega chart to hold its drawn svg or canvas."""

from __future__ import annotations

import json
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

READY_TIMEOUT_S = 600  # a ceiling for a busy machine, not a wait
# the marker is shown, and (after a control moved) is a new one
_READY_JS = ("(before) => { const m = document.querySelector('#cobic-ready[data-ready=\"1\"]');"
             " return !!m && m.dataset.run !== before; }")
# every vega chart on the page (charts live in shadow roots) has drawn its marks
_DRAWN_JS = """() => {
  const charts = [];
  const walk = (root) => root.querySelectorAll('*').forEach((e) => {
    if (e.classList.contains('vega-embed')) charts.push(e);
    if (e.shadowRoot) walk(e.shadowRoot);
  });
  walk(document);
  return charts.length > 0 && charts.every((c) => c.querySelector('svg.marks, canvas.marks'));
}"""

pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(),
                                reason="Debian chromium not installed (.ci/run installs it)")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Served:
    def __init__(self, name: str, args: tuple[str, ...] = ()):
        self.port = _free_port()
        marimo = Path(sys.executable).parent / "marimo"
        self.proc = subprocess.Popen(
            [str(marimo), "run", str(NOTEBOOKS / f"{name}.py"), "--headless", "--host",
             "127.0.0.1", "--port", str(self.port), "--no-token", *(("--", *args) if args
                                                                     else ())],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=ROOT)
        self.url = f"http://127.0.0.1:{self.port}"
        deadline = time.time() + 180
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
    m = re.search(re.escape(label) + r"\s*(?:GBP |£)(-?[\d,.]+)m", page.inner_text("body"),
                  re.I)  # card labels may be shown in capitals
    assert m, f"{label!r} not on the page"
    return float(m.group(1).replace(",", ""))


def _ready_run(page) -> str:
    return page.locator("#cobic-ready").get_attribute("data-run")


def _wait_ready(page, before: str | None = None, polling: float | str = 250) -> None:
    """Wait for the notebook's ready marker (a new one if ``before``), then for its charts.

    Fails as soon as the page shows an error rather than at the ceiling. ``polling`` is how
    often the page is checked (ms, or ``"raf"``: every animation frame, which the latency
    benchmark uses so that its resolution is finer than the 200 ms it measures against).
    """
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    deadline = time.monotonic() + READY_TIMEOUT_S
    while True:
        try:
            page.wait_for_function(_READY_JS, arg=before, timeout=5_000, polling=polling)
            break
        except PlaywrightTimeout:
            _no_errors(page)
            assert time.monotonic() < deadline, f"no ready marker in {READY_TIMEOUT_S} s"
    left = max(deadline - time.monotonic(), 60)
    page.wait_for_function(_DRAWN_JS, timeout=left * 1000, polling=polling)


@contextmanager
def _opened(name: str, args: tuple[str, ...] = ()):
    """Serve notebook ``name`` (with notebook ``args``) and yield a Chromium page once the
    notebook is ready and its charts are drawn."""
    from playwright.sync_api import sync_playwright

    SHOTS.mkdir(parents=True, exist_ok=True)
    server = Served(name, args)
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
            page = browser.new_page(viewport={"width": 1440, "height": 2200})
            page.goto(server.url, timeout=120_000)
            _wait_ready(page)
            yield page
            browser.close()
    finally:
        server.close()


def _move_slider_and_read(name: str, slider: int, label: str, shot: str) -> tuple[float, float]:
    with _opened(name) as page:
        before, run = _figure(page, label), _ready_run(page)
        s = page.get_by_role("slider").nth(slider)
        s.focus()
        s.press("ArrowRight")
        _wait_ready(page, before=run)  # the cells downstream of the slider have re-run
        after = _figure(page, label)
        _no_errors(page)
        page.screenshot(path=str(SHOTS / shot), full_page=True)
    return before, after


def test_what_if_budget_slider_in_the_browser():
    # with fitted cost growth (the default) the fixed-uplift sliders are hidden, so the fifth
    # slider is efficiency
    before, after = _move_slider_and_read("what_if_budget", 4, "Scenario budget:",
                                          "what_if_budget.png")
    # the library, independently: efficiency 0% -> 0.5% (one slider step)
    _, defs = load("what_if_budget").app.run()
    model, levers = defs["budget_model"], defs["levers"]
    assert levers.fitted_growth and levers.efficiency == 0
    assert before == round(model.budget(levers)["scenario"].sum() / 1e6, 1)
    moved = replace(levers, efficiency=0.005)
    assert after == round(model.budget(moved)["scenario"].sum() / 1e6, 1)
    assert after < before


def test_contract_sizing_slider_in_the_browser():
    label = "Total capitation"
    before, after = _move_slider_and_read("contract_sizing", 1, label, "contract_sizing.png")
    _, defs = load("contract_sizing").app.run()
    inputs = defs["contract_inputs"]
    from cobic.contract import apply_terms
    from cobic.contract.presets import sizing_terms

    spec, simulated = defs["cost_bases"][defs["cost_growth"]]

    def total(point):
        terms = sizing_terms(defs["base_terms"], **{**inputs, "point": point})
        priced = apply_terms(simulated.first_years(terms.length), terms, spec)
        return round(priced.capitation.sum() / 1e6, 1)

    assert before == total(0.50)
    assert after == total(0.55)  # the capitation percentile slider moved one step, P50 -> P55
    assert after > before


# forecast validation backtests the whole DfE panel (about a minute idle, minutes on a busy
# machine); in the browser it runs 2 origins x 2 horizons x 200 paths (users get the full one)
SMALL_BACKTEST = ("--origins=2021,2022", "--horizons=1,2", "--paths=200")


@pytest.mark.parametrize(("name", "args", "text"), [
    ("demand_explorer", (), "This area's backtest"),
    ("forecast_validation", SMALL_BACKTEST, "Accuracy gate")])
def test_other_notebooks_render_in_the_browser(name, args, text):
    """The analysts' notebooks load, compute and draw their charts in the browser."""
    with _opened(name, args) as page:
        assert page.get_by_text(text).first.is_visible()
        if args:  # the notebook read its arguments: the paths slider starts at --paths
            assert page.get_by_role("slider").first.get_attribute("aria-valuenow") == "200"
        assert page.locator(".vega-embed").count() >= 1
        _no_errors(page)
        page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


# every text a person reads on the page, shadow roots included: table headers, chart text
_SCREEN_TEXT_JS = """() => {
  const out = {headers: [], chart: [], specs: [], sliders: []};
  const walk = (root) => root.querySelectorAll('*').forEach((e) => {
    if (e.tagName === 'TH') out.headers.push(e.innerText);
    if (e.tagName === 'text' && e.closest('svg.marks')) out.chart.push(e.textContent);
    if (e.tagName === 'MARIMO-VEGA') out.specs.push(e.getAttribute('data-spec'));
    if (e.getAttribute && e.getAttribute('role') === 'slider') {
      let box = e, hops = 0;
      while (box.parentElement && hops < 6 && !/\\d/.test(box.innerText || '')) {
        box = box.parentElement; hops++;
      }
      out.sliders.push({value: e.getAttribute('aria-valuenow'), text: box.innerText || ''});
    }
    if (e.shadowRoot) walk(e.shadowRoot);
  });
  walk(document);
  out.scroll = document.documentElement.scrollWidth - window.innerWidth;
  return out;
}"""
_CODE = re.compile(r"_|\\b(?:i64|i32|f64|f32|u32|str|bool)\\b")
_SHOWN_CHANNELS = ("x", "y", "x2", "y2", "color", "column", "row", "text", "shape", "size")


def _chart_text(spec: dict) -> list[str]:
    """The texts a chart shows, read from its Vega-Lite spec (charts draw on a canvas, so the
    page holds no text elements for them): every title (chart, axis, legend, facet, tooltip),
    the names of untitled tooltip fields and the values of the fields shown as categories or
    as text."""
    shown, fields = [], set()

    def titles(t):
        if isinstance(t, str):
            shown.append(t)
        elif isinstance(t, list):
            shown.extend(str(x) for x in t)
        elif isinstance(t, dict):
            titles(t.get("text"))

    def walk(node):
        if isinstance(node, dict):
            if "title" in node:
                titles(node["title"])
            tips = (node.get("encoding") or {}).get("tooltip") or []
            for tip in tips if isinstance(tips, list) else [tips]:
                if isinstance(tip, dict) and "field" in tip and "title" not in tip:
                    shown.append(tip["field"])  # a tooltip names an untitled field as it is
            for channel, enc in (node.get("encoding") or {}).items():
                shown_as_text = isinstance(enc, dict) and (
                    enc.get("type") in ("nominal", "ordinal") or channel == "text")
                if channel in _SHOWN_CHANNELS and shown_as_text and "field" in enc:
                    fields.add(enc["field"])
            for v in node.values():
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)

    walk(spec)

    def rows(node):
        if isinstance(node, dict):
            for k, v in node.items():
                if k == "values" and isinstance(v, list) and v and isinstance(v[0], dict):
                    yield from v
                else:
                    yield from rows(v)
        elif isinstance(node, list):
            for v in node:
                yield from rows(v)

    shown += [str(r[f]) for r in rows(spec) for f in fields if f in r and r[f] is not None]
    return shown


@pytest.mark.parametrize(("name", "args"), [
    ("contract_sizing", ()), ("what_if_budget", ()), ("demand_explorer", ()),
    ("forecast_validation", SMALL_BACKTEST)])
def test_screens_speak_plain_english_at_1440_px(name, args):
    """At 1440 px: no horizontal scroll; no table header or chart text with an underscore
    or a type tag; every slider shows its value as text beside it."""
    with _opened(name, args) as page:
        views = [page.evaluate(_SCREEN_TEXT_JS)]
        page.screenshot(path=str(SHOTS / f"{name}_1440.png"), full_page=True)
        for i, section in enumerate(DETAIL_SECTIONS.get(name, ())):
            _show_section(page, section)
            views.append(page.evaluate(_SCREEN_TEXT_JS))
            page.screenshot(path=str(SHOTS / f"{name}_1440_{i + 2}.png"), full_page=True)
    for seen in views:
        assert seen["scroll"] <= 1, f"{name} scrolls sideways by {seen['scroll']} px"
        charts = [t for spec in seen["specs"] for t in _chart_text(json.loads(spec))]
        bad = [t for t in seen["headers"] + seen["chart"] + charts if _CODE.search(t)]
        assert not bad, bad[:10]
        assert seen["headers"], "no tables found"
        assert charts or not seen["specs"], "no chart text"
        for s in seen["sliders"]:
            v = float(s["value"])
            shown = {f"{v:g}", f"{v:.1f}", f"{v:.0f}", f"{v:,.0f}"}
            assert any(x in s["text"] for x in shown), s
    if name in DETAIL_SECTIONS:  # each section showed its own tables or chart
        assert len({(tuple(v["headers"]), tuple(v["specs"])) for v in views}) == len(views)


# the notebooks that show one detail section or chart at a time (a radio control): the others
DETAIL_SECTIONS = {"contract_sizing": ("Each party's distribution",
                                       "Payment mechanisms compared"),
                   "what_if_budget": ("Scenario against baseline by year",
                                      "Range of the scenario's cost by year")}


def _show_section(page, section: str) -> None:
    """Choose detail section ``section`` and wait for the page to be ready and drawn again."""
    run = _ready_run(page)
    page.get_by_role("radio", name=section).check()
    _wait_ready(page, before=run)
    _no_errors(page)


def test_contract_headline_shows_the_chance_of_a_provider_loss():
    with _opened("contract_sizing") as page:
        text = page.inner_text("body")
    assert re.search(r"chance of a provider loss\s*\d+%", text, re.I), text[:2000]
    assert re.search(r"reserve is breached\s*\d+%", text, re.I)


def test_a_wrong_folder_shows_an_error_on_the_page():
    with _opened("demand_explorer") as page:
        run = _ready_run(page)
        page.get_by_role("combobox").first.select_option("SSDA903 folder")
        box = page.get_by_role("textbox").first
        box.wait_for(timeout=120_000)
        box.fill("/no/such/folder")
        box.press("Enter")
        page.get_by_text("Could not forecast").first.wait_for(timeout=300_000)
        # the message names the folder and the rule (text inside marimo's shadow roots)
        named = page.get_by_text(re.compile(r"/no/such/folder.*no such file or folder"))
        named.first.wait_for(timeout=60_000)
        page.screenshot(path=str(SHOTS / "demand_explorer_error.png"), full_page=True)
    assert run


def test_contract_workbook_downloads_with_numbers_as_numbers(tmp_path):
    """The contract-sizing workbook, written when its button is pressed, opens with the
    schedule's capitation as numbers equal to the page's total capitation."""
    openpyxl = pytest.importorskip("openpyxl")
    with _opened("contract_sizing") as page:
        total = _figure(page, "Total capitation")
        with page.expect_download(timeout=120_000) as dl:
            page.get_by_text("Download the workbook").click()
        path = tmp_path / "contract.xlsx"
        dl.value.save_as(path)
    ws = openpyxl.load_workbook(path)["Schedule"]
    heads = [c.value for c in ws[1]]
    col = heads.index("Capitation")
    caps = [row[col].value for row in ws.iter_rows(min_row=2)]
    assert all(isinstance(v, float | int) for v in caps)
    assert sum(caps) / 1e6 == pytest.approx(total, abs=0.06)
