"""The reports of the three studies, each one self-contained page under `reports/<page>/index.html`:
`models` (the migration networks, `mignet.report.models`), `income_positions` (the income-position study,
`mignet.report.income_positions`) and `arrivals` (the arrival neighbourhoods, `mignet.report.arrivals`);
`mignet.report.pages` writes them all."""

# the page is written to a temporary file beside it and renamed; a killed run's leftover matches this glob
# (here, not in the page modules, so the cleanup after a killed run need not import the plotting stack)
TEMPORARY_GLOB = ".index-*.html"
# folder of each page under settings.reports_dir, and what the run summary calls it
PAGES = {"models": "analysis report", "income_positions": "income-position report", "arrivals": "arrival report"}


def write_page(out_dir, page: str):
    """Write `page` as `out_dir/index.html`: beside the target and renamed, so a reader never sees half a page
    (a killed writer's leftover matches TEMPORARY_GLOB and is removed by the next run). Returns the path."""
    import os
    import tempfile
    from pathlib import Path

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    out = out_dir / "index.html"
    prefix, suffix = TEMPORARY_GLOB.split("*")
    fd, tmp = tempfile.mkstemp(prefix=prefix, suffix=suffix, dir=out_dir)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(page)
        os.chmod(tmp, 0o644)
        os.replace(tmp, out)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return out
