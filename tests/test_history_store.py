"""The history that scales, from the user's side: a member file per run beside a small SQLite
index, `[history] detail_days` and `history --prune` (watchlists kept forever), what a diff says
when member detail was pruned, and a damaged history (truncated, a directory) per DESIGN's order
of writes."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import polars as pl
import pytest

RULE = "esg_compute_leaders"
DAYS = ("2026-06-30", "2026-09-30", "2026-10-30", "2026-11-26")


def run(cli, project, day, code=0, *extra):
    r = cli(project, "run", RULE, "--as-of", day, "--json", *extra)
    assert r.exit_code == code, r.output
    return json.loads(r.stdout), r


def history_config(project: Path, lines: str) -> None:
    with open(project / "config.toml", "a", encoding="utf-8") as fh:
        fh.write("\n[history]\n" + lines)


def member_files(out: Path) -> list[str]:
    return sorted(p.name for p in (out / "history").glob("*.parquet"))


def test_detail_days_prunes_old_member_files_and_keeps_every_watchlist(sample, cli):
    history_config(sample, "detail_days = 45\n")
    out = sample / "watchlists"
    payloads = [run(cli, sample, d)[0] for d in DAYS]
    # as of 09-30 the cutoff is 08-16: run 1 (06-30) goes; as of 11-26 it is 10-12: run 2 (09-30) goes
    assert [p["pruned_detail"]["runs"] for p in payloads] == [[], [1], [], [2]]
    assert payloads[-1]["pruned_detail"]["cutoff"] == "2026-10-12"
    assert member_files(out) == ["run-00000003.parquet", "run-00000004.parquet"]
    runs = json.loads(cli(sample, "history", RULE, "--json").stdout)
    assert [r["members_file"] for r in runs] == [None, None, "history/run-00000003.parquet",
                                                 "history/run-00000004.parquet"]
    # every watchlist row stays, as recorded
    with sqlite3.connect(out / "history.sqlite") as con:
        for p in payloads:
            rows = con.execute("SELECT symbol, rank FROM watchlist WHERE run_id = ? ORDER BY rank",
                               (p["run_id"],)).fetchall()
            assert rows == [(r["symbol"], r["rank"]) for r in p["rows"]]
    # the terminal says what went
    r = cli(sample, "run", RULE, "--as-of", DAYS[-1])
    assert r.exit_code == 0 and "pruned the member detail" not in r.stdout  # nothing new to prune
    # a diff between pruned runs still lists who entered and left; reasons it cannot know say so
    diff = json.loads(cli(sample, "history", RULE, "--diff", "1", "2", "--json").stdout)
    full = payloads[1]["changes"]  # what run 2 said when its detail was there
    assert [e["symbol"] for e in diff["entered"]] == [e["symbol"] for e in full["entered"]]
    assert [e["symbol"] for e in diff["left"]] == [e["symbol"] for e in full["left"]]
    assert diff["moved"] == full["moved"]
    for e in diff["left"]:
        assert e["reason"] == "not known: the member detail of run 2 was pruned"


def test_history_prune_on_demand_and_without_a_setting(sample, cli):
    out = sample / "watchlists"
    for d in DAYS:
        run(cli, sample, d)
    r = cli(sample, "history", RULE, "--prune")
    assert r.exit_code == 2 and "[history] detail_days" in r.output and "Traceback" not in r.output
    assert len(member_files(out)) == 4
    (out / "history" / "run-00000099.parquet").write_bytes(b"left by a run killed before its COMMIT")
    r = cli(sample, "history", RULE, "--prune", "--detail-days", "0", "--json")
    assert r.exit_code == 0, r.output
    done = json.loads(r.stdout)
    assert done["runs"] == [1, 2, 3] and done["orphans_removed"] == 1
    assert member_files(out) == ["run-00000004.parquet"]
    r = cli(sample, "history", RULE, "--prune", "--detail-days", "0")
    assert r.exit_code == 0 and "pruned the member detail of 0 runs" in r.stdout
    r = cli(sample, "history", RULE, "--diff", "--detail-days", "3")
    assert r.exit_code == 2 and "--prune" in r.output
    # the newest run's diff is complete: the run it compares against keeps its watchlist, and the
    # newest keeps its members
    diff = json.loads(cli(sample, "history", RULE, "--diff", "--json").stdout)
    assert all("not known" not in e["reason"] for e in diff["left"] + diff["entered"])


def test_bad_detail_days_is_exit_2_naming_the_key(sample, cli):
    history_config(sample, "detail_days = -3\n")
    r = cli(sample, "run", RULE, "--as-of", DAYS[0])
    assert r.exit_code == 2 and "history.detail_days" in r.output and "config.toml" in r.output


def test_a_truncated_history_is_set_aside_and_the_run_writes_only_its_dated_exports(sample, cli):
    out = sample / "watchlists"
    run(cli, sample, DAYS[0], 0, "--format", "csv")
    with sqlite3.connect(out / "history.sqlite") as con:  # all in the main file, as after a checkpoint
        con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    latest = (out / RULE / "latest.csv").read_bytes()
    db = out / "history.sqlite"
    whole = db.read_bytes()
    db.write_bytes(whole[: len(whole) // 2])  # cut short, as by a full disk or a crash mid-copy
    for p in out.glob("history.sqlite-*"):
        p.unlink()
    payload, r = run(cli, sample, DAYS[1], 1, "--format", "csv")
    (aside,) = [p for p in out.glob("history.sqlite.unreadable-*") if not p.name.endswith(("-wal", "-shm"))]
    assert f"moved it aside to {aside}" in r.stderr and "Traceback" not in r.output
    assert aside.read_bytes() == whole[: len(whole) // 2]  # kept as it was, never overwritten
    assert (out / RULE / DAYS[1] / f"{RULE}.csv").exists()  # the dated export is written
    assert (out / RULE / "latest.csv").read_bytes() == latest  # latest.* is not
    assert not db.exists() and payload["run_id"] is None
    # the next run starts a new history
    assert run(cli, sample, DAYS[2], 0, "--format", "csv")[0]["run_id"] == 1


def test_a_directory_where_the_history_goes_is_exit_2_naming_it(sample, cli):
    out = sample / "watchlists"
    (out / "history.sqlite").mkdir(parents=True)
    r = cli(sample, "run", RULE, "--as-of", DAYS[0])
    assert r.exit_code == 2 and "history.sqlite" in r.output and "directory" in r.output
    assert "Traceback" not in r.output and (out / "history.sqlite").is_dir()
    r = cli(sample, "history", RULE)
    assert r.exit_code == 2 and "directory" in r.output


def test_member_files_read_with_polars_and_duckdb_style_unions(sample, cli):
    """Each score component is a column `score.<name>`, as in `screener.screen`'s frame; runs of
    several rules read as one table with a diagonal concat."""
    out = sample / "watchlists"
    first = run(cli, sample, DAYS[-1])[0]
    r = cli(sample, "run", "quantum_pure_plays", "--as-of", DAYS[-1], "--json")
    assert r.exit_code == 0, r.output
    files = sorted((out / "history").glob("*.parquet"))
    every = pl.concat([pl.read_parquet(f) for f in files], how="diagonal")
    assert sorted(every["rule_stem"].unique()) == sorted([RULE, "quantum_pure_plays"])
    mine = every.filter(pl.col("run_id") == first["run_id"], pl.col("included")).sort("rank")
    assert mine["symbol"].to_list() == [row["symbol"] for row in first["rows"]]
    for row, got in zip(first["rows"], mine.iter_rows(named=True)):
        for name, value in row["components"].items():
            assert got[f"score.{name}"] == pytest.approx(value, abs=5e-7), name  # JSON rounds to 6 places


@pytest.mark.slow  # about 15 s: a process per write point
def test_a_migration_killed_at_any_point_leaves_the_old_history_or_the_new(sample, cli, tmp_path):
    """The first run of this version over an older history migrates it: killed at any write point
    (the backup, each member file, the COMMIT, the run's own writes), the history reads as the old
    file, whole, or the migrated one, whole; and the next run works."""
    import os
    import shutil
    import signal
    import subprocess
    import sys

    from .test_history import _KILLER
    from .test_pipeline import OLD_RUNS, OLD_SCHEMA, members

    out = sample / "watchlists"
    for d in DAYS[:2]:
        run(cli, sample, d)
    db = out / "history.sqlite"
    old_file = tmp_path / "old.sqlite"
    with sqlite3.connect(old_file) as con:  # the same two runs in the first layout
        con.executescript(OLD_SCHEMA)
        con.execute("ATTACH DATABASE ? AS new", (str(db),))
        con.execute(f"INSERT INTO runs SELECT {OLD_RUNS} FROM new.runs")
        for run_id in (1, 2):
            con.executemany("INSERT INTO rows VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", [
                (run_id, r["symbol"], r["name"], int(r["included"]), int(r["passed"]), r["rank"], r["score"],
                 json.dumps(r["failed"]), json.dumps(r["missing"]),
                 json.dumps({k[6:]: x for k, x in r.items() if k.startswith("score.")}))
                for r in members(sample, run_id, "watchlists").iter_rows(named=True)])
    old_rows = sqlite3.connect(old_file).execute("SELECT COUNT(*) FROM rows").fetchone()[0]
    shutil.rmtree(out)
    pristine = tmp_path / "pristine"
    pristine.mkdir()
    shutil.copy(old_file, pristine / "history.sqlite")
    killer = tmp_path / "killer.py"
    killer.write_text(_KILLER, encoding="utf-8")
    env = dict(os.environ, PYTHONIOENCODING="utf-8")

    def state(folder: Path) -> str:
        con = sqlite3.connect(folder / "history.sqlite")
        try:
            assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
            if con.execute("PRAGMA user_version").fetchone()[0] < 3:
                assert con.execute("SELECT COUNT(*) FROM rows").fetchone()[0] == old_rows
                return "old"
            runs = con.execute("SELECT run_id, members, members_file FROM runs ORDER BY run_id").fetchall()
            for run_id, n, rel in runs:
                assert pl.read_parquet(folder / rel).height == n
            return "new"
        finally:
            con.close()

    seen = set()
    for kill_at in range(1, 40):
        folder = tmp_path / f"k{kill_at}"
        shutil.copytree(pristine, folder)
        events = tmp_path / f"events{kill_at}.txt"
        p = subprocess.run([sys.executable, str(killer), str(kill_at), str(events), str(folder), "run", RULE,
                            "--as-of", DAYS[2], "--format", "csv", "--out", str(folder), "--json"],
                           cwd=sample, env=env, capture_output=True, text=True, timeout=120)
        if p.returncode == 0:
            break
        assert p.returncode == -signal.SIGKILL, p.stderr
        seen.add(state(folder))
        again = cli(sample, "run", RULE, "--as-of", DAYS[2], "--format", "csv", "--out", str(folder), "--json")
        assert again.exit_code == 0, again.output
        assert [r["run_id"] for r in json.loads(cli(sample, "history", RULE, "--out", str(folder),
                                                    "--json").stdout)][:2] == [1, 2]
        assert state(folder) == "new"
    else:
        raise AssertionError("no run completed")
    points = events.read_text(encoding="utf-8").splitlines()
    assert seen == {"old", "new"}, (seen, points)
    assert any("history.sqlite.v0-backup" in p for p in points) and sum("commit" in p for p in points) >= 2


def test_a_rule_named_like_our_files_keeps_its_own_folder_and_history(sample, cli):
    """`rules/history.sqlite.toml` by its bare name: its exports go to an escaped folder, its runs
    are keyed by its whole stem, and the real history file stays a file."""
    import shutil

    shutil.copy(sample / "rules" / f"{RULE}.toml", sample / "rules" / "history.sqlite.toml")
    r = cli(sample, "run", "history.sqlite", "--as-of", DAYS[-1], "--json")
    assert r.exit_code == 0, r.output
    out = sample / "watchlists"
    assert (out / "history.sqlite").is_file() and (out / "@history.sqlite").is_dir()
    runs = json.loads(cli(sample, "history", "history.sqlite", "--json").stdout)
    assert [(x["run_id"], x["rule_stem"]) for x in runs] == [(1, "history.sqlite")]
    assert run(cli, sample, DAYS[-1])[0]["run_id"] == 2  # an ordinary rule in the same folder still runs


def test_latest_is_a_hard_link_to_the_dated_export_or_else_a_copy(sample, cli, monkeypatch):
    """No second copy of a large export: latest.<ext> links to the file this run dated; where the
    file system has no hard links it is written as a copy, with the same bytes."""
    import os

    run(cli, sample, DAYS[-1], 0, "--format", "csv,json")
    folder = sample / "watchlists" / RULE
    for ext in ("csv", "json"):
        latest, dated = folder / f"latest.{ext}", folder / DAYS[-1] / f"{RULE}.{ext}"
        assert os.path.samefile(latest, dated) and latest.read_bytes() == dated.read_bytes()

    def no_links(*args, **kwargs):
        raise OSError(1, "Operation not permitted")

    monkeypatch.setattr(os, "link", no_links)
    run(cli, sample, DAYS[-1], 0, "--format", "csv")
    latest, dated = folder / "latest.csv", folder / DAYS[-1] / f"{RULE}.csv"
    assert not os.path.samefile(latest, dated) and latest.read_bytes() == dated.read_bytes()
    assert not [p for p in folder.iterdir() if p.name.endswith(".tmp")]


def test_two_rules_named_in_chinese_keep_their_own_folders(sample, cli):
    """Names in any script are folder names: two Chinese-named rules run one after the other never
    write into one shared folder (they used to meet in `_`)."""
    import shutil

    for name in ("算力龙头", "量子纯正"):
        shutil.copy(sample / "rules" / f"{RULE}.toml", sample / "rules" / f"{name}.toml")
        r = cli(sample, "run", name, "--as-of", DAYS[-1], "--format", "csv")
        assert r.exit_code == 0, r.output
    out = sample / "watchlists"
    assert (out / "算力龙头" / "latest.csv").is_file() and (out / "量子纯正" / "latest.csv").is_file()
    assert not (out / "_").exists()
