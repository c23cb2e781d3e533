import marimo

app = marimo.App(width="medium")


@app.cell
def _():
    import marimo as mo
    return (mo,)


@app.cell
def _(mo):
    s = mo.ui.slider(0, 100, value=50, label="x", show_value=True)
    s
    return (s,)


@app.cell
def _(mo, s):
    from uuid import uuid4 as _uuid4
    _run = _uuid4().hex.translate(str.maketrans("0123456789", "ghijklmnop"))
    mo.Html(f'<div>Commissioner pays {s.value}</div><div id="cobic-ready" data-ready="1" data-run="{_run}" style="display:none">r</div>')
    return


if __name__ == "__main__":
    app.run()
