"""Times shown to people (DESIGN "Runs, history and exports: order and time"): the history stores
UTC; exports, `run --json`, `history`, logs and the status file show the job's zone for a
scheduled run, else `[schedule] timezone`, ISO 8601 with the offset."""

from __future__ import annotations

import json
import logging
import re
import sqlite3
import zipfile
from datetime import datetime, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

from screener.times import instant, shown

from .test_schedule import daemon, jobs_config

OFFSET = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?[+-]\d\d:\d\d")


def zone(project: Path, tz: str) -> None:
    cfg = project / "config.toml"
    text = cfg.read_text(encoding="utf-8")
    cfg.write_text(re.sub(r'(?m)^timezone = "[^"]*"', f'timezone = "{tz}"', text, count=1), encoding="utf-8")


def stored_times(project: Path, out: str = "watchlists") -> list[str]:
    with sqlite3.connect(project / out / "history.sqlite") as con:
        return [t for (t,) in con.execute("SELECT generated_at FROM runs ORDER BY run_id")]


def xlsx_text(path: Path) -> str:
    with zipfile.ZipFile(path) as z:
        return z.read("xl/sharedStrings.xml").decode("utf-8")


def test_shown_puts_a_stored_instant_in_the_zone():
    assert shown("2026-11-20T08:30:05+00:00", "Asia/Shanghai") == "2026-11-20T16:30:05+08:00"
    assert shown(datetime(2026, 11, 20, 8, 30, 5, tzinfo=timezone.utc), "America/New_York") == "2026-11-20T03:30:05-05:00"
    assert shown("2026-07-20T08:30:05", "America/New_York") == "2026-07-20T04:30:05-04:00"  # old rows: no zone = UTC
    assert shown("2026-07-20T08:30:05Z", "Europe/London") == "2026-07-20T09:30:05+01:00"
    assert shown(None, "UTC") is None and shown("not a time", "UTC") == "not a time"
    assert instant("2026-11-20T16:30:05+08:00") == datetime(2026, 11, 20, 8, 30, 5, tzinfo=timezone.utc)


def test_a_run_shows_the_configured_zone_everywhere_and_stores_utc(sample, cli, monkeypatch):
    monkeypatch.delenv("COLUMNS", raising=False)  # a pipe: every column in full
    zone(sample, "America/New_York")
    formats = "csv,xlsx,html,json,parquet,md"
    r = cli(sample, "run", "esg_compute_leaders", "--as-of", "2026-11-26", "--json", "--format", formats)
    assert r.exit_code == 0, r.output
    stamp = json.loads(r.stdout)["generated_at"]
    assert stamp.endswith(("-05:00", "-04:00")), stamp
    (stored,) = stored_times(sample)
    assert stored.endswith("+00:00") and datetime.fromisoformat(stored) == datetime.fromisoformat(stamp)

    folder = sample / "watchlists" / "esg_compute_leaders"
    for name in ("latest.json", "2026-11-26/esg_compute_leaders.json"):
        assert json.loads((folder / name).read_text(encoding="utf-8"))["generated_at"] == stamp
    for name in ("latest.md", "latest.html"):
        text = (folder / name).read_text(encoding="utf-8")
        assert stamp in text and stored not in text, name
    assert stamp in xlsx_text(folder / "latest.xlsx")
    assert f"generated {stamp}" in (sample / "watchlists" / "index.html").read_text(encoding="utf-8")

    # a second run: its changes name the first run in the zone too
    r = cli(sample, "run", "esg_compute_leaders", "--as-of", "2026-11-27", "--json", "--format", "json,html")
    assert r.exit_code == 0, r.output
    before = json.loads(r.stdout)["changes"]["before"]
    assert before["generated_at"] == stamp
    assert stamp in (folder / "latest.html").read_text(encoding="utf-8")

    runs = json.loads(cli(sample, "history", "esg_compute_leaders", "--json").stdout)
    assert [x["generated_at"] for x in runs] == [shown(t, "America/New_York") for t in stored_times(sample)]
    assert runs[0]["generated_at"] == stamp
    table = cli(sample, "history", "esg_compute_leaders").stdout
    assert stamp in table and stored not in table
    diff = json.loads(cli(sample, "history", "esg_compute_leaders", "--diff", "--json").stdout)
    assert diff["before"]["generated_at"] == stamp and diff["after"]["generated_at"].endswith(("-05:00", "-04:00"))


def test_an_old_history_with_utc_text_still_lists_and_diffs(sample, cli, monkeypatch):
    monkeypatch.delenv("COLUMNS", raising=False)
    for day in ("2026-11-26", "2026-11-27"):
        assert cli(sample, "run", "esg_compute_leaders", "--as-of", day, "--format", "json").exit_code == 0
    with sqlite3.connect(sample / "watchlists" / "history.sqlite") as con:  # as older versions wrote them
        con.execute("UPDATE runs SET generated_at = '2026-11-26T08:30:05' WHERE run_id = 1")
        con.execute("UPDATE runs SET generated_at = '2026-11-27T08:30:05Z' WHERE run_id = 2")
    r = cli(sample, "history", "esg_compute_leaders", "--json")
    assert r.exit_code == 0, r.output
    assert [x["generated_at"] for x in json.loads(r.stdout)] == ["2026-11-26T16:30:05+08:00", "2026-11-27T16:30:05+08:00"]
    r = cli(sample, "history", "esg_compute_leaders")
    assert r.exit_code == 0 and "2026-11-26T16:30:05+08:00" in r.stdout
    r = cli(sample, "history", "esg_compute_leaders", "--diff", "1", "2", "--json")
    assert r.exit_code == 0, r.output
    d = json.loads(r.stdout)
    assert (d["before"]["generated_at"], d["after"]["generated_at"]) == ("2026-11-26T16:30:05+08:00",
                                                                         "2026-11-27T16:30:05+08:00")
    assert cli(sample, "history", "esg_compute_leaders", "--diff").exit_code == 0


LONDON_JOB = """
[[jobs]]
name = "london"
rules = ["rules/esg_compute_leaders.toml"]
cron = "30 16 * * mon-fri"
formats = ["json", "md", "html", "xlsx"]
timezone = "Europe/London"
"""


def test_a_scheduled_run_shows_its_jobs_zone_not_the_configs(sample, tmp_path):
    from screener.schedule.daemon import StatusFile, setup_logging

    jobs_config(sample, LONDON_JOB)  # the config keeps Asia/Shanghai
    slot = datetime(2026, 11, 26, 16, 30, tzinfo=ZoneInfo("Europe/London"))
    logs = {}
    for fmt in ("text", "json"):
        d = daemon(sample, now=slot.astimezone(timezone.utc))
        logs[fmt] = tmp_path / f"daemon.{fmt}.log"
        setup_logging(str(logs[fmt]), fmt, d.zone_of)
        try:
            assert d.run_job("london", slot).status == "ok"
            logging.getLogger("screener").info("daemon line")  # no job: the config's zone
        finally:
            logging.getLogger("screener").handlers.clear()
            logging.getLogger("apscheduler").handlers.clear()

    folder = sample / "watchlists" / "esg_compute_leaders"
    exported = json.loads((folder / "latest.json").read_text(encoding="utf-8"))["generated_at"]
    assert exported == "2026-11-26T16:30:00+00:00"
    assert exported in (folder / "latest.md").read_text(encoding="utf-8")
    assert exported in (folder / "latest.html").read_text(encoding="utf-8")
    assert exported in xlsx_text(folder / "latest.xlsx")
    assert stored_times(sample)[-1] == "2026-11-26T16:30:00+00:00"

    text = logs["text"].read_text(encoding="utf-8").splitlines()
    job_lines = [line for line in text if "job london" in line]
    assert job_lines and all(OFFSET.match(line) and line.split(" ")[0].endswith(("+00:00", "+01:00"))
                             for line in job_lines), job_lines
    (own,) = [line for line in text if line.endswith("daemon line")]
    assert own.split(" ")[0].endswith("+08:00")
    entries = [json.loads(line) for line in logs["json"].read_text(encoding="utf-8").splitlines()]
    assert all(e["time"].endswith(("+00:00", "+01:00")) for e in entries if e.get("job") == "london")
    assert [e["time"][-6:] for e in entries if e["message"] == "daemon line"] == ["+08:00"]

    status = StatusFile(sample / "watchlists").read()
    job = status["jobs"]["london"]
    assert job["last_slot"] == "2026-11-26T16:30:00+00:00"
    for key in ("last_finished", "last_success", "next_run"):
        assert job[key].endswith(("+00:00", "+01:00")), (key, job[key])


def test_the_daemons_own_status_times_carry_the_configs_offset(sample):
    jobs_config(sample, LONDON_JOB)
    d = daemon(sample, now=datetime(2026, 11, 26, 8, 30, tzinfo=timezone.utc))
    d.status.update(None, started_at=d._now_shown())
    assert d.status.read()["daemon"]["started_at"] == "2026-11-26T16:30:00+08:00"
    assert d.zone_of("london") == "Europe/London" and d.zone_of(None) == "Asia/Shanghai"


def test_schedule_status_shows_an_old_files_utc_daemon_times_in_the_configs_zone(sample, cli):
    status = sample / "watchlists" / "schedule-status.json"
    status.parent.mkdir(parents=True, exist_ok=True)
    status.write_text(json.dumps({"daemon": {"pid": 1, "started_at": "2026-11-26T08:30:00.123456+00:00",
                                             "heartbeat": "2026-11-26T08:31:00+00:00"},
                                  "jobs": {"leaders": {"last_slot": "2026-11-26T16:30:00+08:00",
                                                       "last_outcome": "ok"}}}), encoding="utf-8")
    data = json.loads(cli(sample, "schedule", "--status", "--json").stdout)
    assert data["daemon"]["started_at"] == "2026-11-26T16:30:00+08:00"
    assert data["daemon"]["heartbeat"] == "2026-11-26T16:31:00+08:00"
    assert data["jobs"]["leaders"]["last_slot"] == "2026-11-26T16:30:00+08:00"
    text = cli(sample, "schedule", "--status").stdout
    assert "started 2026-11-26T16:30:00+08:00" in text and "heartbeat 2026-11-26T16:31:00+08:00" in text
