"""Write every report page from the warehouse as it is: the analysis report of the migration networks and
the pages of the income-position and arrival studies (`mignet report`, the report stage of `mignet run`).
Each page reads only certified marts and refuses uncertified input naming the mart."""

from __future__ import annotations

from pathlib import Path

from mignet.report.arrivals import write_arrivals_report
from mignet.report.income_positions import write_income_positions_report
from mignet.report.models import write_model_report
from mignet.settings import Settings

WRITERS = {
    "models": write_model_report,
    "income_positions": write_income_positions_report,
    "arrivals": write_arrivals_report,
}


def write_reports(settings: Settings, progress=None) -> dict[str, Path]:
    """Write every page (mignet.report.PAGES) and return its path by page name."""
    say = progress or (lambda message: None)
    written = {}
    for name, write in WRITERS.items():
        written[name] = write(settings)
        say(f"wrote {written[name]}")
    return written
