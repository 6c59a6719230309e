"""The watchlist daemon: APScheduler 3.x runs each `[[jobs]]` entry at its cron times on its
exchange's trading days, forever, in the foreground process.

How a run goes (`Daemon.run_job`):

1. take the job's lock (`<out>/.jobs/<job>.lock`, non-blocking): a second daemon pointed at the
   same output, or a run still going, makes this one a logged "skipped", never an overlap;
2. read `config.toml` and the job's rule files afresh: an edit takes effect now; a broken rule is
   logged with file:line:col and that rule's previous watchlist stays as it was;
3. screen and publish each rule as of the scheduled slot's local date: the same pipeline as
   `screener run` (`api.publish`: P from the history, dated exports, the history, `latest.*`);
   stale-data warnings (`result.warnings`) are logged per rule and kept in the status file;
4. after a rule is published (every write done), send its message to the job's `notify` targets
   when `notify_on` asks (`screener.notify`); a failed delivery is logged, redacted, and changes
   nothing else; a failed rule or job sends its error unless `notify_on = "never"`;
5. write the outcome to the status file `<out>/schedule-status.json` (atomically): last run,
   error, warnings and deliveries (targets redacted).

A rule's error is logged in full when it first appears or changes, then as a one-line reminder.

An exception in one job is logged with its context and never stops the daemon or other jobs.
Missed runs coalesce; on start, a job whose most recent slot (within `grace_time`) has not run
yet runs once (catch-up). `config.toml` edits (checked every few seconds) or SIGHUP reload the
jobs; an invalid config keeps the running jobs and logs why. SIGTERM/SIGINT only set an event:
the main thread then shuts the scheduler down, waiting for a running job to finish.

Times: a job's exports, log lines and status entries are in the job's timezone, the daemon's own
in `[schedule] timezone`, ISO 8601 with the offset (`zone_of`); the history stores UTC.
"""

from __future__ import annotations

import hashlib
import json
import os
import logging
import signal
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

from screener.atomic import write_bytes
from screener.config import Config, load_config
from screener.schedule.jobs import Job, load_jobs
from screener.times import shown
from screener.problems import InputError

log = logging.getLogger("screener.schedule")
STATUS_FILE = "schedule-status.json"


@dataclass(frozen=True)
class Outcome:
    job: str
    status: str  # ok | failed | skipped
    rows: int = 0
    duration: float = 0.0
    error: str | None = None
    warnings: tuple[str, ...] = ()  # stale-data warnings, "<rule>: <warning>"
    notifications: tuple[dict, ...] = ()  # deliveries: redacted target, ok, error, rule
    bad_input: bool = False  # failed because of a rule, config or data problem (`--run-now` exits 2)


def trigger_for(job: Job, config: Config):
    """The job's trigger: cron in its timezone, restricted to its calendar's open days."""
    from screener.schedule.calendars import get_calendar, load_closures
    from screener.schedule.crontab import build_trigger

    calendar = None
    if job.calendar:
        closures = load_closures(config.closures_path).get(job.calendar) if config.closures_path else None
        calendar = get_calendar(job.calendar, closures)
    return build_trigger(job.cron, job.timezone, calendar)


def upcoming(config: Config, start: datetime, count: int) -> list[dict]:
    """Each job's next `count` run times after `start` (DESIGN.md's `schedule --list --json`)."""
    from screener.schedule.crontab import is_provisional, next_runs

    out = []
    for job in load_jobs(config):
        trigger = trigger_for(job, config)
        local_start = start.astimezone(ZoneInfo(job.timezone))
        runs = next_runs(trigger, local_start, count) if job.enabled else []
        out.append({
            "job": job.name,
            "next_runs": [r.isoformat() for r in runs],
            "provisional": [r.isoformat() for r in runs if is_provisional(trigger, r)],
            "calendar": job.calendar, "timezone": job.timezone, "cron": job.cron, "enabled": job.enabled,
            "rules": [config.display(r) for r in job.rules],
        })
    return out


class StatusFile:
    """Last run, next run and last error per job, plus a daemon heartbeat, in one JSON file."""

    _locks: dict[Path, threading.Lock] = {}

    def __init__(self, out_dir: Path):
        self.path = Path(out_dir) / STATUS_FILE
        # one lock per file, shared by every instance (a reload makes a new StatusFile)
        self._lock = StatusFile._locks.setdefault(self.path.resolve(), threading.Lock())

    def read(self) -> dict:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
            return data if isinstance(data, dict) else {}
        except (OSError, ValueError):
            return {}

    def shown(self, tz: str) -> dict:
        """The file as `schedule --status` shows it: the daemon's own times in zone `tz`
        (`[schedule] timezone`; files written before times were zoned hold them in UTC). A job's
        times are written in its own zone already."""
        data = self.read()
        own = data.get("daemon")
        if isinstance(own, dict):
            data["daemon"] = {k: shown(v, tz) if k in ("started_at", "heartbeat", "stopped_at") and isinstance(v, str)
                              else v for k, v in own.items()}
        return data

    def update(self, job: str | None = None, **fields) -> None:
        with self._lock:
            data = self.read()
            target = data.setdefault("jobs", {}).setdefault(job, {}) if job else data.setdefault("daemon", {})
            target.update({k: v for k, v in fields.items()})
            write_bytes(self.path, (json.dumps(data, ensure_ascii=False, indent=2, sort_keys=True) + "\n").encode())


class Daemon:
    """Owns the APScheduler instance, the jobs built from the config, and the status file."""

    def __init__(self, config_path: Path, clock=None):
        self.config_path = Path(config_path)
        self.config = load_config(self.config_path)
        # a rule file missing at start is that job's failure at its runs, not the daemon's (it may come back)
        self.jobs = {j.name: j for j in load_jobs(self.config, check_files=False)}
        self.status = StatusFile(self.config.out_dir)
        self.clock = clock or (lambda: datetime.now(timezone.utc))
        self.scheduler = None
        self._stop = threading.Event()
        self._reload = threading.Event()
        self._config_digest = _digest(self.config_path)
        self._errors_seen: dict[tuple[str, str | None], str] = {}  # (job, rule) -> error last logged in full

    # -- one run -----------------------------------------------------------------------------
    def run_job(self, name: str, slot: datetime | None = None) -> Outcome:
        """Run one job now for `slot` (its scheduled time; default: now). Never raises."""
        started = time.perf_counter()
        slot = slot or self.clock()
        job = self.jobs.get(name)
        if job is None:
            return Outcome(name, "failed", error=f"no job named {name!r}")
        local_slot = slot.astimezone(ZoneInfo(job.timezone))
        try:
            outcome = self._run_locked(job, local_slot, started)
        except Exception as e:  # noqa: BLE001 - one failing job must never stop the daemon
            error = f"{type(e).__name__}: {e}"
            if self._errors_seen.get((name, None)) != error:  # one line; the traceback only with SCREENER_DEBUG
                self._errors_seen[(name, None)] = error
                log.error("job %s failed: %s (this is a bug in screener; SCREENER_DEBUG=1 logs the traceback)", name,
                          error, exc_info=bool(os.environ.get("SCREENER_DEBUG")), extra={"job": name, "outcome": "failed"})
            else:
                self._log_error(job, None, "failed", error)
            sent = self._notify(job, self.config, f"job {name}", local_slot.date(), error=error)
            outcome = Outcome(name, "failed", duration=time.perf_counter() - started, error=error,
                              notifications=tuple(sent))
        else:
            self._errors_seen.pop((name, None), None)
        self._record(job, local_slot, outcome)
        return outcome

    def _run_locked(self, job: Job, slot: datetime, started: float) -> Outcome:
        from filelock import FileLock, Timeout

        lock_dir = self.config.out_dir / ".jobs"
        lock_dir.mkdir(parents=True, exist_ok=True)
        lock = FileLock(str(lock_dir / f"{job.name}.lock"), timeout=0, fallback_to_soft=False, thread_local=False)
        try:
            lock.acquire(timeout=0)
        except Timeout:
            log.warning("job %s skipped: another run of it holds %s (another daemon on the same output?)",
                        job.name, lock.lock_file, extra={"job": job.name, "outcome": "skipped"})
            return Outcome(job.name, "skipped", error="another run of this job is in progress")
        try:
            return self._run(job, slot, started)
        finally:
            lock.release()

    def _run(self, job: Job, slot: datetime, started: float) -> Outcome:
        from screener import api

        try:
            config = load_config(self.config_path)
        except InputError as e:
            log.error("job %s: config.toml is invalid, using the last good one:\n%s", job.name,
                      "\n".join(p.render() for p in e.problems), extra={"job": job.name})
            config = self.config
        day = slot.date()
        if job.refresh:
            self._refresh(job, config, day)
        rows, errors, warnings, sent, bad_input = 0, [], [], [], False
        snapshot = None
        for path in job.rules:
            shown = config.display(path)
            t0 = time.perf_counter()
            published = None
            try:
                (check,) = api.check_rules(config, [str(path)], as_of=day)
                if check.screen is None:
                    raise InputError(list(check.problems))
                screen = check.screen
                for w in screen.warnings:
                    log.warning("job %s rule %s: %s", job.name, shown, w.render(), extra={"job": job.name, "rule": shown})
                snapshot = snapshot or api.load_data(config)
                (published,) = api.publish(config, [screen], day, list(job.formats), snapshot=snapshot,
                                           clock=self.clock, tz=job.timezone)
            except InputError as e:
                text = "\n".join(p.render() for p in e.problems)
                self._log_error(job, shown, "bad input, the previous watchlist is kept", text)
                errors.append(f"{shown}: " + "; ".join(f"{p.location()}: {p.message}" for p in e.problems))
                bad_input = True
                sent += self._notify(job, config, shown, day, error=text)
                continue
            stale = list(published.result.warnings) if published.result is not None else []
            for w in stale:
                log.warning("job %s rule %s: data warning: %s", job.name, shown, w,
                            extra={"job": job.name, "rule": shown})
            warnings += [f"{shown}: {w}" for w in stale]
            if published.error:
                self._log_error(job, shown, "not published", published.error)
                errors.append(f"{shown}: {published.error}")
                sent += self._notify(job, config, shown, day, error=published.error, warnings=stale)
                continue
            self._errors_seen.pop((job.name, shown), None)
            n = published.result.included.height
            rows += n
            log.info("job %s rule %s: %d rows as of %s in %.2f s (run %s)", job.name, shown, n, day,
                     time.perf_counter() - t0, published.run_id,
                     extra={"job": job.name, "rule": shown, "rows": n, "outcome": "ok",
                            "duration": round(time.perf_counter() - t0, 3)})
            if published.pruned is not None and (published.pruned.removed or published.pruned.failed):
                log.info("job %s rule %s: %s", job.name, shown, published.pruned.message(),
                         extra={"job": job.name, "rule": shown})
            detail = published.pruned_detail
            if detail is not None and (detail.runs or detail.orphans or detail.errors):
                log.info("job %s rule %s: %s", job.name, shown, detail.message(), extra={"job": job.name, "rule": shown})
            for note in published.notices:
                log.info("job %s rule %s: %s", job.name, shown, note, extra={"job": job.name, "rule": shown})
            sent += self._notify(job, config, shown, day, published=published, warnings=stale,
                                 label=published.result.screen.name or shown)
        duration = time.perf_counter() - started
        extra = {"warnings": tuple(warnings), "notifications": tuple(sent)}
        if errors:
            return Outcome(job.name, "failed", rows, duration, " | ".join(errors), bad_input=bad_input, **extra)
        return Outcome(job.name, "ok", rows, duration, **extra)

    def _log_error(self, job: Job, rule: str | None, what: str, text: str) -> None:
        """A rule's (or the job's) error in full the first time and whenever it changes; while it
        stays the same, a one-line reminder (a broken rule on a minutely job must not flood the log)."""
        key = (job.name, rule)
        where = f"job {job.name} rule {rule}" if rule else f"job {job.name}"
        extra = {"job": job.name, "outcome": "failed"} | ({"rule": rule} if rule else {})
        if self._errors_seen.get(key) == text:
            first = text.strip().splitlines()[0] if text.strip() else text
            log.error("%s: %s, same error as before (logged in full then): %s", where, what, first, extra=extra)
            return
        self._errors_seen[key] = text
        log.error("%s: %s:\n%s", where, what, text, extra=extra)

    def _notify(self, job: Job, config: Config, rule: str, day, *, published=None, error: str | None = None,
                warnings=(), label: str | None = None) -> list[dict]:
        """Send the rule's message to the job's targets when `notify_on` asks for it; log each
        failed delivery (redacted). Returns the deliveries for the status file. Never raises."""
        if not job.notify:
            return []
        try:
            from screener import notify

            changes = published.changes if published is not None else None
            if not notify.should_notify(job.notify_on, changes, error is not None):
                return []
            link = notify.report_link(published, config.out_dir, config.base_url) if published is not None else None
            message = notify.compose(label or rule, day, changes=changes, warnings=warnings, link=link, error=error, job=job.name)
            deliveries = notify.send(job.notify, message)
        except Exception as e:  # noqa: BLE001 - a notification must never fail the job
            log.error("job %s rule %s: notifications not sent: %s", job.name, rule, type(e).__name__,
                      extra={"job": job.name, "rule": rule})
            return [{"target": "*", "ok": False, "error": type(e).__name__, "rule": rule}]
        for d in deliveries:
            if d.ok:
                log.info("job %s rule %s: notified %s", job.name, rule, d.target, extra={"job": job.name, "rule": rule})
            else:
                log.error("job %s rule %s: notification to %s failed: %s", job.name, rule, d.target, d.error,
                          extra={"job": job.name, "rule": rule})
        return [d.to_dict() | {"rule": rule} for d in deliveries]

    def _refresh(self, job: Job, config: Config, day) -> None:
        """Fetch live data for the job's universes before screening. A failure is logged and the
        screen runs on the data the snapshot already holds (the freshness warning then says so)."""
        from screener import api
        from screener.rules.rule import load_rule

        universes: list[str] = []
        for path in job.rules:
            try:
                universes += [u for u in load_rule(path, config.universe_names()).universes if u not in universes]
            except InputError:
                continue  # reported when the rule runs
        try:
            report = api.refresh_data(config, config.data_dir, day, None, universes)
        except Exception as e:  # noqa: BLE001 - a provider outage must not cost the screen
            log.error("job %s: data refresh failed, screening on the existing snapshot: %s: %s", job.name,
                      type(e).__name__, e, extra={"job": job.name})
            return
        for err in report.errors:
            log.error("job %s: data refresh: %s", job.name, err, extra={"job": job.name})
        log.info("job %s: data refreshed: %s", job.name, ", ".join(f"{k} {n}" for k, n in report.written.items()) or "nothing",
                 extra={"job": job.name})

    def _record(self, job: Job, slot: datetime, outcome: Outcome) -> None:
        fields = {"last_slot": slot.isoformat(), "last_outcome": outcome.status, "last_rows": outcome.rows,
                  "last_duration": round(outcome.duration, 3),
                  "last_finished": self.clock().astimezone(ZoneInfo(job.timezone)).isoformat()}
        if outcome.status == "ok":
            fields["last_success"] = slot.isoformat()
            fields["last_error"] = None
        elif outcome.error:
            fields["last_error"] = outcome.error
        if outcome.status != "skipped":
            fields["last_warnings"] = list(outcome.warnings)
            fields["last_notifications"] = list(outcome.notifications)
        nxt = self._next_run(job)
        fields["next_run"] = nxt.isoformat() if nxt else None
        try:
            self.status.update(job.name, **fields)
        except OSError as e:
            log.error("could not write the status file %s: %s", self.status.path, e)
        level = logging.INFO if outcome.status == "ok" else logging.WARNING
        log.log(level, "job %s %s in %.2f s, %d rows%s", job.name, outcome.status, outcome.duration, outcome.rows,
                f": {outcome.error}" if outcome.error else "",
                extra={"job": job.name, "outcome": outcome.status, "rows": outcome.rows,
                       "duration": round(outcome.duration, 3)})

    def _next_run(self, job: Job) -> datetime | None:
        from screener.schedule.crontab import next_runs

        try:
            runs = next_runs(trigger_for(job, self.config), self.clock().astimezone(ZoneInfo(job.timezone)), 1)
        except Exception:  # noqa: BLE001 - status is best effort
            return None
        return runs[0] if runs else None

    def zone_of(self, job: str | None) -> str:
        """The zone a time about `job` is shown in (logs, status): the job's own, else (the
        daemon's own lines, an unknown job) `[schedule] timezone`. Follows reloads."""
        found = self.jobs.get(job) if job else None
        return found.timezone if found is not None else self.config.timezone

    def _now_shown(self) -> str:
        return shown(self.clock(), self.config.timezone)

    # -- catch-up --------------------------------------------------------------------------
    def missed(self, now: datetime | None = None) -> list[tuple[str, datetime]]:
        """Jobs whose most recent slot within `grace_time` before `now` has not run yet."""
        from screener.schedule.crontab import next_runs

        now = now or self.clock()
        state = self.status.read().get("jobs", {})
        out = []
        for job in self.jobs.values():
            if not job.enabled:
                continue
            tz = ZoneInfo(job.timezone)
            start = (now - timedelta(seconds=self.config.grace_time)).astimezone(tz)
            slots = [s for s in next_runs(trigger_for(job, self.config), start, 500) if s <= now]
            if not slots:
                continue
            last = slots[-1]
            done = state.get(job.name, {}).get("last_slot")
            if done is None or datetime.fromisoformat(done) < last:
                out.append((job.name, last))
        return out

    # -- the daemon --------------------------------------------------------------------------
    def build_scheduler(self, paused: bool = False):
        from apscheduler.executors.pool import ThreadPoolExecutor
        from apscheduler.schedulers.background import BackgroundScheduler

        self.scheduler = BackgroundScheduler(
            executors={"default": ThreadPoolExecutor(max_workers=4)},
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": int(self.config.grace_time) or None},
            timezone=ZoneInfo(self.config.timezone),
        )
        self._add_jobs()
        self.scheduler.start(paused=paused)
        return self.scheduler

    def _add_jobs(self) -> None:
        for job in self.jobs.values():
            if not job.enabled:
                log.info("job %s is disabled", job.name, extra={"job": job.name})
                continue
            trigger = trigger_for(job, self.config)
            if self._next_run(job) is None:
                log.warning("job %s never runs: no time of %r falls on an open day of %s", job.name, job.cron,
                            job.calendar, extra={"job": job.name})
            self.scheduler.add_job(self._fire, trigger=trigger, id=job.name, name=job.name, args=[job.name],
                                   replace_existing=True)
            log.info("job %s scheduled: %s, next run %s", job.name, trigger, self._next_run(job),
                     extra={"job": job.name})

    def _fire(self, name: str) -> None:
        """A scheduled run: its slot is now (a late start within grace_time keeps today's date)."""
        self.run_job(name)

    def reload(self) -> bool:
        """Re-read config.toml and rebuild the jobs; an invalid config keeps the running ones."""
        try:
            config = load_config(self.config_path)
            jobs = {j.name: j for j in load_jobs(config, check_files=False)}
            for job in jobs.values():
                trigger_for(job, config)
        except (InputError, Exception) as e:  # noqa: BLE001 - a bad edit must not stop the daemon
            detail = "\n".join(p.render() for p in e.problems) if isinstance(e, InputError) else f"{type(e).__name__}: {e}"
            log.error("config.toml changed but is invalid; the running jobs stay as they were:\n%s", detail)
            return False
        self.config, self.jobs = config, jobs
        self.status = StatusFile(config.out_dir)
        if self.scheduler is not None:
            self.scheduler.remove_all_jobs()
            self._add_jobs()
        log.info("config reloaded: %d job(s)", len(jobs))
        return True

    def request_stop(self, *_args) -> None:
        self._stop.set()

    def request_reload(self, *_args) -> None:
        self._reload.set()

    def serve(self, poll: float = 2.0) -> int:
        """Run until SIGTERM/SIGINT. Returns the process exit code (0 after a clean stop)."""
        signal.signal(signal.SIGTERM, self.request_stop)
        signal.signal(signal.SIGINT, self.request_stop)
        if hasattr(signal, "SIGHUP"):
            signal.signal(signal.SIGHUP, self.request_reload)
        self.build_scheduler()
        self.status.update(None, pid=_pid(), started_at=self._now_shown(), config=str(self.config_path))
        log.info("daemon started with %d job(s); status in %s", len(self.jobs), self.status.path)
        if self.config.catch_up:
            for name, slot in self.missed():
                log.info("job %s missed its run of %s: running it once now (catch-up)", name, slot.isoformat(),
                         extra={"job": name})
                self.scheduler.add_job(self.run_job, args=[name, slot], id=f"catch-up:{name}", name=f"catch-up {name}",
                                       replace_existing=True)
        while not self._stop.wait(poll):
            self.status.update(None, heartbeat=self._now_shown())
            digest = _digest(self.config_path)
            if self._reload.is_set() or digest != self._config_digest:
                self._reload.clear()
                self._config_digest = digest
                self.reload()
        log.info("stopping: waiting for running jobs to finish")
        self.scheduler.shutdown(wait=True)
        self.status.update(None, stopped_at=self._now_shown())
        log.info("daemon stopped")
        return 0


def _digest(path: Path) -> str:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return ""


def _pid() -> int:
    import os

    return os.getpid()


def _line_time(record: logging.LogRecord, zone_of, timespec: str) -> str:
    """A log line's time, ISO 8601 with the offset of the zone `zone_of(job)` names for the
    line's job (None: UTC). Never raises: a log line is never lost to its time."""
    moment = datetime.fromtimestamp(record.created, timezone.utc)
    try:
        tz = zone_of(getattr(record, "job", None)) if zone_of else None
        return shown(moment, tz, timespec)
    except Exception:  # noqa: BLE001 - e.g. a zone that vanished from the system's database
        return moment.isoformat(timespec=timespec)


class TextFormatter(logging.Formatter):
    """`<time with offset> <LEVEL> <message>`: the time in the line's job's zone (`Daemon.zone_of`)."""

    def __init__(self, zone_of=None):
        super().__init__("%(asctime)s %(levelname)s %(message)s")
        self.zone_of = zone_of

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:  # noqa: N802
        return _line_time(record, self.zone_of, "seconds")

    def format(self, record: logging.LogRecord) -> str:
        """The line with control characters from rule paths, names and errors shown escaped."""
        from screener.outputs.safe import printable

        return printable(super().format(record))


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time (with the offset of the line's job's zone, milliseconds),
    level, message, and job/rule/rows/duration/outcome when known."""

    def __init__(self, zone_of=None):
        super().__init__()
        self.zone_of = zone_of

    def format(self, record: logging.LogRecord) -> str:
        entry = {"time": _line_time(record, self.zone_of, "milliseconds"),
                 "level": record.levelname.lower(), "message": record.getMessage()}
        for key in ("job", "rule", "rows", "duration", "outcome"):
            if hasattr(record, key):
                entry[key] = getattr(record, key)
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        from screener.outputs.safe import json_safe

        return json_safe(json.dumps(entry, ensure_ascii=False))


def setup_logging(log_file: str | None, fmt: str = "text", zone_of=None) -> None:
    """Daemon logs to `log_file` (default: stderr), as text or JSON lines. `zone_of(job)` names the
    zone a line's time is shown in (`Daemon.zone_of`: the job's, else `[schedule] timezone`);
    without it, UTC. Either way the time carries its offset."""
    handler = logging.FileHandler(log_file, encoding="utf-8") if log_file else logging.StreamHandler()
    handler.setFormatter(JsonFormatter(zone_of) if fmt == "json" else TextFormatter(zone_of))
    root = logging.getLogger("screener")
    root.handlers[:] = [handler]
    root.setLevel(logging.INFO)
    logging.getLogger("apscheduler").addHandler(handler)
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
