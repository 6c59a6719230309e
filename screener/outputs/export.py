"""Watchlist exports: one registry of small format modules behind one atomic `export()`.

Layout under the output folder:

    <out>/<rule stem>/<as_of>/<rule stem>.<ext>   one folder per screening date
    <out>/<rule stem>/latest.<ext>                 the newest as_of written in that format (a
                                                   backfill of an older date never replaces it)

`<rule stem>` is the file stem as it is for an ordinary name (`safe.safe_component`: characters
other than ASCII letters, digits and `_ . -` become `_`); a stem that could meet the output
folder's own files (`history*`, `schedule-status.json`, `index.html`, `backtests`, `*.lock`) or
starts with a dot is escaped with `@` (`@history.sqlite`, `@..@`). Two rules of one command that
would share a folder are refused before anything is written (`check_folders`).

With `[export] keep_days = N`, `prune_dated` removes the dated folders more than N days older
than the rule's newest one after a successful run (never `latest.*`, never a folder `latest.*`
was copied from, never a folder whose name is not a date).

Every file is written to a temporary file beside it and renamed into place (`screener.atomic`),
so a reader sees the old file or the new one. Each format is a module in `screener.outputs.formats`
with `render(ctx) -> bytes`, imported only when asked for.

Every export says which `SCHEMA_VERSION` of this layout and which engine (`ENGINE_VERSION`) made
it, and a buffered rule's export names the previous watchlist P it kept members from
(`ExportContext.provenance`).
"""

from __future__ import annotations

import importlib
import json
import re
import shutil
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

from screener.atomic import link_or_write, write_bytes
from screener.engine.screen import ScreenResult
from screener.outputs.safe import inside, safe_component

FORMATS = ("csv", "xlsx", "html", "json", "parquet", "md")
_LATEST_META = ".latest.json"

#: the version of what exports and `run --json` say (their keys and what each means). Bump it when
#: a key is renamed, removed or changes meaning; adding a key does not need it. 1: until 2026-11;
#: 2: `schema_version`, `engine_version`, `keep`, `previous`, `previous_note`, `changes` always present.
SCHEMA_VERSION = 2


@dataclass(frozen=True)
class ExportContext:
    """Everything a format needs: the result, when it was made (one time for every file, the
    history row and the JSON of a run), in which language, and what changed since the run it is
    compared with (`None` for a first run or when history is off). `generated_at` is the UTC
    instant; `tz` the zone every format shows it in (the job's for a scheduled run, else
    `[schedule] timezone`): `generated_local`, and the compared runs' times in `changes`."""

    result: ScreenResult
    generated_at: datetime
    lang: str = "en"
    changes: object | None = None  # screener.outputs.history.Changes
    csv_bom: bool = True
    tz: str = "UTC"
    json_excluded_max: int | None = None  # the JSON export's cap on listed excluded members (`export`)

    @property
    def generated_local(self) -> datetime:
        """`generated_at` in the zone `tz`, to the second (ISO text: "...T16:30:05+08:00")."""
        from screener.times import local

        return local(self.generated_at, self.tz).replace(microsecond=0)

    @property
    def schema_version(self) -> int:
        return SCHEMA_VERSION

    @property
    def engine_version(self) -> int:
        from screener.engine import ENGINE_VERSION

        return ENGINE_VERSION

    @property
    def keep(self) -> bool:
        """Whether the rule buffers its watchlist (`[output] keep`), so that P matters."""
        return getattr(self.result.screen, "keep", None) is not None

    @property
    def previous(self):
        """The previous watchlist P the result was buffered against (`Previous`), or None."""
        return getattr(self.result, "previous", None)

    @property
    def previous_note(self) -> str | None:
        """"previous watchlist: run 7 as of 2026-11-20", "no previous watchlist: plain top", or
        None when the rule has no buffer. Every output of a buffered run shows it."""
        return previous_note(self.result)

    def provenance(self) -> dict:
        """The versions and P as plain data, for every format to show (JSON: top-level keys)."""
        p = self.previous if self.keep else None
        return {"schema_version": self.schema_version, "engine_version": self.engine_version, "keep": self.keep,
                "previous": None if p is None else {"run_id": p.run_id, "as_of": p.as_of.isoformat()},
                "previous_note": self.previous_note}


def previous_note(result) -> str | None:
    """How a buffered result names its P (see `ExportContext.previous_note`)."""
    if getattr(result.screen, "keep", None) is None:
        return None
    p = getattr(result, "previous", None)
    if p is None:
        return "no previous watchlist: plain top"
    if p.run_id is None:  # a backtest's previous period
        return f"previous watchlist: as of {p.as_of.isoformat()}"
    return f"previous watchlist: run {p.run_id} as of {p.as_of.isoformat()}"


def json_payload(ctx: ExportContext, excluded_max: int | None = None) -> dict:
    """The JSON of a run, as the JSON export and `run --json` write it: `schema_version` first,
    DESIGN.md's `run --json` keys, the provenance (engine version, P) and `changes` (null when
    there is nothing to compare with).

    With `excluded_max` (the JSON export passes `[export] json_excluded_max`; `run --json` never
    does, so stdout stays complete) and more excluded members than that, `excluded` is null and
    `excluded_count` and `excluded_note` say how many there were and where their verdicts are.
    `rows` is always complete."""
    from screener.outputs.report import result_payload

    provenance = ctx.provenance()
    payload = {"schema_version": provenance.pop("schema_version")}
    count = excluded_count(ctx.result) if excluded_max is not None else 0
    capped = excluded_max is not None and count > excluded_max
    payload.update(result_payload(ctx.result, ctx.generated_local, for_writing=True, with_excluded=not capped))
    if capped:
        payload["excluded_count"] = count
        payload["excluded_note"] = (f"{count} excluded members, more than export.json_excluded_max = {excluded_max}: "
                                    "not listed here; the history holds every member's verdict for this run (its "
                                    "member file history/run-<run id>.parquet in the output folder; the run id is "
                                    "in `screener history`)")
    payload.update(provenance)
    payload["changes"] = ctx.changes.in_zone(ctx.tz).to_dict() if ctx.changes is not None else None
    return payload


def excluded_count(result: ScreenResult) -> int:
    """How many members the result leaves out of its watchlist."""
    import polars as pl

    return result.verdicts.filter(pl.col("included").not_()).height


def render(fmt: str, ctx: ExportContext) -> bytes:
    module = importlib.import_module(f"screener.outputs.formats.{fmt}_format")
    return module.render(ctx)


def render_all(ctx: ExportContext, formats: list[str]) -> dict[str, bytes]:
    """Every format rendered, before anything is written (a format that fails to render leaves
    every file as it was)."""
    return {fmt: render(fmt, ctx) for fmt in formats}


def rule_folder(out_dir: Path, stem: str) -> Path:
    """`<out>/<folder of the rule stem>` (`safe_component`: the stem itself for an ordinary name,
    escaped where it could meet the project's own files), checked to stay inside `out_dir`.
    Takes the rule's stem as it is, never an already made folder name."""
    return inside(out_dir, Path(out_dir) / safe_component(stem))


def check_folders(screens, display=str) -> None:
    """Raise `InputError` (exit 2) when two of the rules of one command or job would write to the
    same rule folder (the same stem in two places, names that differ only where `safe_component`
    replaces characters, or one file named twice): before anything is written, naming both
    files. `screens` are `Screen`s (their `path` and `stem`)."""
    from screener.problems import InputError, Problem

    seen: dict[str, object] = {}
    problems = []
    for s in screens:
        folder = safe_component(s.stem)
        key = folder.lower()  # macOS and Windows file systems ignore case
        first = seen.setdefault(key, s)
        if first is s:
            continue
        if str(first.path) == str(s.path):
            problems.append(Problem("same-folder", f"{display(s.path)} is named twice", display(s.path),
                                    hint="name each rule once"))
            continue
        problems.append(Problem("same-folder", f"{display(first.path)} and {display(s.path)} would both write to "
                                f"the rule folder `{folder}` (and share its history)", display(s.path),
                                hint="rename one of the files: a rule's exports go to <out>/<file name without "
                                     ".toml>/"))
    if problems:
        raise InputError(problems)


def export(ctx: ExportContext, out_dir: Path, formats: list[str]) -> list[Path]:
    """Write each format for the run's date, then refresh `latest.*` when this date is the newest.

    Returns the paths written. A published run goes through `write_dated` and `write_latest`
    separately, with the history recorded between them (`screener.pipeline`)."""
    rendered = render_all(ctx, formats)
    return write_dated(ctx, out_dir, rendered) + write_latest(ctx, out_dir, rendered)


def write_dated(ctx: ExportContext, out_dir: Path, rendered: dict[str, bytes]) -> list[Path]:
    """`<out>/<rule>/<as_of>/<rule>.<ext>` for each rendered format, each atomically. Removes the
    temporary files a killed run left (the caller holds the rule's lock)."""
    result = ctx.result
    stem = safe_component(result.screen.stem)
    base = rule_folder(out_dir, result.screen.stem)
    dated = inside(out_dir, base / result.as_of.isoformat())
    for folder in (base, dated):
        _remove_leftovers(folder)
    written = []
    for fmt, data in rendered.items():
        target = dated / f"{stem}.{fmt}"
        write_bytes(target, data)
        written.append(target)
    return written


def write_latest(ctx: ExportContext, out_dir: Path, rendered: dict[str, bytes]) -> list[Path]:
    """`<out>/<rule>/latest.<ext>` for each format whose newest written as-of this run is (a
    backfill of an older date never replaces it), tracked in `.latest.json`."""
    result = ctx.result
    base = rule_folder(out_dir, result.screen.stem)
    meta = _latest_meta(base)
    as_of = result.as_of.isoformat()
    written = []
    for fmt, data in rendered.items():
        if as_of >= meta.get(fmt, ""):
            target = base / f"latest.{fmt}"
            # a hard link to the dated file this run wrote (the same bytes), else a copy
            link_or_write(target, base / as_of / f"{safe_component(result.screen.stem)}.{fmt}", data)
            written.append(target)
            meta[fmt] = as_of
    if written:
        meta["stem"] = result.screen.stem  # the rule the folder belongs to (its name may be escaped)
        write_bytes(base / _LATEST_META, json.dumps(meta, sort_keys=True, ensure_ascii=True).encode())
    return written


def _latest_meta(base: Path) -> dict[str, str]:
    """{format: as_of of its latest.* file}; unreadable or old-style metadata counts as empty."""
    try:
        meta = json.loads((base / _LATEST_META).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return {k: v for k, v in meta.items() if k in FORMATS and isinstance(v, str)} if isinstance(meta, dict) else {}


def _remove_leftovers(folder: Path) -> None:
    """Temporary files a killed run left behind (`.<name>.<random>.tmp`). Safe: the caller holds
    this screen's lock, so no other writer is using them."""
    if not folder.is_dir():
        return
    for p in folder.glob(".*.tmp"):
        try:
            p.unlink()
        except OSError:
            pass


_DATE_NAME = re.compile(r"\d{4}-\d{2}-\d{2}")
_ASIDE = ".pruned"


@dataclass(frozen=True)
class Pruned:
    """What `prune_dated` did: the dated folders removed (paths), the first as-of kept (folders
    older than it went, unless `latest.*` came from them) and the folders that could not be
    removed, with why."""

    removed: tuple[Path, ...]
    older_than: date
    keep_days: int
    failed: tuple[str, ...] = ()

    def message(self) -> str:
        n = len(self.removed)
        text = (f"pruned {n} dated export folder{'' if n == 1 else 's'} older than {self.older_than.isoformat()} "
                f"(export.keep_days = {self.keep_days})")
        if self.failed:
            text += f"; {len(self.failed)} could not be removed: {self.failed[0]}"
        return text

    def to_dict(self, display=str) -> dict:
        return {"count": len(self.removed), "older_than": self.older_than.isoformat(), "keep_days": self.keep_days,
                "folders": [display(p) for p in self.removed], "failed": list(self.failed)}


def dated_folders(base: Path) -> dict[date, Path]:
    """{as-of: folder} for the subfolders of a rule folder whose names are ISO dates (YYYY-MM-DD);
    anything else in it is not ours to judge."""
    found = {}
    if not base.is_dir():
        return found
    for p in base.iterdir():
        if not _DATE_NAME.fullmatch(p.name) or p.is_symlink() or not p.is_dir():
            continue
        try:
            found[date.fromisoformat(p.name)] = p
        except ValueError:
            continue
    return found


def prune_dated(out_dir: Path, stem: str, keep_days: int) -> Pruned | None:
    """Remove `<out>/<rule>/<as_of>/` folders whose as-of is more than `keep_days` days before the
    newest dated folder of the rule. Kept always: `latest.*` and `.latest.json` (files, never
    looked at), any folder named in `.latest.json` (where a `latest.*` came from), and every entry
    whose name is not a date. Each folder is renamed aside (`.<as_of>.pruned`) and then deleted,
    so a reader sees it whole or not at all; a rename aside left by a killed prune is deleted the
    next time. None when the rule has no dated folder. The caller holds the rule's lock."""
    base = rule_folder(out_dir, stem)
    for leftover in base.glob(f".*{_ASIDE}") if base.is_dir() else ():
        if _DATE_NAME.fullmatch(leftover.name[1:-len(_ASIDE)]) and leftover.is_dir() and not leftover.is_symlink():
            shutil.rmtree(leftover, ignore_errors=True)
    folders = dated_folders(base)
    newest = max(folders, default=None)
    if newest is None:
        return None
    older_than = newest - timedelta(days=keep_days)
    pointed = set(_latest_meta(base).values())
    removed, failed = [], []
    for day in sorted(folders):
        if day >= older_than or day.isoformat() in pointed:
            continue
        folder = folders[day]
        aside = base / f".{folder.name}{_ASIDE}"
        try:
            folder.rename(aside)
        except OSError as e:
            failed.append(f"{folder}: {e.strerror or e}")
            continue
        shutil.rmtree(aside, ignore_errors=True)  # already out of sight; a leftover goes next time
        removed.append(folder)
    return Pruned(tuple(removed), older_than, keep_days, tuple(failed))
