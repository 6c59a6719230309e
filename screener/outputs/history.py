"""Run history: an index of runs in SQLite, `<out>/history.sqlite`, and every member of each run
in a Parquet file beside it, `<out>/history/run-<run_id>.parquet`.

Why two stores: a whole-market run has hundreds of thousands of members, and a row per member
in SQLite costs about 150 bytes (with its index) and seconds to insert and read back. A
column-compressed Parquet table of the same members costs about 12 bytes each (the benchmark's
rule, 200,000 members, four score components) and a tenth of a second to write. SQLite keeps what
is small and asked for by key: the runs, and each run's watchlist, which stays queryable with
`sqlite3`:

    runs(run_id, rule_stem, rule_path, rule_name, rule_sha256, rule_text, data_folder,
         data_fingerprint, data_notice, as_of, generated_at, inputs_key, identical_to,
         members, passed, top, previous_run_id, engine_version, members_file)
    watchlist(run_id, symbol, name, passed, rank, score, failed, missing, components,
              group_rank, pinned, pin_reason, reason)              -- the included members only

`failed`, `missing` and `components` are JSON text there. A member file has the same columns for
every member, included or not, plus `run_id`, `rule_stem`, `as_of` and `included`; `failed` and
`missing` are lists, and each score component is a column `score.<name>` (as in the frame
`screener.screen` returns). Runs of one rule share columns; across rules, read them with
`polars.concat(..., how="diagonal")` or DuckDB's `read_parquet(..., union_by_name = true)`. `members_file` is the
file's path relative to the output folder, null once `[history] detail_days` has pruned it: the
watchlist rows stay forever; only the excluded members' detail goes.

One run is one SQLite transaction. Inside it (holding SQLite's write lock), the run's row is
inserted, its member file written atomically and fsynced, its watchlist inserted, then COMMIT. A
run killed at any point leaves the history as before (a member file written before a COMMIT that
never happened is unreferenced; the next run takes the same run id and replaces it) or as after.

Schema versions (`PRAGMA user_version`): 0/1 the first layout; 2 added columns to runs and rows;
3 (this one) moved the members to Parquet. A writer meeting an older file migrates it once, under
`<out>/.history.lock`: a copy of the old file is kept beside it (`history.sqlite.v<N>-backup`), a
new file is built aside with a member file per old run, fsynced, then renamed over the old one. A
kill at any moment leaves the old file in place (and the next writer starts again). Readers
(`history`, `explain`, `test`, `run --no-export`) read an older file as it is and never write it.

Lookups by date never read unrelated runs: `previous` (P: newest as-of strictly before D) and
`at_or_before` (what a run's changes compare against: newest as-of <= D among the runs recorded
before it) each walk the (rule_stem, as_of, run_id) index backwards and stop at the first hit. A
diff reads the two watchlists from SQLite and, from each member file, only the rows of the other
run's watchlist.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import sqlite3
from contextlib import closing
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

from screener.problems import InputError, Problem

HISTORY_FILE = "history.sqlite"
MEMBERS_DIR = "history"  # <out>/history/run-<run_id>.parquet
HISTORY_SCHEMA = 3  # PRAGMA user_version of a file this module wrote or migrated

_TABLES = """
CREATE TABLE IF NOT EXISTS runs (
    run_id INTEGER PRIMARY KEY AUTOINCREMENT,
    rule_stem TEXT NOT NULL,
    rule_path TEXT NOT NULL,
    rule_name TEXT NOT NULL,
    rule_sha256 TEXT NOT NULL,
    rule_text TEXT NOT NULL,
    data_folder TEXT NOT NULL,
    data_fingerprint TEXT NOT NULL,
    data_notice TEXT,
    as_of TEXT NOT NULL,
    generated_at TEXT NOT NULL,
    inputs_key TEXT NOT NULL,
    identical_to INTEGER REFERENCES runs(run_id),
    members INTEGER NOT NULL,
    passed INTEGER NOT NULL,
    top INTEGER,
    previous_run_id INTEGER REFERENCES runs(run_id),
    engine_version INTEGER,
    members_file TEXT
);
CREATE TABLE IF NOT EXISTS watchlist (
    run_id INTEGER NOT NULL REFERENCES runs(run_id),
    symbol TEXT NOT NULL,
    name TEXT NOT NULL,
    passed INTEGER NOT NULL,
    rank INTEGER,
    score REAL,
    failed TEXT NOT NULL,
    missing TEXT NOT NULL,
    components TEXT NOT NULL,
    group_rank INTEGER,
    pinned INTEGER,
    pin_reason TEXT,
    reason TEXT,
    PRIMARY KEY (run_id, symbol)
)
"""

#: columns later schemas added to `runs` and to the old `rows` table, read as nulls from an older file
_ADDED_COLUMNS = {
    "runs": ("previous_run_id", "engine_version", "members_file"),
    "rows": ("group_rank", "pinned", "pin_reason", "reason"),
}

_INDEXES = (
    "CREATE INDEX IF NOT EXISTS runs_by_rule ON runs(rule_stem, run_id)",
    "CREATE INDEX IF NOT EXISTS runs_by_rule_as_of ON runs(rule_stem, as_of, run_id)",
)

_MEMBER_COLUMNS = ("symbol", "name", "included", "passed", "rank", "score", "failed", "missing", "components",
                   "group_rank", "pinned", "pin_reason", "reason")
_WATCHLIST_COLUMNS = ("run_id", "symbol", "name", "passed", "rank", "score", "failed", "missing", "components",
                      "group_rank", "pinned", "pin_reason", "reason")
#: what `compare` reads of a member (everything but the components)
_READ_COLUMNS = ("symbol", "name", "passed", "rank", "score", "failed", "missing", "group_rank", "pinned",
                 "pin_reason", "reason")

_RUN_SELECT = (
    "SELECT r.run_id, r.rule_stem, r.rule_name, r.rule_sha256, r.data_fingerprint, r.as_of, r.generated_at, "
    "r.identical_to, r.members, r.passed, (SELECT COUNT(*) FROM watchlist w WHERE w.run_id = r.run_id), "
    "r.top, r.previous_run_id, r.engine_version, r.members_file FROM runs r ")

#: P: the newest as-of strictly before D, ties to the highest run id
PREVIOUS_SQL = ("SELECT run_id, as_of FROM runs WHERE rule_stem = ? AND as_of < ? "
                "ORDER BY as_of DESC, run_id DESC LIMIT 1")
#: what a run's changes compare against: the newest as-of <= D among the runs recorded before it
AT_OR_BEFORE_SQL = ("SELECT run_id FROM runs WHERE rule_stem = ? AND as_of <= ? AND run_id < ? "
                    "ORDER BY as_of DESC, run_id DESC LIMIT 1")
WATCHLIST_SQL = "SELECT symbol FROM watchlist WHERE run_id = ?"
_NO_RUN_ID_ABOVE = 2 ** 62


@dataclass(frozen=True)
class Run:
    run_id: int
    rule_stem: str
    rule_name: str
    rule_sha256: str
    data_fingerprint: str
    as_of: str
    generated_at: str
    identical_to: int | None
    members: int
    passed: int
    included: int
    top: int | None
    previous_run_id: int | None = None  # P of a buffered run
    engine_version: int | None = None  # null for runs recorded before schema 2
    members_file: str | None = None  # relative to the output folder; null once pruned (or before schema 3)

    def to_dict(self) -> dict:
        return dict(self.__dict__)

    def in_zone(self, tz: str | None) -> Run:
        """This run with `generated_at` shown in zone `tz` (stored text is UTC; see `screener.times`)."""
        from screener.times import shown

        return replace(self, generated_at=shown(self.generated_at, tz))


@dataclass(frozen=True)
class Changes:
    """What changed between two runs of one screen. Each list holds dicts with `symbol`, `name`
    and `reason`; `moved` also has `from_rank`, `to_rank`, `from_score`, `to_score`."""

    entered: list = field(default_factory=list)
    left: list = field(default_factory=list)
    moved: list = field(default_factory=list)
    before: Run | None = None
    after: Run | None = None

    def to_dict(self) -> dict:
        return {
            "before": self.before.to_dict() if self.before else None,
            "after": self.after.to_dict() if self.after else None,
            "entered": self.entered, "left": self.left, "moved": self.moved,
        }

    @property
    def empty(self) -> bool:
        return not (self.entered or self.left or self.moved)

    def in_zone(self, tz: str | None) -> Changes:
        """These changes with the two runs' times shown in zone `tz` (`Run.in_zone`)."""
        return replace(self, before=self.before.in_zone(tz) if self.before else None,
                       after=self.after.in_zone(tz) if self.after else None)


class Members(dict):
    """A run's recorded members by symbol. `complete` is False when the run's member file was
    pruned: a symbol missing here may then have been a member (excluded), so `compare` does not
    call it new in the universe or gone from it."""

    complete: bool = True


@dataclass(frozen=True)
class PrunedDetail:
    """What `History.prune` did: the runs whose member files went (their watchlists stay), the
    cutoff (as-of dates before it were pruned) and files it could not remove."""

    runs: tuple[int, ...]
    cutoff: date | None
    detail_days: int
    orphans: int = 0
    errors: tuple[str, ...] = ()

    def message(self) -> str:
        n = len(self.runs)
        text = (f"pruned the member detail of {n} run{'' if n == 1 else 's'} as of before "
                f"{self.cutoff.isoformat() if self.cutoff else '-'} (history.detail_days = {self.detail_days}; "
                "their watchlists are kept)")
        if self.orphans:
            text += f"; removed {self.orphans} member file{'' if self.orphans == 1 else 's'} no run named"
        if self.errors:
            text += f"; {len(self.errors)} could not be removed: {self.errors[0]}"
        return text

    def to_dict(self) -> dict:
        return {"runs": list(self.runs), "cutoff": self.cutoff.isoformat() if self.cutoff else None,
                "detail_days": self.detail_days, "orphans_removed": self.orphans, "errors": list(self.errors)}


def previous_run_id(result) -> int | None:
    """The run id of the previous watchlist P the result was buffered against (None: no P)."""
    previous = getattr(result, "previous", None)
    return previous.run_id if previous is not None else None


def inputs_key(result, config_fingerprint: str = "") -> str:
    """What a run depends on: the rule text, the data, the date, the config's scoring knobs, the
    engine's version and the previous watchlist P it was buffered against (by run id). Two runs
    with the same key are "identical"; a run scored by another engine or against another P never is."""
    from screener.engine import ENGINE_VERSION

    pid = previous_run_id(result)
    parts = [result.screen.sha256, result.snapshot.fingerprint, result.as_of.isoformat(), config_fingerprint,
             f"engine {ENGINE_VERSION}", f"previous {'none' if pid is None else pid}"]
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()[:32]


class UnreadableHistory(InputError):
    """The history file is there but is not a readable history (not SQLite, or damaged)."""


def _unreadable(path: Path, e: Exception) -> UnreadableHistory:
    return UnreadableHistory([Problem("unreadable-history", f"the run history is not readable: {e}", str(path),
                                      hint="restore a backup, or move the file aside: the next `screener run` "
                                      "starts a new history")])


class History:
    """The history of one output folder: `history.sqlite` and the member files in `history/`."""

    def __init__(self, out_dir: Path):
        self.out = Path(out_dir)
        self.path = self.out / HISTORY_FILE
        self.members_dir = self.out / MEMBERS_DIR
        self.migrated: str | None = None  # what the last migration did, for the run to print

    # -- connections ---------------------------------------------------------------------------

    def _connect(self, create: bool) -> sqlite3.Connection:
        """A connection in autocommit mode (transactions are explicit). `create` (a writer): the
        file is made, or migrated to `HISTORY_SCHEMA` (`_upgrade`) first. Otherwise (a reader)
        FileNotFoundError when there is no file or no run in it, and an older file is read as it
        is through temporary views. `UnreadableHistory` when the file is not a readable history;
        `InputError` when it cannot be opened (permissions, a full disk)."""
        if not create and not self.path.exists():
            raise FileNotFoundError(self.path)
        if create:
            self.out.mkdir(parents=True, exist_ok=True)
            if not self.path.exists():
                self._create()
        if self.path.is_dir():
            raise InputError([Problem("history-unavailable", f"{HISTORY_FILE} is a directory, where the run history "
                                      "file goes", str(self.path), hint="move that directory away (the next run "
                                      "starts a new history there), or pass another --out")])
        if self.path.is_file() and self.path.stat().st_size == 0:  # we never leave one: the file was cut short
            raise _unreadable(self.path, "the file is empty (0 bytes)")
        con = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        try:
            if create:
                con.execute("PRAGMA journal_mode=WAL")  # persistent: readers find it set
                con.execute("PRAGMA synchronous=FULL")
                if con.execute("PRAGMA user_version").fetchone()[0] < HISTORY_SCHEMA:
                    self.migrated = self._upgrade(con)
            elif con.execute("PRAGMA user_version").fetchone()[0] < HISTORY_SCHEMA:
                if not con.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'runs'").fetchone():
                    # a file another process has just created and not yet given its tables (or an
                    # empty one): no run is recorded in it yet
                    con.close()
                    raise FileNotFoundError(self.path)
                _read_as_current(con)
        except sqlite3.DatabaseError as e:
            con.close()
            if isinstance(e, sqlite3.OperationalError):  # the file may be fine: permissions, a full disk, a lock
                if "locked" in str(e):
                    raise
                raise InputError([Problem("history-unavailable", f"cannot open the run history: {e}", str(self.path),
                                          hint="check that the output folder is readable and writable and the "
                                          "disk has room")]) from None
            raise _unreadable(self.path, e) from None
        return con

    def _create(self) -> None:
        """Make a new history file whole: its tables are written to a temporary file, which is
        then linked into place (never over an existing file: a writer that lost the race uses the
        winner's). So an empty `history.sqlite` is never ours, and reads as damage."""
        import tempfile

        fd, tmp = tempfile.mkstemp(prefix=f".{HISTORY_FILE}.", suffix=".tmp", dir=self.out)
        os.close(fd)
        try:
            with closing(sqlite3.connect(tmp, isolation_level=None)) as con:
                for statement in _TABLES.split(";"):
                    con.execute(statement)
                for statement in _INDEXES:
                    con.execute(statement)
                con.execute(f"PRAGMA user_version = {HISTORY_SCHEMA}")
            with open(tmp, "rb+") as fh:
                os.fsync(fh.fileno())
            umask = os.umask(0)  # mkstemp's file is private; a history gets the usual permissions
            os.umask(umask)
            os.chmod(tmp, 0o666 & ~umask)
            try:
                os.link(tmp, self.path)
            except FileExistsError:
                pass
        finally:
            os.unlink(tmp)

    def _reader(self) -> sqlite3.Connection | None:
        """A reading connection, or None when there is no history yet."""
        try:
            return self._connect(create=False)
        except FileNotFoundError:
            return None

    def set_aside_if_unreadable(self) -> str | None:
        """When the file exists but is not a readable history (not SQLite, or damaged), move it
        and its -wal/-shm files aside to `history.sqlite.unreadable-<UTC time>` and return a
        message naming the new name (None when the file is fine or absent). It is never replaced
        silently: the caller reports it, and the next run starts a new history."""
        if not self.path.exists() and not self.path.is_symlink():
            return None
        try:
            con = self._connect(create=False)
            try:
                con.execute("PRAGMA quick_check").fetchall()
                con.execute(_RUN_SELECT + "ORDER BY r.run_id DESC LIMIT 1").fetchall()
            except sqlite3.DatabaseError as e:
                if isinstance(e, sqlite3.OperationalError) and "malformed" not in str(e):
                    raise InputError([Problem("history-unavailable", f"cannot read the run history: {e}",
                                              str(self.path), hint="check the output folder")]) from None
                raise _unreadable(self.path, e) from None
            finally:
                con.close()
        except FileNotFoundError:
            return None
        except UnreadableHistory as e:
            return self.move_aside(e)
        return None

    def move_aside(self, e: UnreadableHistory) -> str:
        """Move the unreadable file (and its -wal/-shm) to `history.sqlite.unreadable-<UTC time>`,
        never over an earlier one; return the message naming where it went."""
        stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
        aside = self.path.with_name(f"{self.path.name}.unreadable-{stamp}")
        n = 1
        while aside.exists():
            n += 1
            aside = self.path.with_name(f"{self.path.name}.unreadable-{stamp}-{n}")
        for suffix in ("", "-wal", "-shm"):
            src = self.path.with_name(self.path.name + suffix)
            if src.exists() or src.is_symlink():
                os.replace(src, aside.with_name(aside.name + suffix))
        (problem,) = e.problems
        return f"{problem.message}; moved it aside to {aside} (the next run starts a new history)"

    # -- writing -------------------------------------------------------------------------------

    def record(self, result, generated_at: datetime, config_fingerprint: str = "") -> tuple[int, int | None]:
        """Record one run in one transaction: its row, its member file, its watchlist. Returns
        (run_id, identical_to): the earlier run with exactly the same inputs (`inputs_key`), if any."""
        from screener.engine import ENGINE_VERSION

        screen = result.screen
        key = inputs_key(result, config_fingerprint)
        members = member_frame(result)
        watchlist = _watchlist_rows(members)
        with closing(self._connect(create=True)) as con:
            con.execute("BEGIN IMMEDIATE")
            try:
                prev = con.execute("SELECT run_id, identical_to FROM runs WHERE rule_stem = ? AND inputs_key = ? "
                                   "ORDER BY run_id DESC LIMIT 1", (screen.stem, key)).fetchone()
                identical = (prev[1] or prev[0]) if prev else None
                cur = con.execute(
                    "INSERT INTO runs (rule_stem, rule_path, rule_name, rule_sha256, rule_text, data_folder, "
                    "data_fingerprint, data_notice, as_of, generated_at, inputs_key, identical_to, members, passed, top, "
                    "previous_run_id, engine_version) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (screen.stem, screen.path, screen.name, screen.sha256, screen.text, str(result.snapshot.folder),
                     result.snapshot.fingerprint, result.snapshot.notice, result.as_of.isoformat(),
                     generated_at.isoformat(), key, identical, result.frame.height,
                     int(result.frame["_passed"].sum()), screen.top, previous_run_id(result), ENGINE_VERSION))
                run_id = cur.lastrowid
                relative = self._write_members(run_id, screen.stem, result.as_of, members)
                con.executemany(f"INSERT INTO watchlist ({', '.join(_WATCHLIST_COLUMNS)}) "
                                f"VALUES ({', '.join('?' * len(_WATCHLIST_COLUMNS))})",
                                [(run_id, *row) for row in watchlist])
                con.execute("UPDATE runs SET members_file = ? WHERE run_id = ?", (relative, run_id))
                con.execute("COMMIT")
            except BaseException:
                con.execute("ROLLBACK")
                raise
        return run_id, identical

    def _write_members(self, run_id: int, rule_stem: str, as_of: date, members) -> str:
        """Write a run's member file atomically (fsynced before the caller's COMMIT names it);
        return its path relative to the output folder."""
        import polars as pl

        from screener.atomic import atomic_path

        relative = f"{MEMBERS_DIR}/run-{run_id:08d}.parquet"
        frame = members.select(pl.lit(run_id, dtype=pl.Int64).alias("run_id"),
                               pl.lit(rule_stem, dtype=pl.String).alias("rule_stem"),
                               pl.lit(as_of, dtype=pl.Date).alias("as_of"), pl.all())
        buf = io.BytesIO()  # encoded in memory (a few MB at market scale): a full disk is then an OSError
        frame.write_parquet(buf, compression="zstd", compression_level=3, statistics=True)
        with atomic_path(self.out / relative) as tmp:
            tmp.write_bytes(buf.getvalue())
        return relative

    def prune(self, rule_stem: str, detail_days: int) -> PrunedDetail:
        """Drop the member files of the runs of `rule_stem` whose as-of is more than
        `detail_days` days before its newest run's; their runs and watchlists stay. Member files
        no run names (a run killed before its COMMIT) go too. The runs are updated in one
        transaction first, then the files removed: a kill in between leaves unnamed files that
        the next prune removes."""
        if not self.path.exists():
            return PrunedDetail((), None, detail_days)
        with closing(self._connect(create=True)) as con:
            con.execute("BEGIN IMMEDIATE")  # holds off writers: no member file is being written now
            try:
                (newest,) = con.execute("SELECT MAX(as_of) FROM runs WHERE rule_stem = ?", (rule_stem,)).fetchone()
                cutoff = date.fromisoformat(newest) - timedelta(days=detail_days) if newest else None
                victims = con.execute("SELECT run_id, members_file FROM runs WHERE rule_stem = ? AND as_of < ? "
                                      "AND members_file IS NOT NULL ORDER BY run_id",
                                      (rule_stem, cutoff.isoformat())).fetchall() if cutoff else []
                con.executemany("UPDATE runs SET members_file = NULL WHERE run_id = ?", [(r,) for r, _ in victims])
                named = {f for (f,) in con.execute("SELECT members_file FROM runs WHERE members_file IS NOT NULL")}
                orphans, errors = 0, []
                if self.members_dir.is_dir():
                    for p in self.members_dir.iterdir():
                        rel = f"{MEMBERS_DIR}/{p.name}"
                        leftover = p.name.startswith(".run-") and p.name.endswith(".tmp")
                        if (leftover or (p.name.startswith("run-") and p.suffix == ".parquet")) and rel not in named \
                                and rel not in {f for _, f in victims}:
                            try:
                                p.unlink()
                                orphans += 1
                            except OSError as e:
                                errors.append(f"{p}: {e.strerror or e}")
                con.execute("COMMIT")
            except BaseException:
                con.execute("ROLLBACK")
                raise
        for _, rel in victims:
            try:
                (self.out / rel).unlink(missing_ok=True)
            except OSError as e:
                errors.append(f"{self.out / rel}: {e.strerror or e}")
        return PrunedDetail(tuple(r for r, _ in victims), cutoff, detail_days, orphans, tuple(errors))

    def _upgrade(self, con: sqlite3.Connection) -> str | None:
        """Bring the file to `HISTORY_SCHEMA` in one transaction (another writer waits for it, then
        finds nothing to do). A new file gets the tables. An older one is first copied to
        `history.sqlite.v<N>-backup` (atomically; kept), then each run's members move from the old
        `rows` table to a member file, the watchlists to `watchlist`, `rows` is dropped, and the
        file is vacuumed. Returns a message for the user when a migration happened."""
        con.execute("BEGIN IMMEDIATE")
        try:
            version = con.execute("PRAGMA user_version").fetchone()[0]
            if version >= HISTORY_SCHEMA:
                con.execute("COMMIT")
                return None
            has_rows = con.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'rows'").fetchone()
            if not has_rows:  # a new file
                for statement in _TABLES.split(";"):
                    con.execute(statement)
                for statement in _INDEXES:
                    con.execute(statement)
                con.execute(f"PRAGMA user_version = {HISTORY_SCHEMA}")
                con.execute("COMMIT")
                return None
            backup = self._backup(con, version)
            runs = self._migrate_rows(con)
            con.execute(f"PRAGMA user_version = {HISTORY_SCHEMA}")
            con.execute("COMMIT")
        except BaseException:
            if con.in_transaction:
                con.execute("ROLLBACK")
            raise
        try:
            con.execute("VACUUM")  # give back the old rows' pages; a busy file keeps them (harmless)
        except sqlite3.OperationalError:
            pass
        return (f"migrated the run history {self.path} to the schema {HISTORY_SCHEMA} layout ({runs} runs; every "
                f"member in {self.members_dir}/, watchlists in SQLite); the old file is kept as {backup}")

    def _backup(self, con: sqlite3.Connection, version: int) -> Path:
        from screener.atomic import atomic_path

        backup = self.path.with_name(f"{HISTORY_FILE}.v{version}-backup")
        n = 1
        while backup.exists():
            n += 1
            backup = self.path.with_name(f"{HISTORY_FILE}.v{version}-backup-{n}")
        # copied through a second connection: it reads the last committed state (the caller holds
        # the write lock, so that is the file as it was), where the writing one would wait on itself
        with atomic_path(backup) as tmp, closing(sqlite3.connect(self.path, timeout=30)) as src, \
                closing(sqlite3.connect(tmp)) as dst:
            src.backup(dst)
        return backup

    def _migrate_rows(self, con: sqlite3.Connection) -> int:
        """Inside the upgrade's transaction: the old `rows` table to member files and `watchlist`."""
        have = {row[1] for row in con.execute("PRAGMA table_info(runs)")}
        for name in _ADDED_COLUMNS["runs"]:
            if name not in have:
                con.execute(f"ALTER TABLE runs ADD COLUMN {name} {'TEXT' if name == 'members_file' else 'INTEGER'}")
        have_rows = {row[1] for row in con.execute("PRAGMA table_info(rows)")}
        select = ", ".join(c if c in have_rows else f"NULL AS {c}" for c in _MEMBER_COLUMNS)
        con.execute(_TABLES.split(";")[1])
        for statement in _INDEXES:
            con.execute(statement)
        runs = con.execute("SELECT run_id, rule_stem, as_of FROM runs ORDER BY run_id").fetchall()
        for run_id, stem, as_of in runs:
            rows = con.execute(f"SELECT {select} FROM rows WHERE run_id = ? ORDER BY symbol", (run_id,)).fetchall()
            frame = _frame_of_stored(rows)
            relative = self._write_members(run_id, stem, date.fromisoformat(as_of), frame)
            con.execute("UPDATE runs SET members_file = ? WHERE run_id = ?", (relative, run_id))
            newer = ", ".join(c if c in have_rows else "NULL" for c in ("group_rank", "pinned", "pin_reason", "reason"))
            con.execute(f"INSERT INTO watchlist ({', '.join(_WATCHLIST_COLUMNS)}) SELECT run_id, symbol, name, passed, "
                        f"rank, score, failed, missing, components, {newer} FROM rows WHERE run_id = ? AND included",
                        (run_id,))
        con.execute("DROP TABLE rows")
        con.execute("DROP INDEX IF EXISTS rows_watchlist")
        return len(runs)

    # -- reading -------------------------------------------------------------------------------

    def previous(self, rule_stem: str, before: date):
        """P for a run as of `before`: the watchlist of the run of `rule_stem` with the newest
        as-of strictly before it (ties: the highest run id), as `screener.engine.screen.Previous`;
        None when there is none (or no history yet). Reads that one run's watchlist, nothing else."""
        from screener.engine.screen import Previous

        con = self._reader()
        if con is None:
            return None
        with closing(con), self._reading():
            hit = con.execute(PREVIOUS_SQL, (rule_stem, before.isoformat())).fetchone()
            if hit is None:
                return None
            symbols = frozenset(s for (s,) in con.execute(WATCHLIST_SQL, (hit[0],)))
        return Previous(as_of=date.fromisoformat(hit[1]), symbols=symbols, run_id=hit[0])

    def at_or_before(self, rule_stem: str, as_of: date | str, recorded_before: int | None = None) -> Run | None:
        """What a run as of `as_of` compares its changes against: the run of `rule_stem` with the
        newest as-of <= `as_of` (ties: the highest run id) among those recorded before run
        `recorded_before` (default: all of them, for a run not recorded yet)."""
        day = as_of if isinstance(as_of, str) else as_of.isoformat()
        con = self._reader()
        if con is None:
            return None
        with closing(con), self._reading():
            hit = con.execute(AT_OR_BEFORE_SQL, (rule_stem, day, recorded_before or _NO_RUN_ID_ABOVE)).fetchone()
            return self._run(con, hit[0]) if hit else None

    @staticmethod
    def _run(con: sqlite3.Connection, run_id: int) -> Run | None:
        row = con.execute(_RUN_SELECT + "WHERE r.run_id = ?", (run_id,)).fetchone()
        return Run(*row) if row else None

    def runs(self, rule_stem: str) -> list[Run]:
        """Every run of a screen, oldest first; [] when there is no history yet."""
        con = self._reader()
        if con is None:
            return []
        with closing(con), self._reading():
            cur = con.execute(_RUN_SELECT + "WHERE r.rule_stem = ? ORDER BY r.run_id", (rule_stem,))
            return [Run(*row) for row in cur.fetchall()]

    def rows(self, run_id: int, also: list[str] | None = None) -> Members:
        """A run's recorded members by symbol. With `also`, only its watchlist plus the symbols in
        `also`: all that `compare` reads, when `also` is the other run's watchlist. The watchlist
        comes from SQLite, the rest from the run's member file (only the rows asked for); when
        that file was pruned the result is marked incomplete (`Members.complete`)."""
        con = self._reader()
        out = Members()
        if con is None:
            return out
        with closing(con), self._reading():
            cols = ", ".join(_READ_COLUMNS)
            for row in con.execute(f"SELECT {cols} FROM watchlist WHERE run_id = ?", (run_id,)):
                out[row[0]] = _member(row, included=True)
            wanted = None if also is None else [s for s in also if s not in out]
            if wanted == []:
                return out
            legacy = con.execute("SELECT 1 FROM sqlite_master WHERE type IN ('table', 'view') AND name = 'rows'"
                                 ).fetchone() or con.execute("SELECT 1 FROM sqlite_temp_master WHERE name = 'rows'"
                                                              ).fetchone()
            if legacy:  # an older file read as it is: every member is in its `rows` table
                sql = f"SELECT {cols} FROM rows WHERE run_id = ? AND NOT included"
                cur = (con.execute(sql, (run_id,)) if wanted is None else
                       con.execute(sql + " AND symbol IN (SELECT value FROM json_each(?))", (run_id, json.dumps(wanted))))
                for row in cur:
                    out[row[0]] = _member(row, included=False)
                return out
            (relative,) = con.execute("SELECT members_file FROM runs WHERE run_id = ?", (run_id,)).fetchone() or (None,)
        if relative is None:
            out.complete = False
            return out
        try:
            for row in _read_members(self.out / relative, wanted):
                out[row[0]] = _member(row, included=False)
        except FileNotFoundError:  # pruned between the two reads, or removed by hand
            out.complete = False
        return out

    def _reading(self):
        """Turn a damaged file met while reading into `UnreadableHistory` (SQLite says so only
        when a damaged page is read, not when the file is opened)."""
        return _DamageGuard(self.path)

    def diff(self, rule_stem: str, before: int | None = None, after: int | None = None) -> Changes:
        """What entered, left and moved between two runs. By default `after` is the run recorded
        last and `before` what it compared against when it was made: the newest as-of <= its
        as-of among the runs recorded before it (DESIGN: a run's changes). Reads the two
        watchlists and, of each run's other members, only those in the other watchlist.

        Raises `InputError` when the runs do not exist or belong to another screen."""
        runs = {r.run_id: r for r in self.runs(rule_stem)}
        order = sorted(runs)
        if after is None:
            after = order[-1] if order else None
        if before is None and after is not None and after in runs:
            base = self.at_or_before(rule_stem, runs[after].as_of, recorded_before=after)
            before = base.run_id if base else None
        for rid in (before, after):
            if rid is not None and rid not in runs:
                known = ", ".join(str(r) for r in order[-10:]) or "none yet"
                raise InputError([Problem("unknown-run", f"no run {rid} of `{rule_stem}` in {self.path}",
                                          hint=f"recent runs: {known} (see `screener history {rule_stem}`)")])
        if after is None:
            return Changes()
        if before is None:
            return Changes(after=runs[after])
        old_watch = [s for s, in self._watchlist(before)]
        new_watch = [s for s, in self._watchlist(after)]
        old = self.rows(before, also=new_watch)
        new = self.rows(after, also=old_watch)
        return compare(old, new, runs[before], runs[after])

    def _watchlist(self, run_id: int) -> list[tuple]:
        con = self._reader()
        if con is None:
            return []
        with closing(con), self._reading():
            return con.execute(WATCHLIST_SQL, (run_id,)).fetchall()


class _DamageGuard:
    def __init__(self, path: Path):
        self.path = path

    def __enter__(self):
        return self

    def __exit__(self, kind, e, tb):
        if isinstance(e, sqlite3.DatabaseError) and not isinstance(e, sqlite3.OperationalError):
            raise _unreadable(self.path, e) from None
        if isinstance(e, sqlite3.OperationalError) and "malformed" in str(e):
            raise _unreadable(self.path, e) from None
        return False


def _member(row: tuple, included: bool) -> dict:
    s, n, p, rk, sc, f, m, g, pn, pr, why = row
    return {"symbol": s, "name": n, "included": included, "passed": bool(p), "rank": rk, "score": sc,
            "failed": _names(f), "missing": _names(m), "group_rank": g,
            "pinned": None if pn is None else bool(pn), "pin_reason": pr, "reason": why}


def _names(value) -> list:
    """A list of filter names: JSON text in SQLite, a list in a member file."""
    if value is None:
        return []
    return json.loads(value) if isinstance(value, str) else list(value)


def _read_members(path: Path, symbols: list[str] | None) -> list[tuple]:
    """The excluded members of a member file (all, or those in `symbols`), in `_READ_COLUMNS` order."""
    import polars as pl

    if not path.exists():
        raise FileNotFoundError(path)
    scan = pl.scan_parquet(path).filter(~pl.col("included"))
    if symbols is not None:
        scan = scan.filter(pl.col("symbol").is_in(pl.Series(symbols, dtype=pl.String).implode()))
    frame = scan.select(pl.col(c) for c in _READ_COLUMNS).collect()
    return frame.rows()


def _read_as_current(con: sqlite3.Connection) -> None:
    """Let a reader query an older file with today's columns, writing nothing to it: TEMP views
    (temp objects shadow the file's tables for this connection only) add the missing columns as
    nulls, and `watchlist` is the included rows of the old `rows` table."""
    for table, added in _ADDED_COLUMNS.items():
        have = {row[1] for row in con.execute(f"PRAGMA main.table_info({table})")}
        missing = [name for name in added if name not in have]
        if have and missing:
            nulls = ", ".join(f"NULL AS {name}" for name in missing)
            con.execute(f"CREATE TEMP VIEW {table} AS SELECT *, {nulls} FROM main.{table}")
    if con.execute("SELECT 1 FROM main.sqlite_master WHERE type = 'table' AND name = 'rows'").fetchone():
        con.execute(f"CREATE TEMP VIEW watchlist AS SELECT {', '.join(_WATCHLIST_COLUMNS)} FROM rows WHERE included")


def _verdict_columns(v):
    """The verdict frame with the columns the history stores, those an older engine lacks as nulls."""
    import polars as pl

    defaults = {"group_rank": pl.lit(None, dtype=pl.Int64), "pinned": pl.lit(False),
                "pin_reason": pl.lit(None, dtype=pl.String), "reason": pl.lit(None, dtype=pl.String)}
    return v.with_columns(expr.alias(name) for name, expr in defaults.items() if name not in v.columns)


def member_frame(result):
    """Every member of a result as a member file stores it, sorted by symbol: each score
    component's normalised value in a column `score.<name>` (as `screener.screen` names them),
    `pinned` false rather than null."""
    import polars as pl

    v = _verdict_columns(result.verdicts)
    names = [s.name for s in result.screen.scores]
    components = [pl.col("components").struct.field(n).cast(pl.Float64).alias(f"score.{n}") for n in names]
    return (v.sort("symbol")
            .select("symbol", "name", "included", "passed", pl.col("rank").cast(pl.Int64),
                    pl.col("score").cast(pl.Float64), pl.col("failed").cast(pl.List(pl.String)),
                    pl.col("missing").cast(pl.List(pl.String)), pl.col("group_rank").cast(pl.Int64),
                    pl.col("pinned").fill_null(False), pl.col("pin_reason").cast(pl.String),
                    pl.col("reason").cast(pl.String), *components))


def _frame_of_stored(rows: list[tuple]):
    """Rows of the old `rows` table (in `_MEMBER_COLUMNS` order, JSON text for the lists and
    components) as a member frame."""
    import polars as pl

    decoded = {}

    def names(text):
        if text not in decoded:
            decoded[text] = json.loads(text) if text else []
        return decoded[text]

    comps = [json.loads(r[8] or "{}") for r in rows]
    keys = list(dict.fromkeys(k for c in comps for k in c))
    frame = pl.DataFrame(
        {"symbol": [r[0] for r in rows], "name": [r[1] for r in rows], "included": [bool(r[2]) for r in rows],
         "passed": [bool(r[3]) for r in rows], "rank": [r[4] for r in rows], "score": [r[5] for r in rows],
         "failed": [names(r[6]) for r in rows], "missing": [names(r[7]) for r in rows],
         "group_rank": [r[9] for r in rows], "pinned": [bool(r[10]) for r in rows],
         "pin_reason": [r[11] for r in rows], "reason": [r[12] for r in rows],
         **{f"score.{k}": [None if c.get(k) is None else float(c[k]) for c in comps] for k in keys}},
        schema={"symbol": pl.String, "name": pl.String, "included": pl.Boolean, "passed": pl.Boolean,
                "rank": pl.Int64, "score": pl.Float64, "failed": pl.List(pl.String), "missing": pl.List(pl.String),
                "group_rank": pl.Int64, "pinned": pl.Boolean, "pin_reason": pl.String, "reason": pl.String,
                **{f"score.{k}": pl.Float64 for k in keys}})
    return frame


def _watchlist_rows(members) -> list[tuple]:
    """The `watchlist` table's values of a member frame's included rows (every column but run_id):
    JSON text for the lists and the components (an object by name, as `sqlite3`'s json functions read)."""
    import polars as pl

    out = []
    for r in members.filter(pl.col("included")).iter_rows(named=True):
        comps = {k[len("score."):]: x for k, x in r.items() if k.startswith("score.")}
        out.append((r["symbol"], r["name"], int(r["passed"]), r["rank"], r["score"],
                    json.dumps(r["failed"] or [], ensure_ascii=False), json.dumps(r["missing"] or [], ensure_ascii=False),
                    json.dumps(comps, ensure_ascii=False), r["group_rank"], int(bool(r["pinned"])), r["pin_reason"],
                    r["reason"]))
    return out


def rows_of(result, also: list[str] | None = None) -> dict[str, dict]:
    """A result's members in the shape the history stores (for diffs before recording). With
    `also`, only the watchlist plus those symbols (see `History.rows`)."""
    import polars as pl

    v = result.verdicts
    if also is not None:
        v = v.filter(pl.col("included") | pl.col("symbol").is_in(pl.Series(list(also), dtype=pl.String).implode()))
    v = _verdict_columns(v).select("symbol", "name", "included", "passed", "rank", "score", "failed", "missing",
                                   "components", "group_rank", "pinned", "pin_reason", "reason")
    out = {}
    for r in v.to_dicts():
        r["components"] = r["components"] or {}
        out[r["symbol"]] = r
    return out


def compare(old: dict[str, dict], new: dict[str, dict], before: Run | None = None, after: Run | None = None,
            top: int | None = None) -> Changes:
    """Entered, left and moved between two sets of recorded rows, each with its reason.

    The engine words verdicts, not this function: a leaver's reason is the new run's `reason`
    for it ("failed growing (missing data: growing)", "rank 12, below top 10", "excluded by
    pin: ..."), an entrant's is the engine's when it is in other than plainly by rank ("pinned:
    ...", "kept by the buffer (rank 12, keep 15)"), else what changed: "new in the universe",
    "now listed", "now passes growing", "rose into the top 10". Rows recorded before the engine
    stored its reasons (an older history) get the old wording. `moved` says how the rank and the
    score moved.

    `top` is the new run's top N (default: `after.top`). Only rows included on either side are
    read, so each side may be cut to its watchlist plus the other side's (`History.rows(also=)`,
    `rows_of(also=)`): a whole-market diff then touches hundreds of rows, not millions."""
    entered, left, moved = [], [], []
    top = top if top is not None else (after.top if after else None)
    old_known, new_known = getattr(old, "complete", True), getattr(new, "complete", True)
    for sym, n in new.items():
        o = old.get(sym)
        if n["included"] and not (o and o["included"]):
            reason = (_entered_reason(o, n, top) if o is not None or old_known or n.get("reason")
                      else _PRUNED.format(run=before.run_id if before else "before"))
            entered.append({"symbol": sym, "name": n["name"], "rank": n["rank"], "score": _round(n["score"]),
                            "reason": reason})
        elif n["included"] and o and o["included"] and o["rank"] != n["rank"] and None not in (o["rank"], n["rank"]):
            moved.append({"symbol": sym, "name": n["name"], "from_rank": o["rank"], "to_rank": n["rank"],
                          "change": o["rank"] - n["rank"], "from_score": _round(o["score"]),
                          "to_score": _round(n["score"]), "reason": _move_reason(o, n)})
    for sym, o in old.items():
        if not o["included"]:
            continue
        n = new.get(sym)
        if n is not None and n["included"]:
            continue
        reason = (_left_reason(n, top) if n is not None or new_known
                  else _PRUNED.format(run=after.run_id if after else "after"))
        left.append({"symbol": sym, "name": o["name"], "from_rank": o["rank"], "rank": n["rank"] if n else None,
                     "failed": n["failed"] if n else [], "reason": reason})
    entered.sort(key=lambda e: (e["rank"] is None, e["rank"] or 0, e["symbol"]))
    left.sort(key=lambda e: (e["from_rank"] is None, e["from_rank"] or 0, e["symbol"]))
    moved.sort(key=lambda e: (-abs(e["change"]), e["to_rank"], e["symbol"]))
    return Changes(entered, left, moved, before, after)


#: the reason given when the member detail that would say it was pruned (`[history] detail_days`)
_PRUNED = "not known: the member detail of run {run} was pruned"


def _entered_reason(o: dict | None, n: dict, top: int | None) -> str:
    if n.get("reason"):  # in other than plainly by rank: the engine says why (pinned, kept by the buffer)
        return n["reason"]
    if o is None:
        return "new in the universe"
    if o["failed"] == ["unlisted"]:
        return "now listed"
    cleared = [f for f in o["failed"] if f not in n["failed"]]
    if cleared:
        parts = []
        passes = [f for f in cleared if f != "pin"]
        if passes:
            parts.append("now passes " + ", ".join(passes))
        if "pin" in cleared:
            parts.append("no longer excluded by a pin")
        return "; ".join(parts)
    if top is None:
        return "now ranked"
    if n.get("group_rank") is not None:
        return f"rose into the top {top} of its group (rank {n['group_rank']} in it)"
    return f"rose into the top {top}"


def _left_reason(n: dict | None, top: int | None) -> str:
    if n is None:
        return "no longer in the universe"
    if n.get("reason"):
        return n["reason"]
    # rows recorded before the engine stored its reasons
    if n["failed"] == ["unlisted"]:
        return "unlisted"
    if n["failed"]:
        missing = [f for f in n["failed"] if f in n["missing"]]
        return "fails " + ", ".join(n["failed"]) + (f" (missing data: {', '.join(missing)})" if missing else "")
    return f"fell below the top {top} (rank {n['rank']})" if top else "not ranked"


def _move_reason(o: dict, n: dict) -> str:
    direction = "up" if n["rank"] < o["rank"] else "down"
    steps = abs(o["rank"] - n["rank"])
    return f"{direction} {steps} (score {_fmt(o['score'])} -> {_fmt(n['score'])})"


def _round(v):
    return None if v is None else round(v, 6)


def _fmt(v) -> str:
    return "—" if v is None else f"{v:.3f}"
