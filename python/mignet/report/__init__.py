"""The reports of the three studies, each one self-contained page under `reports/<page>/index.html`:
`models` (the migration networks, `mignet.report.models`), `income_positions` (the income-position study,
`mignet.report.income_positions`) and `arrivals` (the arrival neighbourhoods, `mignet.report.arrivals`);
`mignet.report.pages` writes them all."""

# the page is written to a temporary file beside it and renamed; a killed run's leftover matches this glob
# (here, not in the page modules, so the cleanup after a killed run need not import the plotting stack)
TEMPORARY_GLOB = ".index-*.html"
# folder of each page under settings.reports_dir, and what the run summary calls it
PAGES = {"models": "analysis report", "income_positions": "income-position report", "arrivals": "arrival report"}
