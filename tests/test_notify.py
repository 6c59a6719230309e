"""Notifications from scheduled runs, delivered through Apprise to a real HTTP server on
127.0.0.1 (`json://` posts), with the real daemon's job run and a fixed clock."""

from __future__ import annotations

import json
import logging
import socket
import subprocess
import sys
import threading
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from zoneinfo import ZoneInfo

import pytest

from .test_schedule import jobs_config

SH = ZoneInfo("Asia/Shanghai")
SLOT = datetime(2026, 11, 26, 16, 30, tzinfo=SH)
TOKEN = "s3cr3t-T0KEN-4242"


@pytest.fixture
def receiver():
    """A real HTTP server on 127.0.0.1 that keeps every JSON body posted to it."""
    posts: list[dict] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 - http.server's name
            length = int(self.headers.get("Content-Length", 0))
            posts.append({"path": self.path, **json.loads(self.rfile.read(length) or b"{}")})
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    server.posts = posts
    server.url = f"json://127.0.0.1:{server.server_address[1]}"
    yield server
    server.shutdown()
    server.server_close()


def closed_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def job(notify: list[str], notify_on: str | None = None, formats: str = '["csv", "html"]') -> str:
    on = f'notify_on = "{notify_on}"\n' if notify_on else ""
    return f"""
[[jobs]]
name = "leaders"
rules = ["rules/esg_compute_leaders.toml"]
cron = "30 16 * * mon-fri"
calendar = "XSHG"
formats = {formats}
notify = {json.dumps(notify)}
{on}"""


def daemon(project, now=SLOT):
    from screener.schedule.daemon import Daemon

    return Daemon(project / "config.toml", clock=lambda: now)


def tighten(project):
    """Edit the rule so some members leave (AA- -> AA+)."""
    rule = project / "rules" / "esg_compute_leaders.toml"
    rule.write_text(rule.read_text(encoding="utf-8").replace("esg_rating >= 'AA-'", "esg_rating >= 'AA+'"), encoding="utf-8")


def loosen(project):
    rule = project / "rules" / "esg_compute_leaders.toml"
    rule.write_text(rule.read_text(encoding="utf-8").replace("esg_rating >= 'AA+'", "esg_rating >= 'AA-'"), encoding="utf-8")


def test_a_change_notifies_with_leavers_entrants_reasons_and_the_link(sample, receiver):
    cfg = jobs_config(sample, job([receiver.url + "/hook"]))
    cfg.write_text(cfg.read_text(encoding="utf-8").replace(
        "[export]\n", '[export]\nbase_url = "https://reports.example.internal/watchlists/"\n'), encoding="utf-8")
    d = daemon(sample)
    assert d.run_job("leaders", SLOT).status == "ok"
    assert receiver.posts == []  # a first run has nothing to compare with: not a change
    tighten(sample)
    day2 = SLOT + timedelta(days=1)
    assert d.run_job("leaders", day2).status == "ok"
    (post,) = receiver.posts
    assert post["path"].startswith("/hook")
    assert "ESG compute leaders" in post["title"] and "2026-11-27" in post["title"] and "left" in post["title"]
    body = post["message"]
    left = [line for line in body.splitlines() if line.startswith("- ")]
    assert left and all(":" in line for line in left)  # each leaver with its reason
    assert ("report: https://reports.example.internal/watchlists/esg_compute_leaders/2026-11-27/"
            "esg_compute_leaders.html") in body
    loosen(sample)
    assert d.run_job("leaders", SLOT + timedelta(days=4)).status == "ok"
    entered = [line for line in receiver.posts[-1]["message"].splitlines() if line.startswith("+ ")]
    assert len(entered) == len(left)
    assert {line.split(":")[0][2:] for line in entered} == {line.split(":")[0][2:] for line in left}
    status = d.status.read()["jobs"]["leaders"]
    (sent,) = status["last_notifications"]
    assert sent["target"] == receiver.url + "/***" and sent["ok"] is True and sent["error"] is None
    assert sent["rule"].endswith("esg_compute_leaders.toml")
    # 2026-11-30 is 10 days after the sample's prices: the stale-data warning is in the message and the status
    assert "! the newest price data is from 2026-11-20" in receiver.posts[-1]["message"]
    assert any("the newest price data" in w for w in status["last_warnings"])


def test_without_base_url_the_link_is_the_local_path(sample, receiver):
    jobs_config(sample, job([receiver.url], "always"))
    assert daemon(sample).run_job("leaders", SLOT).status == "ok"
    (post,) = receiver.posts
    link = post["message"].splitlines()[-1]
    assert link.startswith("report: ") and link.endswith("esg_compute_leaders.html")
    assert (sample / "watchlists" / "esg_compute_leaders" / "2026-11-26" / "esg_compute_leaders.html").samefile(link[8:])
    assert "no earlier run to compare with" in post["title"]


def test_no_change_sends_nothing_always_sends_never_sends_none(sample, receiver):
    jobs_config(sample, job([receiver.url]))
    d = daemon(sample)
    d.run_job("leaders", SLOT)
    d.run_job("leaders", SLOT + timedelta(days=1))
    assert receiver.posts == []  # notify_on = "change" (the default) and nothing entered or left
    jobs_config(sample, job([receiver.url], "always"))
    d = daemon(sample)
    d.run_job("leaders", SLOT + timedelta(days=4))
    assert len(receiver.posts) == 1 and "0 entered, 0 left" in receiver.posts[0]["title"]
    jobs_config(sample, job([receiver.url], "never"))
    d = daemon(sample)
    tighten(sample)
    d.run_job("leaders", SLOT + timedelta(days=5))
    assert len(receiver.posts) == 1


def test_a_failed_job_notifies_its_error_unless_never(sample, receiver, monkeypatch):
    jobs_config(sample, job([receiver.url]))
    rule = sample / "rules" / "esg_compute_leaders.toml"
    rule.write_text(rule.read_text(encoding="utf-8").replace("esg_rating >= 'AA-'", "esg_ratin >= 'AA-'"), encoding="utf-8")
    assert daemon(sample).run_job("leaders", SLOT).status == "failed"
    (post,) = receiver.posts
    assert "FAILED" in post["title"] and "unknown field `esg_ratin`" in post["message"]
    # an unexpected exception in the job notifies too
    loosen(sample)
    rule.write_text(rule.read_text(encoding="utf-8").replace("esg_ratin", "esg_rating"), encoding="utf-8")
    from screener.engine import screen

    monkeypatch.setattr(screen, "run_screen", lambda *a, **k: (_ for _ in ()).throw(RuntimeError("disk on fire")))
    assert daemon(sample).run_job("leaders", SLOT).status == "failed"
    assert "RuntimeError: disk on fire" in receiver.posts[-1]["message"]
    jobs_config(sample, job([receiver.url], "never"))
    assert daemon(sample).run_job("leaders", SLOT).status == "failed"
    assert len(receiver.posts) == 2


def test_a_target_that_is_down_is_logged_and_the_job_succeeds(sample, receiver, caplog):
    down = f"json://127.0.0.1:{closed_port()}/hook"
    jobs_config(sample, job([down, receiver.url], "always"))
    with caplog.at_level(logging.INFO):
        outcome = daemon(sample).run_job("leaders", SLOT)
    assert outcome.status == "ok"
    assert len(receiver.posts) == 1  # the other target still got its message
    failed = [r.getMessage() for r in caplog.records if "notification to" in r.getMessage()]
    assert failed and "json://127.0.0.1:" in failed[0] and "/hook" not in failed[0] and "failed" in failed[0]
    assert [n["ok"] for n in outcome.notifications] == [False, True]


def test_env_substitution_and_redaction(sample, receiver, monkeypatch, caplog, capsys):
    jobs_config(sample, job([receiver.url + "/${HOOK_TOKEN}", "json://127.0.0.1:1/${MISSING_TOKEN}"], "always"))
    monkeypatch.setenv("HOOK_TOKEN", TOKEN)
    monkeypatch.delenv("MISSING_TOKEN", raising=False)
    with caplog.at_level(logging.INFO):  # the daemon's level (urllib3's DEBUG lines quote request paths)
        d = daemon(sample)
        outcome = d.run_job("leaders", SLOT)
    assert outcome.status == "ok"  # a missing variable is logged; the job still runs
    (post,) = receiver.posts
    assert post["path"].startswith(f"/{TOKEN}")
    assert any("MISSING_TOKEN is not set" in r.getMessage() for r in caplog.records)
    everything = caplog.text + capsys.readouterr().err + d.status.path.read_text(encoding="utf-8")
    everything += json.dumps([n for n in outcome.notifications])
    assert TOKEN not in everything and "${HOOK_TOKEN}" not in everything
    assert "json://127.0.0.1:" in everything and "/***" in everything


def test_redact_keeps_scheme_and_host_only():
    from screener.notify import redact

    assert redact("dingtalk://abcdef0123/") == "dingtalk://***"
    assert redact("wecombot://${WECOM_KEY}") == "wecombot://***"
    assert redact("mailto://user:pa55@smtp.example.com?to=a@b.c") == "mailto://smtp.example.com/***"
    assert redact("json://hooks.example.internal:8787/screener") == "json://hooks.example.internal:8787/***"
    assert redact("not a url") == "***"


def test_an_invalid_notify_url_is_a_config_error_with_file_and_line(sample, cli, monkeypatch):
    monkeypatch.delenv("DINGTALK_TOKEN", raising=False)
    cfg = jobs_config(sample, job(["dingtalk://${DINGTALK_TOKEN}/", "foo://bar"], "sometimes"))
    line = next(i + 1 for i, t in enumerate(cfg.read_text(encoding="utf-8").splitlines()) if t.startswith("notify ="))
    for args in (("schedule", "--list"), ("data", "check")):
        r = cli(sample, *args)
        assert r.exit_code == 2 and "Traceback" not in r.output, r.output
        assert f"config.toml:{line}" in r.output and "foo://*** is not a valid Apprise URL" in r.output
        assert "dingtalk://***" not in r.output  # an unset ${NAME} is checked with a placeholder: valid
        assert "notify_on must be one of" in r.output


def test_the_message_is_capped(sample):
    from screener.notify import compose
    from screener.outputs.history import Changes

    entered = [{"symbol": f"{600000 + i}.SH", "name": f"Company {i}", "reason": "ranks 3 (top 10)"} for i in range(200)]
    m = compose("Big rule", "2026-11-26", changes=Changes(entered=entered), warnings=["prices are old"],
                link="https://x.example/r.html", limit=600)
    assert len(m.body) <= 600
    lines = m.body.splitlines()
    assert lines[0].startswith("rule Big rule as of 2026-11-26: 200 entered, 0 left")
    shown = sum(1 for line in lines if line.startswith("+ "))
    assert 0 < shown < 200 and f"... and {200 + 1 - shown} more" in lines[-2]
    assert lines[-1] == "report: https://x.example/r.html"


def test_the_cli_does_not_import_apprise():
    code = ("import sys\nfrom click.testing import CliRunner\nfrom screener.cli import main\n"
            "CliRunner().invoke(main, ['--help'])\nprint('apprise' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"
    r = subprocess.run([sys.executable, "-X", "importtime", "-m", "screener", "--help"], capture_output=True, text=True)
    assert r.returncode == 0 and "apprise" not in r.stderr


def test_the_cli_check_does_not_import_apprise(sample):
    jobs_config(sample, job(["json://127.0.0.1:1/hook"]))
    code = ("import sys\nfrom click.testing import CliRunner\nfrom screener.cli import main\n"
            "r = CliRunner().invoke(main, ['check'])\nprint(r.exit_code, 'apprise' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=sample, check=True).stdout
    assert out.split()[-1] == "False" and out.split()[0] == "0"


def test_base_url_must_be_an_http_url(sample):
    from screener.config import load_config
    from screener.problems import InputError

    cfg = sample / "config.toml"
    text = cfg.read_text(encoding="utf-8")
    cfg.write_text(text.replace("[export]\n", '[export]\nbase_url = "reports/watchlists"\n'), encoding="utf-8")
    with pytest.raises(InputError) as e:
        load_config(cfg)
    (p,) = e.value.problems
    assert "export.base_url must be an http(s) URL" in p.message and p.line == text.splitlines().index("[export]") + 2
    cfg.write_text(text.replace("[export]\n", '[export]\nbase_url = "https://r.example/w/"\n'), encoding="utf-8")
    assert load_config(cfg).base_url == "https://r.example/w/"


def test_a_message_shows_control_characters_from_names_escaped():
    """Names and reasons reach chat apps as text: an escape sequence in a security's name must
    arrive escaped, never raw."""
    from types import SimpleNamespace

    from screener.notify import compose

    changes = SimpleNamespace(entered=[{"symbol": "603019.SH", "name": "Evil\x1b]0;pwn\x07", "reason": "new\u202e"}],
                              left=[])
    message = compose("rules/x\x1b[2J.toml", "2026-11-20", changes=changes)
    for text in (message.title, message.body):
        assert not any(c in text for c in ("\x1b", "\x07", "\u202e")), text
    assert "Evil\\x1b]0;pwn\\x07" in message.body
