"""One pipeline from rules to published watchlists, used by `screener run` and by the scheduler.

`run_and_publish` takes checked rules and a date D and, per rule, under the rule's lock
(`<out>/<rule stem>/.lock`, so two runs of one rule never interleave):

1. reads P, when the rule has `keep`: the watchlist of the run recorded in the output folder's
   history for the same rule stem with the newest as-of strictly before D (ties: the highest
   run id). A backfill of an earlier date therefore never becomes P of a later run's sibling
   unless it is the newest before it;
2. screens as of D, buffered against P (`screener.engine.screen.run_screen`);
3. compares with the newest recorded run of the rule with as-of <= D (this run is not recorded
   yet, so it is never compared with itself): entered, left, moved, in the engine's words;
4. renders every format, then writes the dated exports `<rule>/<D>/<rule>.<ext>`;
5. records the run in the history (one transaction: the run, P's run id, every member);
6. refreshes `latest.*` where D is the newest date written in that format.
7. rebuilds `<out>/index.html` (every rule's newest report) under the output folder's index lock;
8. with `[export] keep_days`, and only when every step above succeeded, removes the rule's dated
   export folders more than that many days older than its newest (`export.prune_dated`:
   `latest.*` and the folders they came from stay); `Published.pruned` says what went.
   With `[history] detail_days`, the member files of the rule's runs more than that many days
   older than its newest are dropped (`History.prune`; watchlists stay); `Published.pruned_detail`.
   (Notifications, when configured, come after this step.)

One `generated_at` per rule run: every export, the history row and the JSON carry the same
instant. If step 5 fails, the dated exports stay, `latest.*` is not touched, and the rule's
`Published.error` says so (the CLI exits 1). A failure before step 5 leaves the history and
`latest.*` as they were. When the lock cannot be had (another run holds it past
`export.lock_timeout`, or the output folder is unusable) the rule is still screened, read-only,
and its error says that nothing was written. Bad input (`InputError`) propagates.

An unreadable history (not SQLite, or damaged pages met while reading) is moved aside under a
printed name (`History.set_aside_if_unreadable`), never replaced silently; that run screens
without it (no P, no changes), writes its dated exports, records nothing, leaves `latest.*`,
and its error says all that (exit 1). The next run starts a new history. A history migrated to
a newer layout by this run is reported in `Published.notices`.

`write=False` (`run --no-export`) does steps 1 and 2 only: it reads the history for P and
writes nothing. `screen_as_of` is that read-only screen for one rule (`explain`, `test`).
"""

from __future__ import annotations

import sqlite3
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import date, datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterator

from screener.config import Config
from screener.problems import InputError
from screener.outputs.history import Changes, History, PrunedDetail, UnreadableHistory, compare, rows_of
from screener.rules.rule import Screen

if TYPE_CHECKING:  # polars and the engine load when a screen runs, not when the CLI starts
    from screener.engine.screen import ScreenResult
    from screener.outputs.export import ExportContext, Pruned


@dataclass(frozen=True)
class Published:
    """What the pipeline did for one rule: the result, the context its exports were made from
    (None only when the history could not even be read), the run id, the files written, the
    changes, and `error` when something asked for was not done."""

    rule: str
    result: ScreenResult | None = None
    context: ExportContext | None = None
    run_id: int | None = None
    identical_to: int | None = None
    files: tuple[str, ...] = ()
    changes: Changes | None = None
    error: str | None = None
    pruned: Pruned | None = None  # step 8, when `[export] keep_days` is set and the rule has dated folders
    pruned_detail: PrunedDetail | None = None  # step 8, when `[history] detail_days` is set
    notices: tuple[str, ...] = ()  # things done that the user should hear of (a history migrated)

    @property
    def generated_at(self) -> datetime | None:
        return self.context.generated_at if self.context is not None else None


class LockTimeout(Exception):
    """Another run of the same screen held the lock for longer than we were willing to wait."""


def buffered(screen: Screen) -> bool:
    """Whether the rule keeps members of its previous watchlist (`[output] keep`), so needs P."""
    return getattr(screen, "keep", None) is not None


def screen_as_of(config: Config, screen: Screen, as_of: date, snapshot, history: History | None) -> ScreenResult:
    """`screen` as of `as_of`, buffered against P from `history` when the rule has `keep` (no
    history, or none before `as_of`: plain top). Reads the history, never writes it."""
    from screener.engine.screen import run_screen

    previous = history.previous(screen.stem, as_of) if history is not None and buffered(screen) else None
    return run_screen(screen, config, snapshot, as_of, previous=previous)


def run_and_publish(config: Config, screens: list[Screen], as_of: date, formats: list[str] | tuple[str, ...] = (),
                    *, out_dir: Path | None = None, lang: str | None = None, snapshot=None, write: bool = True,
                    on_wait: Callable[[str], None] | None = None,
                    clock: Callable[[], datetime] | None = None, tz: str | None = None) -> list[Published]:
    """Screen each rule as of `as_of` and publish it: see the module docstring for the steps.

    `out_dir` holds the exports and `history.sqlite` (default: `paths.out`); `lang` the
    exports' language (default: `export.lang`); `snapshot` the data, read once for every rule
    (default: `paths.data`). `on_wait(message)` is called once when a rule's lock is busy and
    we wait for it. `clock` gives `generated_at` (default: now, UTC), to the second; the history
    stores it in UTC and every output shows it in zone `tz` (default: `[schedule] timezone`; the
    daemon passes the job's)."""
    from screener.data.snapshot import load_snapshot
    from screener.outputs.export import ExportContext

    out = Path(out_dir) if out_dir else config.out_dir
    if write:  # two rules that would share a rule folder (and its history): exit 2 before anything is written
        from screener.outputs.export import check_folders

        check_folders(screens, config.display)
    snapshot = snapshot or load_snapshot(config.data_dir, config.display)
    history = History(out)
    broken = history.set_aside_if_unreadable() if write else None  # moved aside: this run records nothing
    clock = clock or (lambda: datetime.now(timezone.utc))
    lang = lang or config.lang
    tz = tz or config.timezone
    done = []
    for screen in screens:
        if not write:
            result = screen_as_of(config, screen, as_of, snapshot, history)
            ctx = ExportContext(result, _stamp(clock), lang, None, config.csv_bom, tz, config.json_excluded_max)
            done.append(Published(screen.path, result, ctx))
            continue
        with ExitStack() as held:
            try:
                held.enter_context(rule_lock(config, out, screen.stem, on_wait))
            except (LockTimeout, OSError, ValueError) as e:
                # nothing can be written: still show the screen (P read only), and say why
                why = str(e) if isinstance(e, LockTimeout) else _os_message(e)
                result = screen_as_of(config, screen, as_of, snapshot, history)
                ctx = ExportContext(result, _stamp(clock), lang, None, config.csv_bom, tz, config.json_excluded_max)
                done.append(Published(screen.path, result, ctx, error=_not_written(screen, why)))
                continue
            done.append(_publish_one(config, screen, as_of, list(formats), out, history, snapshot, lang, clock, tz,
                                     broken))
    return done


def _publish_one(config: Config, screen: Screen, as_of: date, formats: list[str], out: Path, history: History,
                 snapshot, lang: str, clock, tz: str, broken: str | None = None) -> Published:
    """Steps 1-8 for one rule; the caller holds its lock. `broken`: the history was unreadable
    and has been moved aside (the message says where): the rule is screened without it and its
    dated exports written, but nothing is recorded and `latest.*` stays (exit 1)."""
    from screener.outputs.export import ExportContext, Pruned, prune_dated, render_all, write_dated, write_latest

    generated_at = _stamp(clock)
    try:
        result = screen_as_of(config, screen, as_of, snapshot, None if broken else history)
        changes = None if broken else changes_since(history, result)
    except UnreadableHistory as e:  # damage met while reading: set it aside, go on without it
        broken = history.move_aside(e)
        result = screen_as_of(config, screen, as_of, snapshot, None)
        changes = None
    except sqlite3.Error as e:
        return Published(screen.path, error=_not_written(screen, f"the history could not be read: {e}"))
    ctx = ExportContext(result, generated_at, lang, changes, config.csv_bom, tz, config.json_excluded_max)
    try:
        rendered = render_all(ctx, formats)
        dated = write_dated(ctx, out, rendered)
    except ImportError as e:
        return Published(screen.path, result, ctx, changes=changes,
                         error=_not_written(screen, f"{e}; reinstall with: pip install -e ."))
    except (OSError, ValueError) as e:
        return Published(screen.path, result, ctx, changes=changes, error=_not_written(screen, _os_message(e)))
    where = config.display(dated[0].parent) if dated else config.display(out)
    if broken:
        return Published(screen.path, result, ctx, files=_shown(config, dated), changes=changes,
                         error=f"{broken}; this run of {screen.path} was not recorded{_buffer_note(screen)}: the dated "
                               f"exports in {where} were written, latest.* was not updated")
    try:
        run_id, identical = history.record(result, generated_at, config.scoring_fingerprint)
    except UnreadableHistory as e:
        return Published(screen.path, result, ctx, files=_shown(config, dated), changes=changes,
                         error=f"{history.move_aside(e)}; this run of {screen.path} was not recorded: the dated "
                               f"exports in {where} were written, latest.* was not updated")
    except (sqlite3.Error, OSError, InputError) as e:
        why = _os_message(e) if isinstance(e, OSError) else (e.problems[0].message if isinstance(e, InputError) else e)
        return Published(screen.path, result, ctx, files=_shown(config, dated), changes=changes,
                         error=f"the history of {screen.path} could not be written ({config.display(history.path)}: "
                               f"{why}); the dated exports in {where} were written, latest.* and the history are as "
                               "they were")
    notices = (history.migrated,) if history.migrated else ()
    history.migrated = None
    try:
        latest = write_latest(ctx, out, rendered)
    except (OSError, ValueError) as e:
        return Published(screen.path, result, ctx, run_id, identical, _shown(config, dated), changes,
                         error=f"latest.* of {screen.path} could not be updated: {_os_message(e)} (the run is "
                               f"recorded as run {run_id} and its dated exports are written)", notices=notices)
    index = []
    if latest:
        from screener.outputs.index_page import write_index

        try:
            index = [write_index(out, history, ctx.generated_local.isoformat(), config.lock_timeout)]
        except (OSError, ValueError, TimeoutError) as e:
            return Published(screen.path, result, ctx, run_id, identical, _shown(config, dated + latest), changes,
                             error=f"{config.display(out / 'index.html')} could not be updated: {_os_message(e)} "
                                   f"(the run is recorded as run {run_id}; its exports and latest.* are written)",
                             notices=notices)
    pruned = None
    if config.keep_days is not None:
        try:
            pruned = prune_dated(out, screen.stem, config.keep_days)
        except OSError as e:  # the run itself is published; what could not be pruned stays for next time
            pruned = Pruned((), as_of, config.keep_days, (_os_message(e),))
    pruned_detail = None
    if config.detail_days is not None:
        try:
            pruned_detail = history.prune(screen.stem, config.detail_days)
        except (sqlite3.Error, OSError, InputError) as e:  # the run is published; the next one tries again
            pruned_detail = PrunedDetail((), None, config.detail_days, errors=(str(e),))
    return Published(screen.path, result, ctx, run_id, identical, _shown(config, dated + latest + index), changes,
                     pruned=pruned, pruned_detail=pruned_detail, notices=notices)


def _buffer_note(screen: Screen) -> str:
    return " (its buffer had no previous watchlist to keep)" if buffered(screen) else ""


def changes_since(history: History, result: ScreenResult) -> Changes | None:
    """What changed since the newest recorded run of the rule with as-of <= the result's (None
    when there is none). Reads only that run's watchlist plus this result's (see `compare`)."""
    base = history.at_or_before(result.screen.stem, result.as_of)
    if base is None:
        return None
    watchlist = result.included["symbol"].to_list()
    old = history.rows(base.run_id, also=watchlist)
    new = rows_of(result, also=[s for s, r in old.items() if r["included"]])
    return compare(old, new, base, None, result.screen.top)


@contextmanager
def rule_lock(config: Config, out: Path, stem: str, on_wait: Callable[[str], None] | None = None) -> Iterator[None]:
    """Hold `<out>/<rule stem>/.lock` (flock; released by the OS if we die). When it is busy,
    say so once through `on_wait` and wait up to `export.lock_timeout`, then raise LockTimeout."""
    from filelock import FileLock, Timeout

    from screener.outputs.export import rule_folder

    folder = rule_folder(out, stem)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / ".lock"
    lock = FileLock(str(path), timeout=0, fallback_to_soft=False)
    try:
        lock.acquire(timeout=0)
    except Timeout:
        if on_wait:
            on_wait(f"waiting for another run of {stem} to finish (lock {config.display(path)}, "
                    f"up to {config.lock_timeout:g} s)")
        try:
            lock.acquire(timeout=config.lock_timeout)
        except Timeout:
            raise LockTimeout(f"gave up after {config.lock_timeout:g} s: another run of {stem} still holds "
                              f"{config.display(path)}; try again when it has finished "
                              "(export.lock_timeout in config.toml sets the wait)") from None
    try:
        yield
    finally:
        lock.release()


def _stamp(clock) -> datetime:
    return clock().astimezone(timezone.utc).replace(microsecond=0)


def _not_written(screen: Screen, why: str) -> str:
    return (f"the exports and history of {screen.path} were not written: {why}\n"
            "  (latest.* and the history are as they were)")


def _os_message(e: Exception) -> str:
    where = getattr(e, "filename", None)
    text = f"{getattr(e, 'strerror', None) or e}" + (f": {where}" if where else "")
    return text + "; check that the output folder is writable and the disk has room"


def _shown(config: Config, paths: list[Path]) -> tuple[str, ...]:
    return tuple(config.display(p) for p in paths)
