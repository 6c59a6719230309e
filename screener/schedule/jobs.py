"""Scheduled jobs from `config.toml`'s `[[jobs]]` tables, checked before the daemon starts.

A job: a name, rule files (read afresh at every run), a standard 5-field cron, an optional
exchange calendar (the job runs only on its trading days), export formats, an optional timezone
(default `[schedule] timezone`), `enabled`, `refresh` (fetch live data first), and `notify`
(Apprise URLs, `${NAME}` read from the environment) with `notify_on` ("change", "always",
"never"; see `screener.notify`). A `notify` entry Apprise cannot parse is a problem on its line;
Apprise is imported only when some job has `notify` entries.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from screener.config import Config
from screener.problems import InputError, Problem, suggestion
from screener.rules.tomlpos import TomlText

JOB_KEYS = ("name", "rules", "cron", "calendar", "formats", "timezone", "enabled", "refresh", "notify", "notify_on")


@dataclass(frozen=True)
class Job:
    name: str
    rules: tuple[Path, ...]
    cron: str
    calendar: str | None
    formats: tuple[str, ...]
    timezone: str
    enabled: bool = True
    refresh: bool = False  # fetch live data (screener data refresh) before screening
    notify: tuple[str, ...] = ()  # Apprise URLs as written (with `${NAME}`s): never log them whole
    notify_on: str = "change"  # change | always | never


def load_jobs(config: Config, check_files: bool = True) -> list[Job]:
    """Every job of the config, checked (keys, cron, calendar, timezone, formats, unique names, and
    with `check_files` that each rule file is there). Raises `InputError` with every problem, each
    on its `[[jobs]]` line."""
    from screener.data import schemas
    from screener.schedule.calendars import CALENDARS, calendar_hint
    from screener.schedule.crontab import CronError, parse_cron
    from screener.outputs.export import FORMATS
    from screener import notify as notify_urls

    from screener import limits

    text = limits.read_text(config.path, config.display(config.path), "config file", limits.DEFAULTS.rule_file_bytes)
    shown = config.display(config.path)
    problems = list(schemas.validate_jobs(list(config.jobs), shown, text))
    toml = TomlText(text)
    job_lines = [i + 1 for i, line in enumerate(text.splitlines()) if line.strip().startswith("[[jobs]]")]
    jobs = []
    for i, raw in enumerate(config.jobs):
        line = job_lines[i] if i < len(job_lines) else None

        def problem(message, hint=None, key=None, show_source=True):
            at = line
            if key and line:
                for j in range(line, min(line + 20, len(toml.lines) + 1)):
                    src = toml.source_line(j) or ""
                    if re.match(rf"{key}\s*=", src.strip()):
                        at = j
                        break
            # a notify line may hold a token: its problems name the redacted URL, not the source line
            problems.append(Problem("job", f"job {raw.get('name', i + 1)!s}: {message}", shown, at, None, hint,
                                    toml.source_line(at) if at and show_source else None))

        for key in raw:
            if key not in JOB_KEYS:
                problem(f"unknown key `{key}`", suggestion(key, JOB_KEYS, "key"), key)
        name = raw.get("name")
        if name is not None and (not isinstance(name, str) or not name.strip()):
            problem(f"name must be text in quotes, got {name!r}", 'name = "esg-compute-daily"', "name")
        cron = raw.get("cron")
        if cron is not None and not isinstance(cron, str):
            problem(f"cron must be a string in quotes, got {cron!r}", 'cron = "30 16 * * mon-fri" (minute hour day month weekday)',
                    "cron")
        if isinstance(cron, str):
            try:
                parse_cron(cron)
            except CronError as e:
                problem(f"cron {cron!r}: {e.message}", e.hint, "cron")
        calendar = raw.get("calendar")
        if calendar is not None and calendar not in CALENDARS:
            problem(f"unknown calendar {calendar!r}", calendar_hint(str(calendar)), "calendar")
        tz = raw.get("timezone", config.timezone)
        if not _valid_timezone(tz):
            problem(f"unknown timezone {tz!r}", 'use an IANA name such as "Asia/Shanghai"', "timezone")
        formats = raw.get("formats", ["csv", "json"])
        if not isinstance(formats, list) or not all(f in FORMATS for f in formats):
            problem(f"formats must be a list of {', '.join(FORMATS)}", 'formats = ["csv", "html"]', "formats")
        enabled = raw.get("enabled", True)
        if not isinstance(enabled, bool):
            problem("enabled must be true or false", None, "enabled")
        refresh = raw.get("refresh", False)
        if not isinstance(refresh, bool):
            problem("refresh must be true or false", "refresh = true fetches live data before screening", "refresh")
        notify = raw.get("notify", [])
        if not isinstance(notify, list) or not all(isinstance(u, str) for u in notify):
            problem("notify must be a list of Apprise URLs", 'notify = ["dingtalk://${DINGTALK_TOKEN}/"]', "notify",
                    show_source=False)
            notify = []
        for url in notify:
            if not notify_urls.valid_url(url):
                problem(f"notify target {notify_urls.redact(url)} is not a valid Apprise URL",
                        "write e.g. json://host:port/path, dingtalk://${DINGTALK_TOKEN}/, wecombot://${WECOM_KEY}, "
                        "mailto://user:${SMTP_PASSWORD}@example.com (unset ${NAME}s were checked with a placeholder)",
                        "notify", show_source=False)
        notify_on = raw.get("notify_on", "change")
        if notify_on not in notify_urls.NOTIFY_ON:
            problem(f"notify_on must be one of {', '.join(repr(v) for v in notify_urls.NOTIFY_ON)}, got {notify_on!r}",
                    suggestion(str(notify_on), notify_urls.NOTIFY_ON, "value") or 'notify_on = "change"', "notify_on")
            notify_on = "change"
        rules = raw.get("rules")
        if rules is not None and (not isinstance(rules, list) or not rules or not all(isinstance(r, str) for r in rules)):
            problem(f"rules must be a non-empty list of rule files, got {rules!r}",
                    'rules = ["rules/esg_compute_leaders.toml"]', "rules")
        elif rules is not None and check_files:
            for r in rules:
                target = config.root / r
                kind = limits.special_kind(target)
                if kind is not None:
                    problem(f"rule file {r} is {kind}, not a regular file", "name a rule file (paths are relative to the "
                            "config file)", "rules")
                elif not target.is_file():
                    near = suggestion(Path(r).stem, [q.stem for q in config.rules_dir.glob("*.toml")], "rule") \
                        if config.rules_dir.is_dir() else ""
                    problem(f"rule file {r} not found (paths are relative to {config.display(config.root) or '.'})",
                            near or "check the path", "rules")
        if isinstance(rules, list) and all(isinstance(r, str) for r in rules) and isinstance(name, str) and isinstance(cron, str):
            jobs.append(Job(name=name, rules=tuple((config.root / r) for r in rules), cron=cron, calendar=calendar,
                            formats=tuple(formats) if isinstance(formats, list) else ("csv", "json"),
                            timezone=tz if isinstance(tz, str) else config.timezone, enabled=enabled is not False,
                            refresh=refresh is True, notify=tuple(notify), notify_on=notify_on))
    if problems:
        raise InputError(problems)
    return jobs


def _valid_timezone(name) -> bool:
    from screener.config import _valid_timezone as check

    return check(name)
