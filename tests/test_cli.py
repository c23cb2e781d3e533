"""The cobic command: help, the demo on the embedded data, validate on good data."""

from __future__ import annotations

from typer.testing import CliRunner

from cobic.cli import app

runner = CliRunner()


def test_help_for_every_command():
    res = runner.invoke(app, ["--help"])
    assert res.exit_code == 0
    for cmd in ("demo", "validate", "synth"):
        assert cmd in res.output
        sub = runner.invoke(app, [cmd, "--help"])
        assert sub.exit_code == 0, cmd


def test_demo_on_embedded_data_prints_the_summary(tmp_path):
    res = runner.invoke(app, ["demo", "--out", str(tmp_path / "demo")])
    assert res.exit_code == 0, res.output
    assert "headline figures" in res.output and "Report:" in res.output
    assert (tmp_path / "demo" / "report.html").exists()
    assert (tmp_path / "demo" / "cobic-demo.xlsx").exists()


def test_validate_sample_writes_report(shared_data, tmp_path):
    report = tmp_path / "q.csv"
    res = runner.invoke(app, ["validate", "--episodes", str(shared_data / "ssda903_sample"),
                              "--report", str(report)])
    assert res.exit_code == 0, res.output
    text = report.read_text()
    assert text.startswith("table,file,line,outcome,change,detail")
    assert "overlap-resolved" in text


def test_validate_needs_exactly_one_input():
    assert runner.invoke(app, ["validate"]).exit_code == 2


def test_synth_refuses_to_overwrite(tmp_path):
    (tmp_path / "x").mkdir()
    (tmp_path / "x" / "keep.txt").write_text("mine")
    res = runner.invoke(app, ["synth", "--out", str(tmp_path / "x")])
    assert res.exit_code == 2
    assert (tmp_path / "x" / "keep.txt").read_text() == "mine"
