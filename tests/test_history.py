"""Run history, diffs, the latest exports, the per-screen lock, and runs killed mid-write."""

from __future__ import annotations

import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import threading
import time
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
    n = con.execute("SELECT COUNT(*) FROM rows WHERE run_id = 1").fetchone()[0]
    assert n == 22  # every member, included or not


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


def _prices(root: Path, n: int, level: float) -> None:
    with open(root / "data" / "prices.csv", "w", encoding="utf-8") as fh:
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


def test_sigkill_mid_write_leaves_earlier_exports_and_history_intact(tmp_path):
    n = 20_000  # big enough that writing the exports takes a measurable part of a run
    root = _big_project(tmp_path / "big", n)
    cmd = [sys.executable, "-m", "screener", "run", "big", "--as-of", "2026-06-30", "--format", "csv,json,parquet"]
    env = dict(os.environ, PYTHONIOENCODING="utf-8")

    def complete_run(out: Path) -> tuple[dict[str, bytes], float]:
        start = time.perf_counter()
        p = subprocess.run(cmd + ["--out", str(out)], cwd=root, env=env, capture_output=True, text=True, timeout=300)
        assert p.returncode == 0, p.stderr
        return _exports(out / "big"), time.perf_counter() - start

    _prices(root, n, 10.0)
    old, _ = complete_run(tmp_path / "old")
    _prices(root, n, 50.0)  # new data: a new run's exports differ from the old ones
    new, duration = complete_run(tmp_path / "new")
    assert old.keys() == new.keys() and any(old[k] != new[k] for k in old)

    out = root / "out"
    _prices(root, n, 10.0)
    subprocess.run(cmd + ["--out", str(out)], cwd=root, env=env, capture_output=True, timeout=300, check=True)
    _prices(root, n, 50.0)
    kills, finished = 0, 0
    # kill points spread over a run's length; a run that finishes first shortens the next wait
    fractions = [0.4, 0.55, 0.7, 0.8, 0.88, 0.95, 0.6, 0.75, 0.5, 0.85, 0.65, 0.9]
    for fraction in fractions:
        if kills >= 5:
            break
        p = subprocess.Popen(cmd + ["--out", str(out)], cwd=root, env=env,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(duration * fraction)
        if p.poll() is None:
            p.send_signal(signal.SIGKILL)
            kills += 1
        else:
            finished += 1
            duration *= 0.8
        p.wait(timeout=60)
        now = _exports(out / "big")
        assert now.keys() == old.keys()
        for name, data in now.items():  # every file is the whole old export or the whole new one
            assert _same_export(name, data, old[name]) or _same_export(name, data, new[name]), name
        con = sqlite3.connect(out / "history.sqlite")
        try:
            assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
            for (run_id,) in con.execute("SELECT run_id FROM runs").fetchall():
                assert con.execute("SELECT COUNT(*) FROM rows WHERE run_id = ?", (run_id,)).fetchone()[0] == n
        finally:
            con.close()
    assert kills >= 3, f"only {kills} runs were killed ({finished} finished first): the test proved nothing"


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
