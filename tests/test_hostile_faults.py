"""Faults named as faults, through the real CLI: a disk that fills up while a run writes (a file
size limit in the child stands in for it: writes past it fail with EFBIG, as they fail with ENOSPC
on a full disk). Exit 1 (the screen ran), what happened and what to do, no traceback, and nothing
half-written: no temporary files, `latest.*` and the history as they were."""

from __future__ import annotations

import json
import os
import resource
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def project(tmp_path: Path) -> Path:
    for name in ("rules", "universes"):
        shutil.copytree(REPO / name, tmp_path / name)
    shutil.copytree(REPO / "data" / "sample", tmp_path / "data" / "sample")
    shutil.copy(REPO / "config.toml", tmp_path / "config.toml")
    return tmp_path


def run_limited(root: Path, limit: int | None, *args: str) -> subprocess.CompletedProcess:
    def limited():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    env = dict(os.environ, SCREENER_CACHE_DIR=str(root / "cache"), PYTHONIOENCODING="utf-8")
    return subprocess.run([sys.executable, "-m", "screener", *args], cwd=root, env=env, capture_output=True,
                          text=True, timeout=120, preexec_fn=limited if limit else None)


@pytest.mark.parametrize("limit, code, said", [
    (4_000, 2, "cannot open the run history"),  # before the screen: SQLite cannot grow its WAL index
    (33_000, 1, "File too large"),  # SQLite opens (its WAL index is 32 KB); the HTML export (36 KB) cannot be written
])
def test_a_disk_that_fills_up_during_a_run_says_so_and_loses_nothing(tmp_path, limit, code, said):
    root = project(tmp_path)
    first = run_limited(root, None, "run", "esg_compute_leaders", "--as-of", "2026-10-30", "--format", "csv,html")
    assert first.returncode == 0, first.stderr
    out = root / "watchlists"
    before = {p: p.read_bytes() for p in out.rglob("*") if p.is_file() and "history" not in p.name}
    history = (out / "history.sqlite").read_bytes()
    r = run_limited(root, limit, "run", "esg_compute_leaders", "--as-of", "2026-11-20", "--format", "csv,html,json")
    assert r.returncode == code, r.stderr
    assert "Traceback" not in r.stderr and "internal error" not in r.stderr
    assert said in r.stderr and "disk has room" in r.stderr
    assert "watchlists/" in r.stderr  # names where
    # nothing half-written: no temporary file, latest.* and every earlier export as they were
    assert not [p for p in out.rglob("*") if p.name.endswith((".tmp", ".pending"))]
    for p, data in before.items():
        assert p.read_bytes() == data, p
    runs = json.loads(run_limited(root, None, "history", "esg_compute_leaders", "--json").stdout)
    assert [x["run_id"] for x in runs] == [1] and (out / "history.sqlite").read_bytes() == history
    # with room again, the same run goes through
    again = run_limited(root, None, "run", "esg_compute_leaders", "--as-of", "2026-11-20", "--format", "csv,html")
    assert again.returncode == 0, again.stderr
