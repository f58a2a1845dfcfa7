"""The run state file (`data/run_state.json`): what `mignet run` last did, with the fingerprint of each
stage's inputs, so a second run skips what is up to date and says why it reruns the rest.

A fingerprint is a flat dict of named components (the inputs a stage declares in mignet.pipeline, and the
code of the stage). Two fingerprints are compared component by component; the
components that differ are the reason a stage reruns.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from datetime import datetime, timezone
from pathlib import Path

STATE_VERSION = 1
# the state is written to a temporary file beside it and renamed; a killed run's leftover matches this glob
TEMPORARY_GLOB = ".run_state-*.json"
# What a dbt build depends on, relative to the project root.
DBT_PROJECT_PATHS = ("dbt_project.yml", "profiles.yml", "packages.yml", "selectors.yml", "models", "macros",
                     "seeds", "tests/generic", "tests/dbt", "snapshots")
CHUNK = 1 << 22


def file_digest(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(CHUNK):
            h.update(chunk)
    return h.hexdigest()


def files_fingerprint(folder: Path, cache: dict | None = None, patterns: tuple[str, ...] = ("*",)) -> dict:
    """{relative name: "size:sha256"} of the files directly in `folder`. `cache` holds the previous run's
    {name: {"size", "mtime_ns", "sha256"}}; a file whose size and mtime are unchanged is not hashed again.
    Returns the fingerprint and fills `cache` with this run's entries."""
    folder = Path(folder)
    previous = dict(cache or {})
    fingerprint: dict[str, str] = {}
    new_cache: dict[str, dict] = {}
    names = sorted({p for pattern in patterns for p in folder.glob(pattern) if p.is_file()})
    for path in names:
        stat = path.stat()
        name = path.name
        old = previous.get(name)
        if old and old.get("size") == stat.st_size and old.get("mtime_ns") == stat.st_mtime_ns:
            digest = old["sha256"]
        else:
            digest = file_digest(path)
        new_cache[name] = {"size": stat.st_size, "mtime_ns": stat.st_mtime_ns, "sha256": digest}
        fingerprint[name] = f"{stat.st_size}:{digest}"
    if cache is not None:
        cache.clear()
        cache.update(new_cache)
    return fingerprint


def tree_hash(root: Path, paths: tuple[str, ...], suffixes: tuple[str, ...] | None = None) -> str:
    """One hash over the names and contents of every file under `paths` (files or folders) below `root`."""
    h = hashlib.sha256()
    root = Path(root)
    for rel in paths:
        base = root / rel
        files = [base] if base.is_file() else sorted(p for p in base.rglob("*") if p.is_file()) if base.is_dir() else []
        for path in files:
            if "__pycache__" in path.parts or (suffixes and path.suffix not in suffixes):
                continue
            h.update(str(path.relative_to(root)).encode())
            h.update(b"\0")
            h.update(path.read_bytes())
            h.update(b"\0")
    return h.hexdigest()[:20]


def differences(old: dict | None, new: dict) -> list[str]:
    """Names of the components that changed, with a short hint of how."""
    if old is None:
        return ["never run"]
    changed = []
    for key in sorted(set(old) | set(new)):
        if key not in old:
            changed.append(f"{key} is new")
        elif key not in new:
            changed.append(f"{key} no longer applies")
        elif old[key] != new[key]:
            a, b = old[key], new[key]
            if isinstance(a, dict) and isinstance(b, dict):
                inner = sorted(k for k in set(a) | set(b) if a.get(k) != b.get(k))
                changed.append(f"{key} changed ({', '.join(inner[:4])}{', ...' if len(inner) > 4 else ''})")
            elif isinstance(a, (str, int, float, bool)) and len(str(a)) + len(str(b)) < 60:
                changed.append(f"{key} {a} -> {b}")
            else:
                changed.append(f"{key} changed")
    return changed


class RunState:
    def __init__(self, path: Path):
        self.path = Path(path)
        self.data: dict = {"version": STATE_VERSION, "stages": {}}
        self.problem: str | None = None
        if self.path.is_file():
            try:
                data = json.loads(self.path.read_text(encoding="utf-8"))
            except json.JSONDecodeError as exc:
                self.problem = f"{self.path} is not valid JSON ({exc}); starting afresh"
                return
            if data.get("version") != STATE_VERSION:
                self.problem = f"{self.path} has state version {data.get('version')}, expected {STATE_VERSION}; starting afresh"
                return
            self.data = data

    def stage(self, name: str) -> dict | None:
        return self.data["stages"].get(name)

    def failure(self, name: str) -> str | None:
        return (self.data.get("failed") or {}).get(name)

    def mark_failed(self, name: str, message: str) -> None:
        self.data["stages"].pop(name, None)
        self.data.setdefault("failed", {})[name] = message
        self.save()

    def record(self, name: str, fingerprint: dict, outputs: dict, elapsed_s: float) -> None:
        (self.data.get("failed") or {}).pop(name, None)
        self.data["stages"][name] = {
            "fingerprint": fingerprint, "outputs": outputs, "elapsed_s": round(elapsed_s, 3),
            "finished_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        }
        self.save()

    def save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        prefix, suffix = TEMPORARY_GLOB.split("*")
        fd, tmp = tempfile.mkstemp(prefix=prefix, suffix=suffix, dir=self.path.parent)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(self.data, fh, indent=2, sort_keys=True, default=str)
        os.chmod(tmp, 0o644)
        os.replace(tmp, self.path)
