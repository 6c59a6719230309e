"""SIGKILL during `data import` and `data refresh`: at every write point, the snapshot is exactly
as before or exactly as after, as the next reader or writer sees it.

A writer is killed just before its k-th `os.replace` into the snapshot folder, for k = 1, 2, ...
until a run has fewer points and completes. After each kill, the folder is read as any reader
does (`load_snapshot`, which takes the snapshot lock and lets `store.recover` finish or undo a
multi-file write), and its data files must be all the old ones or all the new ones."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

from screener.data.snapshot import load_snapshot
from screener.data.store import JOURNAL_NAME

from .test_import import GENERIC, csv_file, project
from .test_providers import snapshot

REPO = Path(__file__).resolve().parents[1]

# argv: KILL_AT EVENTS FOLDER then "import ARGS..." (the CLI) or "refresh" (offline providers)
_KILLER = r'''
import os, signal, sys
sys.path.insert(0, REPO)
kill_at, events, folder = int(sys.argv[1]), open(sys.argv[2], "a", encoding="utf-8"), os.path.realpath(sys.argv[3])
count = 0
real_replace = os.replace


def replace(src, dst, *args, **kwargs):
    global count
    if os.path.realpath(os.fspath(dst)).startswith(folder + os.sep):
        count += 1
        events.write(f"{count} replace {os.path.basename(os.fspath(dst))}\n")
        events.flush()
        if count == kill_at:
            os.kill(os.getpid(), signal.SIGKILL)
    return real_replace(src, dst, *args, **kwargs)


os.replace = replace
if sys.argv[4] == "refresh":
    from tests.test_providers import D1, UNIVERSE, providers
    from screener.data.providers.refresh import refresh

    report = refresh(None, UNIVERSE, provider=None, into=__import__("pathlib").Path(folder), as_of=D1,
                     providers=providers())
    assert report.errors == [], report.errors
else:
    from screener.cli import main

    main(sys.argv[5:], prog_name="screener")
'''.replace("REPO", repr(str(REPO)))


def data_files(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file() and not p.name.startswith(".")}


def kill_every_point(tmp_path: Path, old: Path, args: list[str], reader_sees=load_snapshot) -> list[str]:
    """Run the writer on a copy of `old` killed at point 1, 2, ... and check each aftermath;
    returns the points of the run that completed."""
    killer = tmp_path / "killer.py"
    killer.write_text(_KILLER, encoding="utf-8")
    reference = tmp_path / "reference"
    shutil.copytree(old, reference)
    env = dict(os.environ, PYTHONIOENCODING="utf-8")

    def run(folder: Path, kill_at: int) -> tuple[int, list[str], str]:
        events = tmp_path / f"events-{kill_at}.txt"
        p = subprocess.run([sys.executable, str(killer), str(kill_at), str(events), str(folder), *args(folder)],
                           cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
        points = events.read_text(encoding="utf-8").splitlines() if events.exists() else []
        return p.returncode, points, p.stderr

    code, points, err = run(reference, 0)
    assert code == 0, err
    before, after = data_files(old), data_files(reference)
    assert before != after
    for kill_at in range(1, 50):
        folder = tmp_path / f"k{kill_at}"
        shutil.copytree(old, folder)
        code, got, err = run(folder, kill_at)
        if code == 0:
            assert len(got) < kill_at
            break
        assert code == -signal.SIGKILL, (kill_at, code, err)
        reader_sees(folder, str)  # what any reader does first: take the lock, recover
        now = data_files(folder)
        assert now in (before, after), (kill_at, got, sorted(now))
        assert not (folder / JOURNAL_NAME).exists()
        assert not [p.name for p in folder.iterdir() if p.name.endswith((".pending", ".tmp"))]
    else:
        raise AssertionError("no run completed")
    return points


def test_a_refresh_killed_at_any_write_leaves_all_old_or_all_new(tmp_path):
    old = snapshot(tmp_path)  # consensus and esg; the refresh changes both and adds prices
    points = kill_every_point(tmp_path, old, lambda folder: ["refresh"])
    # three files change together: the journal (the commit point) comes before their renames
    assert points[0].endswith(f"replace {JOURNAL_NAME}") and len(points) == 4, points


def test_an_import_killed_at_any_write_leaves_the_snapshot_as_before_or_after(tmp_path):
    root = project(tmp_path / "proj", GENERIC)
    (root / "data").mkdir()
    (root / "data" / "consensus.csv").write_text("symbol,fiscal_year,eps,actual,as_of\n"
                                                  "600003.SH,2026,2.5,false,2026-10-30\n", encoding="utf-8")
    vendor = csv_file(tmp_path / "vendor.csv", [["代码", "年度", "EPS", "已披露", "净利润"],
                                                 ["600001.SH", "2026", "1.25", "否", "10"],
                                                 ["600002.SH", "2026", "0.75", "否", "8"]])
    points = kill_every_point(tmp_path, root / "data", lambda folder: [
        "import", "data", "import", str(vendor), "--source", "generic", "--kind", "consensus", "--as-of",
        "2026-11-26", "--into", str(folder), "--config", str(root / "config.toml")])
    assert any(p.endswith("replace consensus.csv") for p in points), points


def test_a_writer_killed_after_its_commit_point_is_finished_by_the_next_writer(tmp_path):
    """Not only readers: the next writer (here an import) first completes the killed refresh."""
    from screener.data.store import SnapshotStore

    old = snapshot(tmp_path)
    points = kill_every_point(tmp_path, old, lambda folder: ["refresh"],
                              reader_sees=lambda folder, shown: SnapshotStore(folder).__enter__().__exit__())
    assert len(points) == 4
