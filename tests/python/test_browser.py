"""The analysis report in a real browser: Debian's headless Chromium opens reports/models/index.html,
takes a screenshot, and an in-page check confirms that every figure rendered and nothing raised an error.

Chromium is installed by scripts/ensure_chromium.sh (run by `make test`); without it these tests skip.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from mignet.report.models import write_model_report
from test_report_fixtures import make_real

pytestmark = pytest.mark.browser

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync", "--hide-scrollbars"]
# Runs before the page's own content: records script errors, console errors and failed resource loads,
# then on `load` checks every image and inline SVG and writes the verdict into the DOM as JSON.
PROBE = """<script>
(function () {
  var errors = [];
  window.addEventListener('error', function (e) {
    var t = e.target;
    errors.push(t && t !== window && (t.src || t.href) ? 'failed to load ' + (t.src || t.href).slice(0, 80)
                                                        : String(e.message));
  }, true);
  var original = console.error;
  console.error = function () { errors.push('console.error: ' + Array.prototype.join.call(arguments, ' ')); original.apply(console, arguments); };
  window.addEventListener('load', function () {
    var images = Array.prototype.map.call(document.images, function (img) {
      return {alt: img.alt, complete: img.complete, width: img.naturalWidth, height: img.naturalHeight,
              shown: img.getBoundingClientRect().width};
    });
    var svgs = Array.prototype.map.call(document.querySelectorAll('svg'), function (s) {
      var r = s.getBoundingClientRect(); return {width: r.width, height: r.height};
    });
    var out = document.createElement('pre');
    out.id = 'mignet-check';
    out.textContent = JSON.stringify({images: images, svgs: svgs, errors: errors,
                                      tables: document.querySelectorAll('table').length});
    document.body.appendChild(out);
  });
})();
</script>"""


def _chromium(args: list[str], timeout: int = 120) -> subprocess.CompletedProcess:
    profile = tempfile.mkdtemp(prefix="mignet-chromium-")
    try:
        return subprocess.run([CHROMIUM, *FLAGS, f"--user-data-dir={profile}", *args],
                              capture_output=True, text=True, timeout=timeout)
    finally:
        shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture(scope="module")
def report_path(tmp_path_factory):
    """The report of the real-geography fixture warehouse (choropleth maps), written once for this module."""
    if CHROMIUM is None:
        pytest.skip("chromium is not installed (scripts/ensure_chromium.sh installs Debian's chromium)")
    return write_model_report(make_real(tmp_path_factory.mktemp("browser")))


def test_every_figure_renders_without_errors(report_path, tmp_path):
    page = report_path.read_text(encoding="utf-8")
    probed = tmp_path / "probed.html"
    probed.write_text(page.replace("<head>", "<head>" + PROBE, 1), encoding="utf-8")
    done = _chromium(["--virtual-time-budget=15000", "--dump-dom", probed.as_uri()])
    match = re.search(r'<pre id="mignet-check">(.*?)</pre>', done.stdout, re.S)
    assert match, f"the in-page check did not run; chromium said:\n{done.stderr[-2000:]}"
    check = json.loads(match.group(1).replace("&quot;", '"').replace("&amp;", "&").replace("&lt;", "<").replace("&gt;", ">"))
    assert check["errors"] == []
    # coefficient plot, 2 map grids, gof figures: every one decoded with a real size and laid out visibly
    assert len(check["images"]) >= 5
    broken = [img for img in check["images"] if not img["complete"] or img["width"] < 50 or img["height"] < 50
              or img["shown"] < 50]
    assert broken == []
    assert all(s["width"] > 0 and s["height"] > 0 for s in check["svgs"])
    assert check["tables"] >= 10


def test_screenshot_shows_the_report_and_console_is_clean(report_path, tmp_path):
    import matplotlib.image as mpimg

    shot = tmp_path / "report.png"
    done = _chromium(["--enable-logging=stderr", "--v=0", "--window-size=1280,2400",
                      f"--screenshot={shot}", report_path.as_uri()])
    console = [line for line in done.stderr.splitlines() if ":CONSOLE" in line]
    assert console == [], "\n".join(console)
    assert shot.is_file(), done.stderr[-2000:]
    pixels = mpimg.imread(shot)[:, :, :3]
    assert pixels.shape[:2] == (2400, 1280)
    # Not a blank page: a good share of the pixels are not white (text, the coefficient plot).
    assert (pixels.mean(axis=2) < 0.9).mean() > 0.02
    keep = Path(tempfile.gettempdir()) / "mignet-report-screenshot.png"
    shutil.copyfile(shot, keep)  # left for a human to look at after the test
