"""Run history, diffs, the latest exports, the per-screen lock, and runs killed mid-write."""

from __future__ import annotations

import json
import os
import random
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from .conftest import write


def run_json(cli, project, *args):
    r = cli(project, "run", *args, "--json")
    assert r.exit_code == 0, r.output
    return json.loads(r.stdout)


def test_history_and_diff_over_two_dates(sample, cli):
    first = run_json(cli, sample, "esg_compute_leaders", "--as-of", "2026-10-30")
    second = run_json(cli, sample, "esg_compute_leaders", "--as-of", "2026-11-26")
    assert (first["run_id"], second["run_id"]) == (1, 2)
    assert first["changes"] is None  # nothing to compare with yet

    runs = json.loads(cli(sample, "history", "esg_compute_leaders", "--json").stdout)
    assert [(r["run_id"], r["as_of"]) for r in runs] == [(1, "2026-10-30"), (2, "2026-11-26")]
    assert runs[0]["rule_sha256"] == runs[1]["rule_sha256"]

    diff = json.loads(cli(sample, "history", "esg_compute_leaders", "--diff", "--json").stdout)
    before = {r["symbol"]: r["rank"] for r in first["rows"]}
    after = {r["symbol"]: r["rank"] for r in second["rows"]}
    assert {e["symbol"] for e in diff["entered"]} == set(after) - set(before)
    assert {e["symbol"] for e in diff["left"]} == set(before) - set(after)
    assert {m["symbol"] for m in diff["moved"]} == {s for s in set(before) & set(after) if before[s] != after[s]}
    for m in diff["moved"]:
        assert (m["from_rank"], m["to_rank"]) == (before[m["symbol"]], after[m["symbol"]])
    # a leaver's reason is the engine's own reason for it in the new run
    excluded_now = {e["symbol"]: e["reason"] for e in second["excluded"]}
    assert diff["left"] and all(e["reason"].startswith("failed ") for e in diff["left"])
    for e in diff["left"]:
        assert e["reason"] == excluded_now[e["symbol"]]
    # the run's own JSON carries the same changes
    assert {e["symbol"] for e in second["changes"]["left"]} == {e["symbol"] for e in diff["left"]}
    # explicit run ids give the same answer
    explicit = json.loads(cli(sample, "history", "esg_compute_leaders", "--diff", "1", "2", "--json").stdout)
    assert explicit["left"] == diff["left"] and explicit["moved"] == diff["moved"]


def test_falling_below_top_n_is_the_reason(tiny, cli):
    write(tiny / "rules" / "top2.toml", """
        universe = ["tiny"]
        [scores]
        size = { expr = "coalesce(close, 0)", weight = 1 }
        [output]
        top = 2
    """)
    run_json(cli, tiny, "top2", "--as-of", "2026-06-30")  # 0001.HK (44) and IONQ.US (40) lead
    with open(tiny / "data" / "prices.csv", "a", encoding="utf-8") as fh:
        fh.write("603002.SH,100,CNY,2026-07-01,\n")
    run_json(cli, tiny, "top2", "--as-of", "2026-07-02")
    diff = json.loads(cli(tiny, "history", "top2", "--diff", "--json").stdout)
    assert [e["symbol"] for e in diff["entered"]] == ["603002.SH"]
    assert diff["entered"][0]["reason"] == "rose into the top 2"
    assert [(e["symbol"], e["reason"]) for e in diff["left"]] == [("IONQ.US", "rank 3, below top 2")]


def test_identical_inputs_are_recognised(sample, cli):
    a = run_json(cli, sample, "quantum_pure_plays", "--as-of", "2026-11-26")
    b = run_json(cli, sample, "quantum_pure_plays", "--as-of", "2026-11-26")
    assert a["identical_to"] is None and b["identical_to"] == a["run_id"]
    diff = json.loads(cli(sample, "history", "quantum_pure_plays", "--diff", "--json").stdout)
    assert diff["entered"] == diff["left"] == diff["moved"] == []
    # a change to the rule text makes the inputs different
    rule = sample / "rules" / "quantum_pure_plays.toml"
    rule.write_text(rule.read_text(encoding="utf-8") + "\n# edited\n", encoding="utf-8")
    c = run_json(cli, sample, "quantum_pure_plays", "--as-of", "2026-11-26")
    assert c["identical_to"] is None


def test_history_errors_are_clean(sample, cli):
    r = cli(sample, "history", "esg_compute_leaders")
    assert r.exit_code == 0 and "no recorded runs" in r.stdout
    run_json(cli, sample, "esg_compute_leaders", "--as-of", "2026-11-26")
    r = cli(sample, "history", "esg_compute_leaders", "--diff", "1", "7")
    assert r.exit_code == 2 and "no run 7" in r.output and "Traceback" not in r.output
    r = cli(sample, "history", "esg_compute_leaders", "--diff", "3")
    assert r.exit_code == 2


def test_history_is_queryable_with_ordinary_tools(sample, cli):
    run_json(cli, sample, "esg_compute_leaders", "--as-of", "2026-11-26")
    con = sqlite3.connect(sample / "watchlists" / "history.sqlite")
    (text,) = con.execute("SELECT rule_text FROM runs").fetchone()
    assert text == (sample / "rules" / "esg_compute_leaders.toml").read_text(encoding="utf-8")
    watch = con.execute("SELECT symbol, rank, score, json_extract(components, '$') FROM watchlist WHERE run_id = 1 "
                        "ORDER BY rank").fetchall()
    (members_file,) = con.execute("SELECT members_file FROM runs WHERE run_id = 1").fetchone()
    assert members_file == "history/run-00000001.parquet"
    # every member, included or not, in the run's member file: pandas (pyarrow) and polars read it
    import pandas as pd
    import polars as pl

    frame = pd.read_parquet(sample / "watchlists" / members_file)
    assert len(frame) == 22 and frame["symbol"].is_unique and set(frame["run_id"]) == {1}
    top = frame[frame["included"]].sort_values("rank")
    assert [(s, r) for s, r, *_ in watch] == list(zip(top["symbol"], top["rank"]))
    assert [sc for _, _, sc, _ in watch] == list(top["score"])
    every = pl.scan_parquet(sample / "watchlists" / "history" / "*.parquet").collect()
    assert every.height == 22 and every.filter(~pl.col("included"))["failed"].list.len().min() >= 0


def test_latest_follows_the_newest_date_per_format(sample, cli):
    base = sample / "watchlists" / "esg_compute_leaders"
    run_json(cli, sample, "esg_compute_leaders", "--as-of", "2026-11-26", "--format", "csv,json")
    run_json(cli, sample, "esg_compute_leaders", "--as-of", "2026-10-30", "--format", "csv,json,parquet")
    latest = json.loads((base / "latest.json").read_text(encoding="utf-8"))
    assert latest["as_of"] == "2026-11-26"  # the backfill did not replace it
    assert (base / "2026-10-30" / "esg_compute_leaders.json").exists()
    assert (base / "latest.parquet").exists()  # parquet's newest date is the backfill


@pytest.mark.parametrize("rule_file", ["..toml", "....toml"])
def test_rule_file_names_cannot_escape_the_output_folder(sample, cli, rule_file):
    src = (sample / "rules" / "quantum_pure_plays.toml").read_text(encoding="utf-8")
    (sample / "rules" / rule_file).write_text(src, encoding="utf-8")
    r = cli(sample, "run", f"rules/{rule_file}", "--as-of", "2026-11-26")
    assert r.exit_code == 0, r.output
    out = (sample / "watchlists").resolve()
    for line in r.stdout.splitlines():
        if line.startswith("wrote "):
            assert out in (sample / line[len("wrote "):]).resolve().parents


def test_a_second_run_waits_for_the_lock_then_gives_up(sample, cli):
    from filelock import FileLock

    cfg = sample / "config.toml"
    text = cfg.read_text(encoding="utf-8")
    assert "lock_timeout = 120" in text
    cfg.write_text(text.replace("lock_timeout = 120", "lock_timeout = 0.5"), encoding="utf-8")
    folder = sample / "watchlists" / "esg_compute_leaders"
    folder.mkdir(parents=True)
    lock = FileLock(str(folder / ".lock"), fallback_to_soft=False)
    with lock:
        r = cli(sample, "run", "esg_compute_leaders", "--as-of", "2026-11-26")
    assert r.exit_code == 1
    assert "waiting for another run of esg_compute_leaders" in r.stderr
    assert "gave up after 0.5 s" in r.stderr
    assert not (folder / "2026-11-26").exists() and not (sample / "watchlists" / "history.sqlite").exists()


def test_a_waiting_run_proceeds_when_the_lock_is_released(sample, cli):
    from filelock import FileLock

    folder = sample / "watchlists" / "esg_compute_leaders"
    folder.mkdir(parents=True)
    lock = FileLock(str(folder / ".lock"), fallback_to_soft=False, thread_local=False)
    lock.acquire()
    threading.Timer(0.5, lock.release).start()
    r = cli(sample, "run", "esg_compute_leaders", "--as-of", "2026-11-26")
    assert r.exit_code == 0, r.output
    assert "waiting for another run" in r.stderr
    assert (folder / "2026-11-26" / "esg_compute_leaders.csv").exists()


# -- a run killed with SIGKILL while it writes ------------------------------------------------

# Runs the real CLI (the arguments after the first three) and SIGKILLs its own process at its
# KILL_AT-th write point into OUT: just before each `os.replace` there (an atomic write's rename,
# its temporary file written) and just before each COMMIT of the history. Each point is logged to
# EVENTS before it is reached; KILL_AT 0 never kills. The history connections get a one-page cache,
# so a transaction's rows reach the WAL before its COMMIT, as those of a large run do: a kill at the
# COMMIT leaves a half-written transaction on disk.
_KILLER = r'''
import os, signal, sqlite3, sys

kill_at, events, out = int(sys.argv[1]), open(sys.argv[2], "a", encoding="utf-8"), os.path.realpath(sys.argv[3])
count = 0


def inside_out(path):
    return os.path.realpath(os.fspath(path)).startswith(out + os.sep)


def write_point(what):
    global count
    count += 1
    events.write(f"{count} {what}\n")
    events.flush()
    if count == kill_at:
        os.kill(os.getpid(), signal.SIGKILL)


real_replace, real_connect = os.replace, sqlite3.connect


def replace(src, dst, *args, **kwargs):
    if inside_out(dst):
        write_point("replace " + os.path.relpath(os.path.realpath(os.fspath(dst)), out))
    return real_replace(src, dst, *args, **kwargs)


class Connection(sqlite3.Connection):
    def execute(self, sql, *args):
        if self.in_transaction and sql.lstrip().upper().startswith(("COMMIT", "END")):
            write_point("commit")
        return super().execute(sql, *args)

    def commit(self):
        if self.in_transaction:
            write_point("commit")
        return super().commit()


def connect(database, *args, **kwargs):
    if not inside_out(database):
        return real_connect(database, *args, **kwargs)
    con = real_connect(database, *args, factory=Connection, **kwargs)
    con.execute("PRAGMA cache_size = 1")
    return con


os.replace, sqlite3.connect = replace, connect
from screener.cli import main

main(sys.argv[4:], prog_name="screener")
'''


def _big_project(root: Path, n: int) -> Path:
    rng = random.Random(7)
    write(root / "config.toml", '[paths]\nrules = "rules"\nuniverses = "universes"\ndata = "data"\nout = "out"\n')
    (root / "universes").mkdir()
    (root / "data").mkdir()
    with open(root / "universes" / "big.csv", "w", encoding="utf-8") as fh:
        fh.write("symbol,name,exposure,listed\n")
        for i in range(n):
            fh.write(f"{600000 + i:06d}.SH,公司{i},{rng.choice(['pure', 'core', 'partial'])},true\n")
    with open(root / "data" / "consensus.csv", "w", encoding="utf-8") as fh:
        fh.write("symbol,fiscal_year,eps,actual,as_of\n")
        for i in range(n):
            e0 = rng.uniform(0.1, 3)
            fh.write(f"{600000 + i:06d}.SH,2025,{e0:.4f},true,2026-04-30\n")
            fh.write(f"{600000 + i:06d}.SH,2026,{e0 * rng.uniform(0.8, 1.6):.4f},false,2026-05-31\n")
    write(root / "rules" / "big.toml", """
        universe = ["big"]
        [filters]
        growing = "eps_growth_fy1 > 0"
        [scores]
        growth = { expr = "eps_growth_fy1", weight = 1 }
        value = { expr = "close / eps_fy1", weight = 1, higher_is_better = false }
    """)
    return root


def _prices(data: Path, n: int, level: float) -> None:
    with open(data / "prices.csv", "w", encoding="utf-8") as fh:
        fh.write("symbol,close,currency,as_of\n")
        for i in range(n):
            fh.write(f"{600000 + i:06d}.SH,{level + (i * 7919) % 97:.2f},CNY,2026-06-30\n")


def _exports(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file() and not p.name.startswith(".")}


def _same_export(name: str, data: bytes, expected: bytes) -> bool:
    """JSON carries its generation time and history context: compare what it says about the screen."""
    if name.endswith(".json"):
        a, b = json.loads(data), json.loads(expected)
        return a["rows"] == b["rows"] and a["excluded"] == b["excluded"]
    return data == expected


def _history_runs(out: Path, scratch: Path, n: int) -> int:
    """The number of runs in `out`'s history, checked whole: the file is intact and every run names a
    member file holding all `n` members and agreeing with its watchlist. Read from a copy, so the next
    run meets the history exactly as the kill left it."""
    import polars as pl

    if scratch.exists():
        shutil.rmtree(scratch)
    scratch.mkdir()
    for p in out.glob("history.sqlite*"):
        if not p.name.endswith("-shm"):  # rebuilt from the WAL, as after a reboot
            shutil.copy(p, scratch / p.name)
    con = sqlite3.connect(scratch / "history.sqlite")
    try:
        assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        runs = [run_id for (run_id,) in con.execute("SELECT run_id FROM runs")]
        for run_id in runs:
            (members_file,) = con.execute("SELECT members_file FROM runs WHERE run_id = ?", (run_id,)).fetchone()
            members = pl.read_parquet(out / members_file)
            assert members.height == n and set(members["run_id"]) == {run_id}
            watch = [s for (s,) in con.execute("SELECT symbol FROM watchlist WHERE run_id = ? ORDER BY symbol",
                                               (run_id,))]
            assert watch == members.filter(pl.col("included"))["symbol"].sort().to_list()
    finally:
        con.close()
    return len(runs)


def test_sigkill_mid_write_leaves_earlier_exports_and_history_intact(tmp_path):
    """Every write point of a run is a kill point. Runs on new data over the old exports are killed
    at write point 1, 3, 5, ... in one chain and 2, 4, 6, ... in another beside it, each run starting
    from what the kill before it left, until a run has fewer points and completes. After every kill
    each export is the whole old file or the whole new one, and the history is intact and holds
    exactly the runs whose COMMIT went through; the run that completes leaves every export new, no
    temporary file, and itself recorded."""
    n = 60
    root = _big_project(tmp_path / "big", n)
    (root / "data").rename(root / "old")
    shutil.copytree(root / "old", root / "new")
    _prices(root / "old", n, 10.0)
    _prices(root / "new", n, 50.0)  # new data: a new run's exports differ from the old ones
    for name in ("old", "new"):
        write(root / f"{name}.toml", f'[paths]\nrules = "rules"\nuniverses = "universes"\ndata = "{name}"\n')
    killer = tmp_path / "killer.py"
    killer.write_text(_KILLER, encoding="utf-8")
    env = dict(os.environ, PYTHONIOENCODING="utf-8")

    def run(data: str, out: Path, kill_at: int = 0) -> tuple[int, list[str], str]:
        """(exit code, the write points reached, stderr) of one run on the `data` snapshot."""
        events = tmp_path / "events" / f"{out.name}-{kill_at}.txt"
        events.parent.mkdir(exist_ok=True)
        p = subprocess.run([sys.executable, str(killer), str(kill_at), str(events), str(out), "run", "big",
                            "--as-of", "2026-06-30", "--format", "csv,json,parquet", "--out", str(out), "--json",
                            "--config", str(root / f"{data}.toml")],
                           cwd=root, env=env, capture_output=True, text=True, timeout=120)
        points = [line.split(" ", 1)[1] for line in events.read_text(encoding="utf-8").splitlines()]
        return p.returncode, points, p.stderr

    with ThreadPoolExecutor(2) as pool:  # the old exports, and the new ones for reference
        done = list(pool.map(run, ("old", "new"), (tmp_path / "old", tmp_path / "new")))
    assert [code for code, _, _ in done] == [0, 0], [err for _, _, err in done]
    old, new = _exports(tmp_path / "old" / "big"), _exports(tmp_path / "new" / "big")
    assert old.keys() == new.keys() and any(old[k] != new[k] for k in old)

    def chain(first: int) -> tuple[list[int], list[str]]:
        """Kill at first, first + 2, ... until a run completes: (points killed at, the completing run's points)."""
        out = tmp_path / f"chain{first}"
        shutil.copytree(tmp_path / "old", out)
        killed, runs = [], 1
        for kill_at in range(first, 100, 2):
            code, points, err = run("new", out, kill_at)
            if code == 0:
                break
            assert code == -signal.SIGKILL and len(points) == kill_at, (kill_at, code, points, err)
            killed.append(kill_at)
            now = _exports(out / "big")
            assert now.keys() == old.keys()
            for name, data in now.items():  # every file is the whole old export or the whole new one
                assert _same_export(name, data, old[name]) or _same_export(name, data, new[name]), (name, points)
            if points[-1] == "commit":  # killed mid-transaction, with rows already in the WAL
                assert (out / "history.sqlite-wal").stat().st_size > 0
            runs += "commit" in points[:-1]  # a COMMIT that went through records its run; the killed one none
            assert _history_runs(out, tmp_path / f"scratch{first}", n) == runs, points
        else:
            pytest.fail(f"no run completed: {points}")
        # the next run after the kills works
        assert _exports(out / "big").keys() == new.keys()
        assert all(_same_export(k, v, new[k]) for k, v in _exports(out / "big").items())
        assert not list((out / "big").rglob(".*.tmp"))  # temporary files of the killed runs are gone
        assert _history_runs(out, tmp_path / f"scratch{first}", n) == runs + 1
        return killed, points

    with ThreadPoolExecutor(2) as pool:
        (odd, points), (even, points_even) = pool.map(chain, (1, 2))
    def same(ps):  # the chains have recorded different numbers of runs: the member file's run id differs
        return [re.sub(r"run-\d+", "run-N", p) for p in ps]

    assert same(points) == same(points_even) and sorted(odd + even) == list(range(1, len(points) + 1))  # every point, once
    # every export's rename and the history's COMMIT are among them
    assert "commit" in points and {f"replace big/{k}" for k in new} <= set(points), points
    # the member file is written (renamed into place) inside the history's transaction, before its COMMIT
    member = [i for i, p in enumerate(points) if p.startswith("replace history/run-")]
    assert len(member) == 1 and points[member[0] + 1] == "commit", points
    # DESIGN's order: dated exports, the history's COMMIT, then latest.* (so latest is always recorded)
    commit = points.index("commit")
    assert all(i < commit for i, p in enumerate(points) if p.startswith("replace big/2026-"))
    assert all(i > commit for i, p in enumerate(points) if p.startswith("replace big/latest."))


@pytest.mark.parametrize("rule", ["esg_compute_leaders", "ai_compute_garp", "quantum_pure_plays"])
def test_a_diff_read_from_the_two_watchlists_equals_the_diff_of_every_member(sample, cli, rule):
    """publish reads only each run's watchlist plus the other's from the history (a whole-market
    diff would otherwise load millions of rows): the changes must be those of the full tables."""
    from screener.outputs.history import History, compare

    published = [run_json(cli, sample, rule, "--as-of", d) for d in ("2026-06-30", "2026-09-30", "2026-11-26")]
    h = History(sample / "watchlists")
    runs = {r.run_id: r for r in h.runs(rule)}
    for a, b, run in zip((1, 2), (2, 3), published[1:]):
        full = compare(h.rows(a), h.rows(b), runs[a], runs[b])
        old = h.rows(a, also=[s for s, r in h.rows(b).items() if r["included"]])
        new = h.rows(b, also=[s for s, r in old.items() if r["included"]])
        assert len(old) < len(h.rows(a)) or all(r["included"] for r in old.values())
        assert compare(old, new, runs[a], runs[b]).to_dict() == full.to_dict()
        assert {k: run["changes"][k] for k in ("entered", "left", "moved")} == \
            {k: full.to_dict()[k] for k in ("entered", "left", "moved")}
