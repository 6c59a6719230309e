"""One pipeline for `screener run` and the scheduler: the previous watchlist P chosen by as-of,
changes against the newest run on or before the date, one generation time per run, the order of
writes when the history fails, identity (engine version, P), and older history files."""

from __future__ import annotations

import json
import shutil
import sqlite3
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from .conftest import write

D1, D2, D3 = "2026-07-01", "2026-07-02", "2026-07-03"
A, B, C, D = "603001.SH", "603002.SH", "0001.HK", "IONQ.US"

# a watchlist of one, kept while the incumbent ranks within two; the score is the close alone
BUFFERED = """
name = "Buffered"
universe = ["tiny"]

[scores]
size = { expr = "coalesce(close, 0)", weight = 1 }

[output]
top = 1
keep = 2
"""


def prices(project: Path, days: dict[str, dict[str, float]]) -> None:
    """prices.csv with one close per security and date (IONQ.US always last)."""
    lines = ["symbol,close,currency,as_of"]
    for day, closes in days.items():
        for sym, close in {**closes, D: 1.0}.items():
            lines.append(f"{sym},{close},CNY,{day}")
    (project / "data" / "prices.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")


@pytest.fixture
def buffered(tiny) -> Path:
    write(tiny / "rules" / "buffered.toml", BUFFERED)
    return tiny


def run(cli, project, day, *extra, rule="buffered", code=0):
    r = cli(project, "run", rule, "--as-of", day, "--json", *extra)
    assert r.exit_code == code, r.output
    return json.loads(r.stdout)


def watchlist(payload) -> list[str]:
    return [row["symbol"] for row in payload["rows"]]


def history(project: Path, out: str = "out") -> sqlite3.Connection:
    return sqlite3.connect(project / out / "history.sqlite")


def members(project: Path, run_id: int, out: str = "out"):
    """Every member of a recorded run, from its member file (polars)."""
    import polars as pl

    return pl.read_parquet(project / out / "history" / f"run-{run_id:08d}.parquet")


# -- P: the previous watchlist, by as-of --------------------------------------------------


def test_a_backfill_does_not_become_the_previous_watchlist_of_a_later_run(buffered, cli):
    prices(buffered, {D1: {A: 10, B: 9, C: 8}, D2: {B: 10, A: 9, C: 8}, D3: {B: 10, A: 9, C: 8}})
    first = run(cli, buffered, D2)
    assert watchlist(first) == [B] and first["previous"] is None
    assert first["previous_note"] == "no previous watchlist: plain top" and first["keep"] is True
    backfill = run(cli, buffered, D1)  # recorded after, dated before
    assert watchlist(backfill) == [A] and backfill["previous"] is None and backfill["changes"] is None
    later = run(cli, buffered, D3)
    # P is the run with the newest as-of before D3 (run 1), not the run recorded last (the
    # backfill, whose A would have been kept at rank 2)
    assert later["previous"] == {"run_id": 1, "as_of": D2}
    assert later["previous_note"] == f"previous watchlist: run 1 as of {D2}"
    assert watchlist(later) == [B]
    with history(buffered) as con:
        assert con.execute("SELECT run_id, previous_run_id FROM runs ORDER BY run_id").fetchall() == \
            [(1, None), (2, None), (3, 1)]


def test_the_previous_watchlist_of_a_date_run_twice_is_the_later_run(buffered, cli):
    prices(buffered, {D1: {A: 10, B: 9, C: 8}, D2: {B: 10, C: 9.5, A: 9}})
    assert watchlist(run(cli, buffered, D1)) == [A]
    prices(buffered, {D1: {C: 10, B: 9, A: 8}, D2: {B: 10, C: 9.5, A: 9}})  # the data of D1 corrected
    assert watchlist(run(cli, buffered, D1)) == [C]
    kept = run(cli, buffered, D2)
    assert kept["previous"] == {"run_id": 2, "as_of": D1}  # the tie on D1 goes to the highest run id
    assert watchlist(kept) == [C]  # C ranks 2, within keep 2 (with run 1's A at rank 3, B would lead)
    with history(buffered) as con:
        assert con.execute("SELECT symbol, reason FROM watchlist WHERE run_id = 3").fetchall() == \
            [(C, "kept by the buffer (rank 2, keep 2)")]


def test_no_export_and_explain_read_the_previous_watchlist_and_write_nothing(buffered, cli):
    prices(buffered, {D1: {A: 10, B: 9, C: 8}, D2: {B: 10, A: 9, C: 8}})
    run(cli, buffered, D1)
    db = buffered / "out" / "history.sqlite"
    before = db.read_bytes()
    dry = run(cli, buffered, D2, "--no-export")
    assert watchlist(dry) == [A] and dry["previous"] == {"run_id": 1, "as_of": D1}
    assert dry["run_id"] is None and dry["exports"] == [] and dry["changes"] is None
    r = cli(buffered, "explain", "buffered", A, "--as-of", D2, "--json")
    assert r.exit_code == 0, r.output
    ex = json.loads(r.stdout)
    assert ex["included"] is True and ex["previous"] == {"run_id": 1, "as_of": D1}
    assert "kept by the buffer (rank 2, keep 2)" in ex["reason"]
    assert db.read_bytes() == before
    assert not (buffered / "out" / "buffered" / D2).exists()
    with history(buffered) as con:
        assert con.execute("SELECT COUNT(*) FROM runs").fetchone() == (1,)


# -- changes: against the newest run on or before the date ----------------------------


def test_changes_compare_with_the_newest_run_on_or_before_the_date(buffered, cli):
    prices(buffered, {D1: {A: 10, B: 9, C: 8}, D2: {B: 10, A: 9, C: 8}, D3: {C: 10, A: 9, B: 8}})
    run(cli, buffered, D2)                      # run 1
    run(cli, buffered, D1)                      # run 2, a backfill
    third = run(cli, buffered, D3)              # run 3: against run 1 (D2), not the backfill
    assert third["changes"]["before"]["run_id"] == 1
    assert [e["symbol"] for e in third["changes"]["entered"]] == [C]
    fourth = run(cli, buffered, D1)             # run 4: against run 2 (D1), not the later dates
    assert fourth["changes"]["before"]["run_id"] == 2 and fourth["identical_to"] == 2
    assert fourth["changes"]["entered"] == fourth["changes"]["left"] == []
    diff = json.loads(cli(buffered, "history", "buffered", "--diff", "--json").stdout)
    assert (diff["before"]["run_id"], diff["after"]["run_id"]) == (2, 4)
    diff = json.loads(cli(buffered, "history", "buffered", "--diff", "1", "3", "--json").stdout)
    assert diff["entered"] == third["changes"]["entered"] and diff["left"] == third["changes"]["left"]


def test_reasons_in_changes_are_the_engines(buffered, cli):
    # D2 first with data where A ranks 3 (not kept), then the data corrected so A ranks 2: the
    # second run of D2 keeps A (P = D1's [A]) and compares with the first run of D2 ([B])
    prices(buffered, {D1: {A: 10, B: 9, C: 8}, D2: {B: 10, C: 9, A: 8}})
    run(cli, buffered, D1)
    assert watchlist(run(cli, buffered, D2)) == [B]
    prices(buffered, {D1: {A: 10, B: 9, C: 8}, D2: {B: 10, A: 9, C: 8}})
    third = run(cli, buffered, D2)
    assert watchlist(third) == [A] and third["changes"]["before"]["run_id"] == 2
    (entered,) = third["changes"]["entered"]
    assert (entered["symbol"], entered["reason"]) == (A, "kept by the buffer (rank 2, keep 2)")
    (left,) = third["changes"]["left"]
    (engine_reason,) = members(buffered, 3).filter(symbol=B)["reason"]
    assert left["symbol"] == B and left["reason"] == engine_reason and engine_reason
    excluded = {e["symbol"]: e["reason"] for e in third["excluded"]}
    assert excluded[B] == engine_reason


# -- identity ------------------------------------------------------------------------------


def test_a_run_against_another_previous_watchlist_or_engine_is_never_identical(buffered, cli, monkeypatch):
    prices(buffered, {D1: {A: 10, B: 9, C: 8}, D2: {B: 10, A: 9, C: 8}})
    run(cli, buffered, D1)                                   # run 1
    assert run(cli, buffered, D2)["previous"]["run_id"] == 1  # run 2
    assert run(cli, buffered, D1)["identical_to"] == 1       # run 3: same inputs as run 1
    again = run(cli, buffered, D2)                           # run 4: same rule, data, date; P is run 3 now
    assert again["previous"]["run_id"] == 3 and watchlist(again) == [A]
    assert again["identical_to"] is None
    assert run(cli, buffered, D2)["identical_to"] == 4       # run 5: P still run 3

    import screener.engine

    monkeypatch.setattr(screener.engine, "ENGINE_VERSION", screener.engine.ENGINE_VERSION + 1)
    newer = run(cli, buffered, D2)
    assert newer["identical_to"] is None and newer["engine_version"] == screener.engine.ENGINE_VERSION
    with history(buffered) as con:
        assert con.execute("SELECT engine_version FROM runs WHERE run_id = 6").fetchone() == \
            (screener.engine.ENGINE_VERSION,)


# -- one generation time, every export -----------------------------------------------------


def test_one_generated_at_in_every_export_the_history_and_the_json(sample, cli):
    r = cli(sample, "run", "esg_compute_leaders", "--as-of", "2026-11-26", "--json",
            "--format", "csv,xlsx,html,json,parquet,md")
    assert r.exit_code == 0, r.output
    payload = json.loads(r.stdout)
    stamp = payload["generated_at"]
    assert payload["schema_version"] == 2 and isinstance(payload["engine_version"], int)
    assert payload["keep"] is False and payload["previous"] is None and payload["previous_note"] is None
    folder = sample / "watchlists" / "esg_compute_leaders"
    for name in ("2026-11-26/esg_compute_leaders.json", "latest.json"):
        exported = json.loads((folder / name).read_text(encoding="utf-8"))
        assert exported["generated_at"] == stamp
        assert exported["schema_version"] == payload["schema_version"]
        assert exported["engine_version"] == payload["engine_version"]
    # shown to people in the configured timezone (Asia/Shanghai); the history stores the same instant in UTC
    assert stamp.endswith("+08:00")
    for name in ("latest.md", "latest.html"):
        text = (folder / name).read_text(encoding="utf-8")
        assert stamp in text, name
    with sqlite3.connect(sample / "watchlists" / "history.sqlite") as con:
        (stored,) = con.execute("SELECT generated_at FROM runs").fetchone()
    assert stored.endswith("+00:00") and datetime.fromisoformat(stored) == datetime.fromisoformat(stamp)


# -- the order of writes when the history fails -----------------------------------------


def test_a_history_that_cannot_be_written_keeps_the_dated_exports_and_not_latest(buffered, cli):
    prices(buffered, {D1: {A: 10, B: 9, C: 8}, D2: {B: 10, C: 9, A: 8}})
    run(cli, buffered, D1, "--format", "csv,json")
    folder = buffered / "out" / "buffered"
    latest = {name: (folder / name).read_bytes() for name in ("latest.csv", "latest.json", ".latest.json")}
    with history(buffered) as con:  # the file reads, but refuses any new run
        con.execute("CREATE TRIGGER refuse BEFORE INSERT ON runs BEGIN SELECT RAISE(ABORT, 'disk is full'); END")
    r = cli(buffered, "run", "buffered", "--as-of", D2, "--format", "csv,json")
    assert r.exit_code == 1
    assert "error: the history of rules/buffered.toml could not be written" in r.stderr
    assert "disk is full" in r.stderr and "latest.* and the history are as they were" in r.stderr
    assert (folder / D2 / "buffered.csv").exists() and (folder / D2 / "buffered.json").exists()
    assert {name: (folder / name).read_bytes() for name in latest} == latest
    assert json.loads((folder / D2 / "buffered.json").read_text(encoding="utf-8"))["rows"][0]["symbol"] == B
    with history(buffered) as con:
        assert con.execute("SELECT COUNT(*) FROM runs").fetchone() == (1,)


# -- the scheduler and the CLI: one pipeline -------------------------------------------------


def test_the_scheduler_and_the_cli_record_the_same_history(buffered, cli):
    from screener.schedule.daemon import Daemon

    prices(buffered, {D1: {A: 10, B: 9, C: 8}, D2: {B: 10, A: 9, C: 8}})
    cfg = buffered / "config.toml"
    cfg.write_text(cfg.read_text(encoding="utf-8") + """
[[jobs]]
name = "buffered"
rules = ["rules/buffered.toml"]
cron = "30 16 * * *"
formats = ["csv", "json"]
""", encoding="utf-8")
    for day in (D1, D2):
        run(cli, buffered, day, "--format", "csv,json", "--out", str(buffered / "by-cli"))
    sh = ZoneInfo("Asia/Shanghai")
    slots = [datetime(2026, 7, 1, 16, 30, tzinfo=sh), datetime(2026, 7, 2, 16, 30, tzinfo=sh)]
    for slot in slots:
        d = Daemon(cfg, clock=lambda slot=slot: slot)
        assert d.run_job("buffered", slot).status == "ok"

    def recorded(out: str):
        with history(buffered, out) as con:
            con.row_factory = sqlite3.Row
            runs = [{k: r[k] for k in r.keys() if k != "generated_at"}
                    for r in con.execute("SELECT * FROM runs ORDER BY run_id")]
            rows = [tuple(r) for r in con.execute("SELECT * FROM watchlist ORDER BY run_id, symbol")]
            every = [members(buffered, r["run_id"], out).rows() for r in runs]
            return runs, rows, every

    by_cli, by_daemon = recorded("by-cli"), recorded("out")
    assert by_cli == by_daemon
    assert [r["previous_run_id"] for r in by_cli[0]] == [None, 1]
    # the scheduled run's generation time is its clock's, the same instant in its history (UTC) and
    # its JSON (the job's zone, here the configured Asia/Shanghai)
    with history(buffered, "out") as con:
        (stamp,) = con.execute("SELECT generated_at FROM runs WHERE run_id = 2").fetchone()
    exported = json.loads((buffered / "out" / "buffered" / D2 / "buffered.json").read_text(encoding="utf-8"))
    assert stamp == "2026-07-02T08:30:00+00:00" and exported["generated_at"] == "2026-07-02T16:30:00+08:00"


# -- older history files -------------------------------------------------------------------

OLD_SCHEMA = """
CREATE TABLE runs (
    run_id INTEGER PRIMARY KEY AUTOINCREMENT, rule_stem TEXT NOT NULL, rule_path TEXT NOT NULL,
    rule_name TEXT NOT NULL, rule_sha256 TEXT NOT NULL, rule_text TEXT NOT NULL, data_folder TEXT NOT NULL,
    data_fingerprint TEXT NOT NULL, data_notice TEXT, as_of TEXT NOT NULL, generated_at TEXT NOT NULL,
    inputs_key TEXT NOT NULL, identical_to INTEGER REFERENCES runs(run_id), members INTEGER NOT NULL,
    passed INTEGER NOT NULL, top INTEGER);
CREATE INDEX runs_by_rule ON runs(rule_stem, run_id);
CREATE TABLE rows (
    run_id INTEGER NOT NULL REFERENCES runs(run_id), symbol TEXT NOT NULL, name TEXT NOT NULL,
    included INTEGER NOT NULL, passed INTEGER NOT NULL, rank INTEGER, score REAL, failed TEXT NOT NULL,
    missing TEXT NOT NULL, components TEXT NOT NULL, PRIMARY KEY (run_id, symbol));
"""
OLD_RUNS = ("run_id, rule_stem, rule_path, rule_name, rule_sha256, rule_text, data_folder, data_fingerprint, "
            "data_notice, as_of, generated_at, inputs_key, identical_to, members, passed, top")
OLD_ROWS = "run_id, symbol, name, included, passed, rank, score, failed, missing, components"


def test_an_older_history_file_is_migrated_in_place_and_still_diffs(sample, cli):
    rule = "esg_compute_leaders"
    for day in ("2026-10-30", "2026-11-26"):
        assert cli(sample, "run", rule, "--as-of", day, "--json").exit_code == 0
    db = sample / "watchlists" / "history.sqlite"
    expected = json.loads(cli(sample, "history", rule, "--diff", "--json").stdout)
    # the same two runs in a file of the first layout (no new columns, no user_version)
    old = sample / "old.sqlite"
    with sqlite3.connect(old) as con:
        con.executescript(OLD_SCHEMA)
        con.execute("ATTACH DATABASE ? AS new", (str(db),))
        con.execute(f"INSERT INTO runs SELECT {OLD_RUNS} FROM new.runs")
        for (run_id,) in con.execute("SELECT run_id FROM runs").fetchall():
            m = members(sample, run_id, "watchlists")
            con.executemany("INSERT INTO rows VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", [
                (run_id, r["symbol"], r["name"], int(r["included"]), int(r["passed"]), r["rank"], r["score"],
                 json.dumps(r["failed"], ensure_ascii=False), json.dumps(r["missing"], ensure_ascii=False),
                 json.dumps({k[6:]: x for k, x in r.items() if k.startswith("score.")}))
                for r in m.iter_rows(named=True)])
        # the first layout's keys hashed neither the engine version nor P
        con.execute("UPDATE runs SET inputs_key = lower(hex(randomblob(16)))")
    shutil.rmtree(sample / "watchlists")
    (sample / "watchlists").mkdir()
    shutil.move(old, db)

    as_written = db.read_bytes()
    diff = json.loads(cli(sample, "history", rule, "--diff", "--json").stdout)
    assert [e["symbol"] for e in diff["left"]] == [e["symbol"] for e in expected["left"]]
    assert [e["symbol"] for e in diff["entered"]] == [e["symbol"] for e in expected["entered"]]
    assert diff["moved"] == expected["moved"]
    for e in diff["left"]:  # no stored reasons in the old runs: worded from the failed filters
        assert e["reason"].startswith("fails ")
    runs = json.loads(cli(sample, "history", rule, "--json").stdout)
    assert [(r["run_id"], r["engine_version"], r["previous_run_id"]) for r in runs] == [(1, None, None), (2, None, None)]
    assert db.read_bytes() == as_written  # readers read an older file as it is

    with sqlite3.connect(db) as con:
        old_members = con.execute("SELECT run_id, symbol, included, rank, score, failed FROM rows "
                                  "ORDER BY run_id, symbol").fetchall()
    r = cli(sample, "run", rule, "--as-of", "2026-11-26", "--json")  # migrates it
    third = json.loads(r.stdout)
    (backup,) = db.parent.glob("history.sqlite.v0-backup")
    assert f"the old file is kept as {backup}" in r.stderr and third["notices"][0].startswith("migrated the run history")
    with sqlite3.connect(backup) as con:  # the backup is the old file's content
        assert con.execute("SELECT run_id, symbol, included, rank, score, failed FROM rows ORDER BY run_id, symbol"
                           ).fetchall() == old_members
    with sqlite3.connect(db) as con:
        assert con.execute("PRAGMA user_version").fetchone() == (3,)
        assert not con.execute("SELECT 1 FROM sqlite_master WHERE name = 'rows'").fetchone()
        assert {r[1] for r in con.execute("PRAGMA table_info(runs)")} >= {"previous_run_id", "engine_version",
                                                                          "members_file"}
        old_runs = "run_id IN (1, 2)"
        assert con.execute(f"SELECT COUNT(*) FROM watchlist WHERE {old_runs} AND (reason IS NOT NULL OR pinned "
                           "IS NOT NULL)").fetchone() == (0,)
        assert con.execute(f"SELECT COUNT(*) FROM runs WHERE {old_runs} AND engine_version IS NOT NULL").fetchone() == (0,)
        assert con.execute("SELECT COUNT(*) FROM watchlist WHERE run_id IN (1, 2)").fetchone() == \
            (sum(1 for m in old_members if m[2]),)
    moved = [(run_id, r["symbol"], int(r["included"]), r["rank"], r["score"], json.dumps(r["failed"]))
             for run_id in (1, 2) for r in members(sample, run_id, "watchlists").iter_rows(named=True)]
    assert moved == old_members  # every member of every old run, in its member file
    assert third["run_id"] == 3 and third["identical_to"] is None  # an older engine's run is never identical
    assert third["changes"]["before"]["run_id"] == 2 and third["changes"]["entered"] == []
    runs = json.loads(cli(sample, "history", rule, "--json").stdout)
    assert [(r["run_id"], r["engine_version"]) for r in runs] == [(1, None), (2, None), (3, third["engine_version"])]
    diff = json.loads(cli(sample, "history", rule, "--diff", "1", "3", "--json").stdout)
    assert {e["symbol"] for e in diff["left"]} == {e["symbol"] for e in expected["left"]}


def test_date_lookups_walk_the_index(tmp_path):
    from screener.outputs.history import AT_OR_BEFORE_SQL, PREVIOUS_SQL, WATCHLIST_SQL, History

    h = History(tmp_path)
    assert h.previous("x", datetime(2026, 1, 1).date()) is None  # no file yet: nothing, and no file made
    assert not h.path.exists()
    with h._connect(create=True) as con:
        for sql, args, index in ((PREVIOUS_SQL, ("x", "2026-01-01"), "runs_by_rule_as_of"),
                                 (AT_OR_BEFORE_SQL, ("x", "2026-01-01", 5), "runs_by_rule_as_of"),
                                 (WATCHLIST_SQL, (1,), "sqlite_autoindex_watchlist_1")):
            plan = " | ".join(row[-1] for row in con.execute("EXPLAIN QUERY PLAN " + sql, args))
            assert index in plan and "TEMP B-TREE" not in plan and "SCAN" not in plan, plan


def test_an_unreadable_history_is_moved_aside_and_the_run_writes_only_its_dated_exports(buffered, cli):
    """DESIGN's order of writes: the dated exports stay, latest.* is not updated, nothing is
    recorded, exit 1; the broken file is kept under a printed name, never replaced silently."""
    prices(buffered, {D1: {A: 10, B: 9, C: 8}})
    out = buffered / "out"
    out.mkdir()
    junk = b"not a history, " * 500
    (out / "history.sqlite").write_bytes(junk)
    r = cli(buffered, "run", "buffered", "--as-of", D1)
    assert r.exit_code == 1 and "Traceback" not in r.output
    (aside,) = out.glob("history.sqlite.unreadable-*")
    assert "the run history is not readable" in r.stderr and f"moved it aside to {aside}" in r.stderr
    assert "was not recorded" in r.stderr and "latest.* was not updated" in r.stderr
    assert aside.read_bytes() == junk and not (out / "history.sqlite").exists()
    assert sorted(p.name for p in (out / "buffered" / D1).iterdir()) == ["buffered.csv", "buffered.json"]
    assert not list((out / "buffered").glob("latest.*"))
    assert run(cli, buffered, D1)["run_id"] == 1  # the next run starts a new history
    assert (out / "buffered" / "latest.csv").exists()
    # readers say what is wrong and move nothing
    (out / "history.sqlite").write_bytes(junk)
    for args in (["history", "buffered"], ["run", "buffered", "--as-of", D1, "--no-export"]):
        r = cli(buffered, *args)
        assert r.exit_code == 2 and "the run history is not readable" in r.stderr, args
    assert (out / "history.sqlite").read_bytes() == junk and len(list(out.glob("history.sqlite.unreadable-*"))) == 1


def test_a_new_history_file_appears_whole_and_an_empty_one_is_damage(tmp_path):
    """A first run makes history.sqlite with its tables in a temporary file and links it into
    place, so a reader never meets a file without tables, and a zero-length history.sqlite (a
    crash or a full disk cut it short) is damage: never silently recreated with its runs gone."""
    from datetime import date

    from screener.outputs.history import History, UnreadableHistory

    h = History(tmp_path)
    with h._connect(create=True) as con:
        assert {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")} >= {"runs",
                                                                                                      "watchlist"}
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []
    assert h.runs("rule") == []
    (tmp_path / "history.sqlite").unlink()
    for p in tmp_path.glob("history.sqlite-*"):
        p.unlink()
    (tmp_path / "history.sqlite").write_bytes(b"")
    with pytest.raises(UnreadableHistory, match="empty"):
        h.runs("rule")
    with pytest.raises(UnreadableHistory):
        h.previous("rule", date(2026, 11, 20))
    message = h.set_aside_if_unreadable()
    assert "moved it aside to" in message and not (tmp_path / "history.sqlite").exists()
    assert len(list(tmp_path.glob("history.sqlite.unreadable-*"))) == 1
