"""The scheduler daemon: listing, runs with live rule edits, failure isolation, catch-up, locks,
reloads, logs, and one real daemon process stopped with SIGTERM."""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import signal
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from .conftest import write

SH = ZoneInfo("Asia/Shanghai")


def jobs_config(project: Path, jobs: str, extra: str = "") -> Path:
    cfg = project / "config.toml"
    text = cfg.read_text(encoding="utf-8").split("[[jobs]]")[0]
    cfg.write_text(text + extra + jobs, encoding="utf-8")
    return cfg


HEALTHY = """
[[jobs]]
name = "leaders"
rules = ["rules/esg_compute_leaders.toml"]
cron = "30 16 * * mon-fri"
calendar = "XSHG"
formats = ["csv", "json"]
"""


def daemon(project: Path, now: datetime | None = None):
    from screener.schedule.daemon import Daemon

    clock = (lambda: now) if now else None
    return Daemon(project / "config.toml", clock=clock)


def test_list_skips_the_national_day_holiday(sample, cli):
    jobs_config(sample, HEALTHY)
    r = cli(sample, "schedule", "--list", "--from", "2026-09-30T17:00", "--count", "3", "--json")
    assert r.exit_code == 0, r.output
    (job,) = json.loads(r.stdout)
    assert job["job"] == "leaders"
    assert job["next_runs"] == ["2026-10-08T16:30:00+08:00", "2026-10-09T16:30:00+08:00", "2026-10-12T16:30:00+08:00"]
    text = cli(sample, "schedule", "--list", "--from", "2026-09-30T17:00+08:00", "--count", "1").stdout
    assert "2026-10-08T16:30:00+08:00" in text and "XSHG" in text


def test_list_marks_runs_past_the_calendar_end_provisional(sample, cli):
    jobs_config(sample, HEALTHY)
    r = cli(sample, "schedule", "--list", "--from", "2026-12-30T17:00", "--count", "3", "--json")
    (job,) = json.loads(r.stdout)
    assert job["next_runs"][0] == "2026-12-31T16:30:00+08:00"
    later = [t for t in job["next_runs"] if t.startswith("2027")]
    assert later and job["provisional"] == later
    assert "provisional" in cli(sample, "schedule", "--list", "--from", "2026-12-30T17:00", "--count", "3").stdout


def test_bad_job_config_is_a_clean_error(sample, cli):
    jobs_config(sample, HEALTHY.replace('cron = "30 16 * * mon-fri"', 'cron = "30 16 * *"')
                .replace('calendar = "XSHG"', 'calendar = "SSE"'))
    r = cli(sample, "schedule", "--list")
    assert r.exit_code == 2 and "Traceback" not in r.output
    assert "calendar" in r.output and "cron" in r.output


def test_run_now_writes_the_watchlist_and_status(sample, cli):
    jobs_config(sample, HEALTHY)
    r = cli(sample, "schedule", "--run-now", "leaders")
    assert r.exit_code == 0, r.output
    assert (sample / "watchlists" / "esg_compute_leaders" / "latest.csv").exists()
    status = json.loads(cli(sample, "schedule", "--status", "--json").stdout)
    assert status["jobs"]["leaders"]["last_outcome"] == "ok" and status["jobs"]["leaders"]["last_rows"] > 0
    assert "leaders" in cli(sample, "schedule", "--status").stdout
    r = cli(sample, "schedule", "--run-now", "leader")
    assert r.exit_code == 2 and "did you mean `leaders`?" in r.output


def test_rules_are_read_afresh_and_a_broken_edit_keeps_the_last_watchlist(sample, caplog):
    jobs_config(sample, HEALTHY)
    d = daemon(sample)
    latest = sample / "watchlists" / "esg_compute_leaders" / "latest.csv"
    rule = sample / "rules" / "esg_compute_leaders.toml"
    slot = datetime(2026, 11, 26, 16, 30, tzinfo=SH)
    assert d.run_job("leaders", slot).status == "ok"
    before = latest.read_bytes()
    # an edit takes effect at the next run
    rule.write_text(rule.read_text(encoding="utf-8").replace("esg_rating >= 'AA-'", "esg_rating >= 'AA+'"), encoding="utf-8")
    assert d.run_job("leaders", slot + timedelta(days=1)).status == "ok"
    edited = latest.read_bytes()
    assert edited != before and edited.count(b"\n") < before.count(b"\n")
    # a broken edit is logged with file:line:col and the previous watchlist stays
    rule.write_text(rule.read_text(encoding="utf-8").replace("esg_rating >= 'AA+'", "esg_ratin >= 'AA+'"), encoding="utf-8")
    with caplog.at_level(logging.ERROR, logger="screener.schedule"):
        outcome = d.run_job("leaders", slot + timedelta(days=4))
    assert outcome.status == "failed" and "unknown field `esg_ratin`" in outcome.error
    assert any("esg_compute_leaders.toml:" in r.getMessage() and "did you mean `esg_rating`?" in r.getMessage()
               for r in caplog.records)
    assert latest.read_bytes() == edited
    state = d.status.read()["jobs"]["leaders"]
    assert state["last_outcome"] == "failed" and "esg_ratin" in state["last_error"]
    assert state["last_success"] == (slot + timedelta(days=1)).isoformat()


def test_a_failing_job_never_stops_the_others(sample, monkeypatch):
    jobs_config(sample, HEALTHY + """
[[jobs]]
name = "broken"
rules = ["rules/missing.toml"]
cron = "30 16 * * mon-fri"
formats = ["csv"]
""")
    d = daemon(sample)
    slot = datetime(2026, 11, 26, 16, 30, tzinfo=SH)
    assert d.run_job("broken", slot).status == "failed"
    assert d.run_job("leaders", slot).status == "ok"
    # an unexpected exception inside a job is contained and logged with its context
    from screener.engine import screen

    def boom(*args, **kwargs):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(screen, "run_screen", boom)
    outcome = d.run_job("leaders", slot)
    assert outcome.status == "failed" and "RuntimeError: disk on fire" in outcome.error
    assert d.status.read()["jobs"]["leaders"]["last_error"] == "RuntimeError: disk on fire"


def test_scheduler_wiring_matches_the_listing(sample):
    jobs_config(sample, HEALTHY)
    d = daemon(sample)
    sched = d.build_scheduler(paused=True)
    try:
        (job,) = sched.get_jobs()
        assert job.id == "leaders"
        from screener.schedule.daemon import upcoming

        expected = upcoming(d.config, datetime.now(timezone.utc), 1)[0]["next_runs"][0]
        assert job.next_run_time.isoformat() == expected
        assert job.coalesce is True and job.max_instances == 1
    finally:
        sched.shutdown(wait=False)


def test_catch_up_runs_a_missed_slot_once(sample):
    cfg = jobs_config(sample, HEALTHY)
    cfg.write_text(cfg.read_text(encoding="utf-8").replace("grace_time = 3600", "grace_time = 604800"), encoding="utf-8")
    now = datetime(2026, 11, 27, 9, 0, tzinfo=SH)  # Friday morning; Thursday 16:30 was missed
    d = daemon(sample, now)
    assert d.missed() == [("leaders", datetime(2026, 11, 26, 16, 30, tzinfo=SH))]  # several missed slots coalesce
    d.run_job("leaders", datetime(2026, 11, 26, 16, 30, tzinfo=SH))
    assert d.missed() == []
    # beyond the grace time a missed run is not caught up
    later = daemon(sample, now + timedelta(days=30))
    later.config = dataclasses.replace(later.config, grace_time=60.0)
    assert later.missed() == []


def test_a_job_never_runs_twice_at_once(sample):
    from filelock import FileLock

    jobs_config(sample, HEALTHY)
    d = daemon(sample)
    lock_dir = sample / "watchlists" / ".jobs"
    lock_dir.mkdir(parents=True)
    with FileLock(str(lock_dir / "leaders.lock"), fallback_to_soft=False):
        assert d.run_job("leaders").status == "skipped"
    assert d.run_job("leaders").status == "ok"


def test_reload_keeps_running_jobs_when_the_new_config_is_invalid(sample):
    cfg = jobs_config(sample, HEALTHY)
    d = daemon(sample)
    good = cfg.read_text(encoding="utf-8")
    cfg.write_text(good.replace('cron = "30 16 * * mon-fri"', 'cron = "99 16 * * mon-fri"'), encoding="utf-8")
    assert d.reload() is False and d.jobs["leaders"].cron == "30 16 * * mon-fri"
    cfg.write_text(good + HEALTHY.replace('name = "leaders"', 'name = "second"'), encoding="utf-8")
    assert d.reload() is True and set(d.jobs) == {"leaders", "second"}


def test_json_log_lines(sample, tmp_path):
    from screener.schedule.daemon import setup_logging

    jobs_config(sample, HEALTHY)
    log_file = tmp_path / "daemon.log"
    setup_logging(str(log_file), "json")
    try:
        daemon(sample).run_job("leaders", datetime(2026, 11, 26, 16, 30, tzinfo=SH))
    finally:
        logging.getLogger("screener").handlers.clear()
    entries = [json.loads(line) for line in log_file.read_text(encoding="utf-8").splitlines()]
    done = [e for e in entries if e.get("outcome") == "ok" and "rule" not in e]
    assert done and done[-1]["job"] == "leaders" and done[-1]["rows"] > 0 and "duration" in done[-1]
    assert any(e.get("rule", "").endswith("esg_compute_leaders.toml") for e in entries)


def test_the_real_daemon_runs_a_due_job_and_stops_cleanly_on_sigterm(sample, tmp_path):
    jobs_config(sample, """
[[jobs]]
name = "every-minute"
rules = ["rules/quantum_pure_plays.toml"]
cron = "* * * * *"
formats = ["csv", "html"]
""")
    log_file = tmp_path / "daemon.log"
    env = dict(os.environ, PYTHONIOENCODING="utf-8")
    p = subprocess.Popen([sys.executable, "-m", "screener", "schedule", "--log-file", str(log_file), "--log-format", "json"],
                         cwd=sample, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    target = sample / "watchlists" / "quantum_pure_plays" / "latest.html"
    try:
        deadline = time.monotonic() + 90
        while not target.exists() and time.monotonic() < deadline and p.poll() is None:
            time.sleep(0.2)
        assert target.exists(), f"no export within 90 s; log: {log_file.read_text(encoding='utf-8') if log_file.exists() else ''}"
        status_file = sample / "watchlists" / "schedule-status.json"

        def outcome():  # the export lands before the run's status is recorded
            if not status_file.exists():
                return None
            return json.loads(status_file.read_text(encoding="utf-8")).get("jobs", {}).get("every-minute", {}).get("last_outcome")

        while outcome() != "ok" and time.monotonic() < deadline:
            time.sleep(0.2)
    finally:
        p.send_signal(signal.SIGTERM)
        out, err = p.communicate(timeout=60)
    assert p.returncode == 0, err.decode()
    assert b"Traceback" not in err
    status = json.loads((sample / "watchlists" / "schedule-status.json").read_text(encoding="utf-8"))
    assert status["daemon"]["stopped_at"] and status["jobs"]["every-minute"]["last_outcome"] == "ok"
    assert not list((sample / "watchlists").rglob(".*.tmp"))
    messages = [json.loads(line)["message"] for line in log_file.read_text(encoding="utf-8").splitlines()]
    assert any("catch-up" in m for m in messages) and messages[-1] == "daemon stopped"


def test_a_job_can_refresh_before_it_screens_and_survives_a_provider_outage(sample, monkeypatch, caplog):
    from screener import api

    jobs_config(sample, HEALTHY.replace('formats = ["csv", "json"]', 'formats = ["csv"]\nrefresh = true'))
    calls = []

    def failing_refresh(config, into, day, provider, universes):
        calls.append((day, tuple(universes)))
        raise RuntimeError("no network")

    monkeypatch.setattr(api, "refresh_data", failing_refresh)
    with caplog.at_level(logging.ERROR, logger="screener.schedule"):
        outcome = daemon(sample).run_job("leaders", datetime(2026, 11, 26, 16, 30, tzinfo=SH))
    assert calls == [(datetime(2026, 11, 26).date(), ("esg_compute",))]
    assert outcome.status == "ok"  # the screen ran on the snapshot it had
    assert any("data refresh failed" in r.getMessage() for r in caplog.records)


def test_a_broken_rule_is_logged_in_full_once_per_error_then_as_a_reminder(sample, caplog):
    jobs_config(sample, HEALTHY)
    d = daemon(sample)
    rule = sample / "rules" / "esg_compute_leaders.toml"
    good = rule.read_text(encoding="utf-8")
    rule.write_text(good.replace("esg_rating >= 'AA-'", "esg_ratin >= 'AA-'"), encoding="utf-8")
    slot = datetime(2026, 11, 26, 16, 30, tzinfo=SH)

    def full_logs():
        return [m for m in (r.getMessage() for r in caplog.records)
                if "unknown field `esg_ratin`" in m and "did you mean `esg_rating`?" in m]

    with caplog.at_level(logging.ERROR, logger="screener.schedule"):
        for minute in range(3):
            assert d.run_job("leaders", slot + timedelta(minutes=minute)).status == "failed"
        assert len(full_logs()) == 1
        reminders = [r.getMessage() for r in caplog.records if "same error as before" in r.getMessage()]
        assert len(reminders) == 2 and all("\n" not in m and "esg_compute_leaders.toml" in m for m in reminders)
        # a different error is logged in full again; so is the same one after a fix
        rule.write_text(good.replace("esg_rating >= 'AA-'", "esg_rank >= 'AA-'"), encoding="utf-8")
        d.run_job("leaders", slot + timedelta(minutes=3))
        assert any("unknown field `esg_rank`" in r.getMessage() and "\n" in r.getMessage() for r in caplog.records)
        rule.write_text(good, encoding="utf-8")
        assert d.run_job("leaders", slot + timedelta(minutes=4)).status == "ok"
        rule.write_text(good.replace("esg_rating >= 'AA-'", "esg_ratin >= 'AA-'"), encoding="utf-8")
        d.run_job("leaders", slot + timedelta(minutes=5))
        assert len(full_logs()) == 2


def test_stale_data_warnings_are_logged_and_kept_in_the_status(sample, caplog, cli):
    jobs_config(sample, HEALTHY)
    d = daemon(sample)
    with caplog.at_level(logging.WARNING, logger="screener.schedule"):
        outcome = d.run_job("leaders", datetime(2026, 12, 21, 16, 30, tzinfo=SH))  # prices end 2026-11-20
    assert outcome.status == "ok"
    assert any("data warning: the newest price data is from 2026-11-20" in r.getMessage() for r in caplog.records)
    state = d.status.read()["jobs"]["leaders"]
    assert state["last_warnings"] and "esg_compute_leaders.toml: the newest price data" in state["last_warnings"][0]
    status = json.loads(cli(sample, "schedule", "--status", "--json").stdout)
    assert status["jobs"]["leaders"]["last_warnings"] == state["last_warnings"]
    text = cli(sample, "schedule", "--status").stdout
    assert f"leaders: warning: {state['last_warnings'][0]}" in " ".join(text.split())
    # a fresh run clears them
    d.run_job("leaders", datetime(2026, 11, 26, 16, 30, tzinfo=SH))
    assert d.status.read()["jobs"]["leaders"]["last_warnings"] == []
