"""`screener.data.store`: one merge, one lock per snapshot folder, for every writer.

Writers run in parallel processes (`screener data import` subprocesses; an import and an
offline refresh with fake transports) and afterwards every row of every input is in the folder.
"""

from __future__ import annotations

import multiprocessing
import os
import subprocess
import sys
import threading
from datetime import date
from pathlib import Path

import polars as pl
import pytest

from screener.data.providers.refresh import refresh
from screener.data.snapshot import load_snapshot
from screener.data.store import LOCK_NAME, SnapshotStore
from screener.problems import InputError

from .test_import import GENERIC, csv_file, project
from .test_providers import D1, UNIVERSE, providers

N_WRITERS, ROWS_EACH = 4, 200


def generic_file(path: Path, writer: int, rows: int = ROWS_EACH) -> tuple[Path, set[tuple[str, str]]]:
    """A generic consensus export of `rows` securities of its own (board 600/601/603/605 by writer)."""
    keys, body = set(), [["代码", "年度", "EPS", "已披露", "净利润"]]
    for i in range(rows):
        sym = f"{(600, 601, 603, 605)[writer]}{i:03d}.SH"
        body.append([sym, "2026", f"{1 + i / 100:.2f}", "否", "10"])
        keys.add((sym, "2026"))
    return csv_file(path, body), keys


def import_cli(root: Path, file: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "screener", "data", "import", str(file), "--source", "generic",
                             "--kind", "consensus", "--as-of", "2026-11-26", "--config", str(root / "config.toml")],
                            cwd=root, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def keys_in(folder: Path, kind: str = "consensus") -> set[tuple[str, str]]:
    frame = load_snapshot(folder, str).get(kind).collect()
    return {(s, str(y)) for s, y in zip(frame["symbol"].to_list(), frame["fiscal_year"].to_list())}


def test_parallel_imports_into_one_folder_keep_every_row(tmp_path):
    root = project(tmp_path, GENERIC)
    files, expected = [], set()
    for w in range(N_WRITERS):
        f, keys = generic_file(tmp_path / f"vendor{w}.csv", w)
        files.append(f)
        expected |= keys
    procs = [import_cli(root, f) for f in files]  # all at once, into one snapshot folder
    for p in procs:
        out, err = p.communicate(timeout=300)
        assert p.returncode == 0, err
    target = root / "data" / "consensus.csv"
    assert keys_in(root / "data") == expected and len(expected) == N_WRITERS * ROWS_EACH
    symbols = pl.read_csv(target, infer_schema=False)["symbol"].to_list()
    assert symbols == sorted(symbols)  # one row order: sorted by the key


def _import_in_process(root: str, file: str) -> None:
    from screener.config import load_config
    from screener.data.imports import import_file

    import_file(Path(file), source="generic", kind="consensus", as_of=date(2026, 11, 26), into=Path(root) / "data",
                config=load_config(Path(root) / "config.toml"))


def _refresh_in_process(folder: str) -> None:
    report = refresh(None, UNIVERSE, provider=None, into=Path(folder), as_of=D1, providers=providers())
    assert report.errors == [], report.errors


def test_an_import_and_a_refresh_at_once_lose_nothing(tmp_path):
    reference = tmp_path / "reference"  # what the refresh writes on its own
    _refresh_in_process(str(reference))
    refreshed = keys_in(reference) | set()
    refreshed_esg = load_snapshot(reference, str).get("esg").collect().height

    root = project(tmp_path / "proj", GENERIC)
    ctx = multiprocessing.get_context("spawn")  # fork after polars has started its threads can hang
    expected = set(refreshed)
    procs = []
    for w in range(3):
        f, keys = generic_file(tmp_path / f"vendor{w}.csv", w, rows=100)
        expected |= keys
        procs.append(ctx.Process(target=_import_in_process, args=(str(root), str(f))))
        procs.append(ctx.Process(target=_refresh_in_process, args=(str(root / "data"),)))
    for p in procs:
        p.start()
    for p in procs:
        p.join(300)
        assert p.exitcode == 0
    assert keys_in(root / "data") == expected
    assert load_snapshot(root / "data", str).get("esg").collect().height == refreshed_esg


def test_csv_and_parquet_are_merged_the_same(tmp_path):
    """The same import into a CSV and into a Parquet snapshot: the same typed table, each kept in
    its own format (the importer used to refuse a Parquet snapshot; refresh merged it)."""
    existing = pl.DataFrame({"symbol": ["603019.SH", "000977.SZ"], "fiscal_year": [2026, 2025],
                             "eps": [1.5, 1.1], "actual": [False, True], "as_of": [date(2026, 11, 26)] * 2})
    tables = {}
    for fmt in ("csv", "parquet"):
        root = project(tmp_path / fmt, GENERIC)
        (root / "data").mkdir()
        getattr(existing, f"write_{fmt}")(root / "data" / f"consensus.{fmt}")
        f = csv_file(tmp_path / fmt / "g.csv", [["代码", "年度", "EPS", "已披露", "净利润"],
                                                 ["603019.SH", "2026", "1.60", "否", ""],
                                                 ["300308.SZ", "2026", "7.81", "否", "86.5"]])
        rep = _import_report(root, f)
        assert (rep.rows_new, rep.rows_changed, rep.rows_unchanged) == (1, 1, 0)
        assert sorted(p.name for p in (root / "data").iterdir()) == [LOCK_NAME, f"consensus.{fmt}"]
        tables[fmt] = load_snapshot(root / "data", str).get("consensus").collect().select(
            "symbol", "fiscal_year", "eps", "actual")
    assert tables["csv"].equals(tables["parquet"])
    assert tables["csv"]["symbol"].to_list() == ["000977.SZ", "300308.SZ", "603019.SH"]
    assert tables["csv"]["eps"].cast(pl.Float64).to_list() == [1.1, 7.81, 1.6]


def _import_report(root: Path, f: Path):
    from screener.config import load_config
    from screener.data.imports import import_file

    return import_file(f, source="generic", kind="consensus", as_of=date(2026, 11, 26), into=root / "data",
                       config=load_config(root / "config.toml"))


def test_keys_are_typed_by_the_schema(tmp_path):
    """Keys compare as the schema types them: `41.50` equals `41.5`, `2030.0` sorts as 2030 (by as_of next)."""
    folder = tmp_path / "snap"
    folder.mkdir()
    (folder / "prices.csv").write_text("symbol,close,currency,as_of\nIONQ.US,41.5,USD,2026-06-30\n", encoding="utf-8")
    with SnapshotStore(folder) as store:
        rep = store.merge("prices", [{"symbol": "IONQ.US", "close": "41.50", "currency": "USD", "as_of": "2026-06-30"},
                                     {"symbol": "AAPL.US", "close": "9", "currency": "USD", "as_of": "2026-06-30"}])
        assert (rep.rows_new, rep.rows_changed, rep.rows_unchanged) == (1, 0, 1)
        store.write(rep)
    assert (folder / "prices.csv").read_text(encoding="utf-8").splitlines()[1:] == [
        "AAPL.US,9,USD,2026-06-30", "IONQ.US,41.5,USD,2026-06-30"]
    with SnapshotStore(folder) as store:
        rep = store.merge("consensus", [{"symbol": "A.US", "fiscal_year": y, "eps": "1", "as_of": "2026-06-30"}
                                        for y in ("2030", "2029")] +
                          [{"symbol": "A.US", "fiscal_year": "2030.0", "eps": "1", "as_of": "2026-06-29"}])
    assert rep.rows_new == 3 and [line.split(",")[1] for line in rep.data.decode().splitlines()[1:]] == \
        ["2029", "2030.0", "2030"]


def test_a_writer_waits_for_the_lock_and_a_reader_sees_no_half_write(tmp_path):
    folder = tmp_path / "snap"
    folder.mkdir()
    (folder / "prices.csv").write_text("symbol,close,currency,as_of\nIONQ.US,41.5,USD,2026-06-30\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"still holds .*\.snapshot\.lock after 0\.2 s"):
        with SnapshotStore(folder):
            with SnapshotStore(folder, timeout=0.2):
                pass
    seen = []
    with SnapshotStore(folder) as store:
        reader = threading.Thread(target=lambda: seen.append(load_snapshot(folder, str).get("prices").collect().height))
        reader.start()
        reader.join(0.5)
        assert reader.is_alive() and seen == []  # the reader waits while a writer holds the folder
        rep = store.merge("prices", [{"symbol": "AAPL.US", "close": "9", "currency": "USD", "as_of": "2026-06-30"}])
        store.write(rep)
    reader.join(30)
    assert seen == [2]


def test_a_folder_that_cannot_be_written_exits_2_naming_it(tmp_path):
    root = project(tmp_path, GENERIC)
    f, _ = generic_file(tmp_path / "vendor.csv", 0, rows=3)
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the snapshot folder's parent should be\n", encoding="utf-8")
    p = subprocess.run([sys.executable, "-m", "screener", "data", "import", str(f), "--source", "generic", "--kind",
                        "consensus", "--into", str(blocker / "snap"), "--config", str(root / "config.toml")],
                       cwd=root, capture_output=True, text=True, timeout=120)
    assert p.returncode == 2, p.stderr
    assert "cannot write to the snapshot folder not-a-folder/snap: Not a directory" in p.stderr
    assert "Traceback" not in p.stderr


def test_a_folder_the_writer_may_not_write_is_named(tmp_path, monkeypatch):
    """As root chmod stops nothing: the permission check itself is simulated here (os.access)."""
    import screener.data.store as store

    folder = tmp_path / "snap"
    folder.mkdir()
    monkeypatch.setattr(store.os, "access", lambda *a, **k: False)
    with pytest.raises(InputError) as e:
        with SnapshotStore(folder, display=lambda p: p.name):
            pytest.fail("entered a folder it may not write")
    assert [p.code for p in e.value.problems] == ["not-writable"]
    assert e.value.problems[0].message == "cannot write to the snapshot folder snap: Permission denied"
    monkeypatch.undo()
    with SnapshotStore(folder, timeout=1):  # the lock was released on the way out
        pass


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="chmod does not stop root from writing")
def test_a_read_only_snapshot_folder_exits_2_naming_it(tmp_path):
    root = project(tmp_path, GENERIC)
    f, _ = generic_file(tmp_path / "vendor.csv", 0, rows=3)
    data = root / "data"
    data.mkdir()
    data.chmod(0o555)
    try:
        p = subprocess.run([sys.executable, "-m", "screener", "data", "import", str(f), "--source", "generic",
                            "--kind", "consensus", "--config", str(root / "config.toml")],
                           cwd=root, capture_output=True, text=True, timeout=120)
    finally:
        data.chmod(0o755)
    assert p.returncode == 2, p.stderr
    assert "cannot write to the snapshot folder" in p.stderr and "data" in p.stderr
