"""The analysis report (`reports/models/index.html`), written by `mignet.report.models`."""

# the page is written to a temporary file beside it and renamed; a killed run's leftover matches this glob
# (here, not in `models`, so the cleanup after a killed run need not import the report's plotting stack)
TEMPORARY_GLOB = ".index-*.html"
