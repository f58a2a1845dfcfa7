"""The one Python settings object: paths and environment, read once and passed down.

dbt reads the same environment variables (`MIGNET_WAREHOUSE`, `MIGNET_RAW_DIR`) in `profiles.yml` and
`dbt_project.yml`, so a plain `dbt build` and `mignet` agree on where things are.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path


def find_project_root(start: Path | None = None) -> Path:
    """The folder holding `dbt_project.yml`, searched upward from `start` (default: cwd), then the
    checkout this package was installed from (editable install)."""
    candidates = []
    here = (start or Path.cwd()).resolve()
    candidates.extend([here, *here.parents])
    pkg = Path(__file__).resolve()
    candidates.extend(pkg.parents)
    for folder in candidates:
        if (folder / "dbt_project.yml").is_file():
            return folder
    raise FileNotFoundError(
        "no dbt_project.yml found above the current folder nor beside the mignet package: "
        "run mignet from a mignet checkout"
    )


@dataclass(frozen=True)
class Settings:
    project_root: Path
    warehouse: Path
    raw_dir: Path
    data_dir: Path
    releases_dir: Path
    analytics_db: Path
    secure_dir: Path  # the secure tier: releases of the certified marts as they are, and its analysts' database
    reports_dir: Path
    reference_dir: Path
    env: dict = field(default_factory=dict, repr=False)

    @classmethod
    def from_env(cls, project_root: Path | None = None, environ: dict | None = None) -> "Settings":
        environ = dict(os.environ if environ is None else environ)
        root = find_project_root(project_root)

        def path(var: str, default: str) -> Path:
            value = Path(environ.get(var) or default)
            return value if value.is_absolute() else (root / value)

        data_dir = path("MIGNET_DATA_DIR", "data")
        return cls(
            project_root=root,
            warehouse=path("MIGNET_WAREHOUSE", str(data_dir / "warehouse.duckdb")),
            raw_dir=path("MIGNET_RAW_DIR", str(data_dir / "raw")),
            data_dir=data_dir,
            releases_dir=path("MIGNET_RELEASES_DIR", str(data_dir / "releases")),
            analytics_db=path("MIGNET_ANALYTICS_DB", str(data_dir / "analytics.duckdb")),
            secure_dir=path("MIGNET_SECURE_DIR", str(data_dir / "secure")),
            reports_dir=path("MIGNET_REPORTS_DIR", "reports"),
            reference_dir=path("MIGNET_REFERENCE_DIR", str(root.parent / "shared" / "reference")),
            env=environ,
        )

    def dbt_env(self) -> dict:
        """Environment for a dbt subprocess that points it at these paths."""
        env = dict(self.env)
        env["MIGNET_WAREHOUSE"] = str(self.warehouse)
        env["MIGNET_RAW_DIR"] = str(self.raw_dir)
        env.setdefault("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")
        return env
