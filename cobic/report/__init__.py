"""Reports: workbooks, charts and the demo report."""
