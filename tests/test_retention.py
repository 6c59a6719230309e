"""Exports that stay bounded (`[export] keep_days`, `[export] json_excluded_max`), from the user's
side: which dated folders a run leaves, that `latest.*` and anything not named by a date stay, the
JSON export without its excluded members above the cap, and bad values in config.toml."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from .conftest import write


def configure(project: Path, lines: str) -> None:
    cfg = project / "config.toml"
    text = cfg.read_text(encoding="utf-8")
    if "[export]\n" in text:
        text = text.replace("[export]\n", "[export]\n" + lines)
    else:
        text += "\n[export]\n" + lines
    cfg.write_text(text, encoding="utf-8")


def run(cli, project, day, formats="csv,json", code=0, rule="small"):
    r = cli(project, "run", rule, "--as-of", day, "--format", formats, "--json")
    assert r.exit_code == code, r.output
    return json.loads(r.stdout)


def dated(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))


# -- keep_days ----------------------------------------------------------------------------


def test_keep_days_removes_only_dated_folders_older_than_the_window(tiny, cli):
    configure(tiny, "keep_days = 3\n")
    folder = tiny / "out" / "small"
    # things a user put there: never ours to remove, even when they look like a date
    write(folder / "notes" / "readme.txt", "mine")
    write(folder / "2026-06-01-old" / "x.txt", "mine")
    write(folder / "2026-13-01" / "x.txt", "not a real date")
    write(folder / "2026-06-02", "a file named like a date")

    assert run(cli, tiny, "2026-07-01")["pruned"] == {
        "count": 0, "older_than": "2026-06-28", "keep_days": 3, "folders": [], "failed": []}
    run(cli, tiny, "2026-07-02")
    run(cli, tiny, "2026-07-04")  # newest 07-04: older than 07-01 goes, none is
    assert dated(folder) == ["2026-06-01-old", "2026-07-01", "2026-07-02", "2026-07-04", "2026-13-01", "notes"]

    p = run(cli, tiny, "2026-07-06")  # newest 07-06: before 07-03 goes
    assert p["pruned"]["count"] == 2 and p["pruned"]["older_than"] == "2026-07-03"
    assert dated(folder) == ["2026-06-01-old", "2026-07-04", "2026-07-06", "2026-13-01", "notes"]

    run(cli, tiny, "2026-07-03")  # a backfill inside the window stays (not before 07-03)
    assert "2026-07-03" in dated(folder)

    # 07-10 writes json only: latest.csv still comes from 07-06, so 07-06 stays though it is old
    p = run(cli, tiny, "2026-07-10", formats="json")
    assert p["pruned"]["older_than"] == "2026-07-07"
    assert sorted(Path(f).name for f in p["pruned"]["folders"]) == ["2026-07-03", "2026-07-04"]
    assert dated(folder) == ["2026-06-01-old", "2026-07-06", "2026-07-10", "2026-13-01", "notes"]

    meta = json.loads((folder / ".latest.json").read_text(encoding="utf-8"))
    assert meta == {"csv": "2026-07-06", "json": "2026-07-10", "stem": "small"}  # stem: whose folder it is
    assert json.loads((folder / "latest.json").read_text(encoding="utf-8"))["as_of"] == "2026-07-10"
    assert (folder / "latest.csv").read_bytes() == (folder / "2026-07-06" / "small.csv").read_bytes()
    assert (folder / "notes" / "readme.txt").read_text(encoding="utf-8") == "mine"
    assert (folder / "2026-06-02").read_text(encoding="utf-8") == "a file named like a date"
    assert not list(folder.glob(".*.pruned"))  # nothing left aside

    # the next csv run moves latest.csv on, and 07-06 can go
    run(cli, tiny, "2026-07-11", formats="csv")
    assert dated(folder) == ["2026-06-01-old", "2026-07-10", "2026-07-11", "2026-13-01", "notes"]


def test_the_terminal_says_what_was_pruned_and_without_keep_days_nothing_goes(tiny, cli):
    folder = tiny / "out" / "small"
    for day in ("2026-07-01", "2026-07-09"):
        r = cli(tiny, "run", "small", "--as-of", day, "--format", "csv")
        assert r.exit_code == 0, r.output
        assert "pruned" not in r.stdout
    assert "pruned" not in run(cli, tiny, "2026-07-10")  # default: keep everything
    assert dated(folder) == ["2026-07-01", "2026-07-09", "2026-07-10"]

    configure(tiny, "keep_days = 0\n")
    r = cli(tiny, "run", "small", "--as-of", "2026-07-10", "--format", "csv,json")
    assert r.exit_code == 0, r.output
    assert "pruned 2 dated export folders older than 2026-07-10 (export.keep_days = 0)" in r.stdout
    assert dated(folder) == ["2026-07-10"]


def test_a_folder_left_aside_by_a_killed_prune_is_removed_next_time(tiny, cli):
    configure(tiny, "keep_days = 1\n")
    folder = tiny / "out" / "small"
    write(folder / ".2026-05-01.pruned" / "small.csv", "half deleted")
    write(folder / ".mine.pruned" / "x.txt", "not a date: kept")
    run(cli, tiny, "2026-07-01")
    assert not (folder / ".2026-05-01.pruned").exists()
    assert (folder / ".mine.pruned" / "x.txt").exists()


def test_a_run_that_fails_prunes_nothing(tiny, cli):
    import sqlite3

    configure(tiny, "keep_days = 1\n")
    folder = tiny / "out" / "small"
    run(cli, tiny, "2026-07-01")
    with sqlite3.connect(tiny / "out" / "history.sqlite") as con:
        con.execute("CREATE TRIGGER refuse BEFORE INSERT ON runs BEGIN SELECT RAISE(ABORT, 'disk is full'); END")
    r = cli(tiny, "run", "small", "--as-of", "2026-07-09", "--format", "csv")
    assert r.exit_code == 1 and "pruned" not in r.stdout
    assert dated(folder) == ["2026-07-01", "2026-07-09"]


# -- json_excluded_max ----------------------------------------------------------------------


def test_the_json_export_leaves_out_excluded_members_above_the_cap(sample, cli):
    configure(sample, "json_excluded_max = 1\n")
    day, rule = "2026-11-26", "esg_compute_leaders"
    stdout = run(cli, sample, day, formats="json", rule=rule)
    exported = json.loads((sample / "watchlists" / rule / day / f"{rule}.json").read_text(encoding="utf-8"))
    latest = json.loads((sample / "watchlists" / rule / "latest.json").read_text(encoding="utf-8"))
    assert latest == exported
    total = len(stdout["excluded"])  # run --json stays complete
    assert total > 1 and total == stdout["members"] - len(stdout["rows"])
    assert exported["excluded"] is None and exported["excluded_count"] == total
    assert "history" in exported["excluded_note"] and "json_excluded_max = 1" in exported["excluded_note"]
    assert exported["rows"] == stdout["rows"] and len(exported["rows"]) > 0
    assert "excluded_count" not in stdout


def test_at_or_below_the_cap_the_json_export_lists_every_excluded_member(sample, cli):
    day, rule = "2026-11-26", "esg_compute_leaders"
    total = len(run(cli, sample, day, formats="json", rule=rule)["excluded"])
    configure(sample, f"json_excluded_max = {total}\n")
    run(cli, sample, day, formats="json", rule=rule)
    exported = json.loads((sample / "watchlists" / rule / day / f"{rule}.json").read_text(encoding="utf-8"))
    assert len(exported["excluded"]) == total and "excluded_count" not in exported


# -- config ------------------------------------------------------------------------------------


@pytest.mark.parametrize("line, needle", [
    ("keep_days = -1", "export.keep_days must be a whole number of days >= 0, got -1"),
    ('keep_days = "30"', "export.keep_days must be a whole number of days >= 0, got '30'"),
    ("keep_days = true", "export.keep_days must be a whole number of days >= 0, got True"),
    ("json_excluded_max = 1.5", "export.json_excluded_max must be a whole number of members >= 0, got 1.5"),
    ("keep_day = 30", "unknown key `keep_day` in [export]"),
])
def test_bad_retention_settings_exit_2_with_file_and_line(sample, cli, line, needle):
    cfg = sample / "config.toml"
    text = cfg.read_text(encoding="utf-8")
    configure(sample, line + "\n")
    where = f"config.toml:{text.splitlines().index('[export]') + 2}:"
    r = cli(sample, "run", "esg_compute_leaders", "--as-of", "2026-11-26")
    assert r.exit_code == 2
    assert needle in r.output and where in r.output, r.output
    if line.startswith("keep_day "):
        assert "keep_days" in r.output  # did you mean
    assert not (sample / "watchlists").exists()


def test_scheduled_runs_prune_too_and_log_it(tiny, caplog):
    import logging
    from datetime import datetime
    from zoneinfo import ZoneInfo

    from screener.schedule.daemon import Daemon

    configure(tiny, "keep_days = 2\n")
    cfg = tiny / "config.toml"
    cfg.write_text(cfg.read_text(encoding="utf-8") + """
[[jobs]]
name = "small"
rules = ["rules/small.toml"]
cron = "30 16 * * *"
formats = ["csv", "json"]

[history]
detail_days = 2
""", encoding="utf-8")
    sh = ZoneInfo("Asia/Shanghai")
    with caplog.at_level(logging.INFO):
        for day in (1, 2, 5):
            slot = datetime(2026, 7, day, 16, 30, tzinfo=sh)
            assert Daemon(cfg, clock=lambda slot=slot: slot).run_job("small", slot).status == "ok"
    assert dated(tiny / "out" / "small") == ["2026-07-05"]  # newest 07-05: before 07-03 goes
    assert "rules/small.toml: pruned 2 dated export folders older than 2026-07-03 (export.keep_days = 2)" \
        in caplog.text
    assert ("rules/small.toml: pruned the member detail of 2 runs as of before 2026-07-03 "
            "(history.detail_days = 2; their watchlists are kept)") in caplog.text
    assert sorted(p.name for p in (tiny / "out" / "history").iterdir()) == ["run-00000003.parquet"]
