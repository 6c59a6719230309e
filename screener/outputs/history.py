"""Run history: every run of a screen recorded in one SQLite file, `<out>/history.sqlite`.

Why SQLite: it is in the standard library, every write is one transaction (a run killed at any
moment leaves the history as it was before that run, never half a run), readers and a writer
can share it, and analysts can query it with ordinary tools (`sqlite3`, DuckDB, pandas):

    runs(run_id, rule_stem, rule_path, rule_name, rule_sha256, rule_text, data_folder,
         data_fingerprint, data_notice, as_of, generated_at, inputs_key, identical_to,
         members, passed, top, previous_run_id, engine_version)
    rows(run_id, symbol, name, included, passed, rank, score, failed, missing, components,
         group_rank, pinned, pin_reason, reason)

`failed`, `missing` and `components` are JSON text. Every member is recorded, included or not,
so a diff can say why a security left: `reason` is the engine's own words for its verdict (why
it is out, or why it is in when not plainly by rank: pinned, kept by the buffer).
`previous_run_id` is the run whose watchlist a buffered rule (`keep`) compared against (P);
`engine_version` is `screener.engine.ENGINE_VERSION` when the run was scored.

Schema versions (`PRAGMA user_version`): 0/1 the first layout; 2 adds the columns after `top`
and after `components`, and the index on (rule_stem, as_of, run_id). An older file is migrated
in place, in one transaction, by the first run that records into it: its old runs get nulls
there. Readers (`history`, `explain`, `test`, `run --no-export`) read an older file as it is and
never write to it.

Lookups by date never read unrelated runs: `previous` (P: newest as-of strictly before D) and
`at_or_before` (what a run's changes compare against: newest as-of <= D among the runs recorded
before it) each walk the (rule_stem, as_of, run_id) index backwards and stop at the first hit.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
from contextlib import closing
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timezone
from pathlib import Path

from screener.problems import InputError, Problem

HISTORY_FILE = "history.sqlite"
HISTORY_SCHEMA = 2  # PRAGMA user_version of a file this module wrote or migrated

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
    engine_version INTEGER
);
CREATE TABLE IF NOT EXISTS rows (
    run_id INTEGER NOT NULL REFERENCES runs(run_id),
    symbol TEXT NOT NULL,
    name TEXT NOT NULL,
    included INTEGER NOT NULL,
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

#: columns schema 2 added, as `ALTER TABLE ... ADD COLUMN` appends them to an older file
_ADDED_COLUMNS = {
    "runs": (("previous_run_id", "INTEGER REFERENCES runs(run_id)"), ("engine_version", "INTEGER")),
    "rows": (("group_rank", "INTEGER"), ("pinned", "INTEGER"), ("pin_reason", "TEXT"), ("reason", "TEXT")),
}

_INDEXES = (
    "CREATE INDEX IF NOT EXISTS runs_by_rule ON runs(rule_stem, run_id)",
    "CREATE INDEX IF NOT EXISTS runs_by_rule_as_of ON runs(rule_stem, as_of, run_id)",
    # a run's watchlist without reading its excluded members (a whole-market run has a million)
    "CREATE INDEX IF NOT EXISTS rows_watchlist ON rows(run_id, symbol) WHERE included",
)

_ROW_COLUMNS = ("run_id", "symbol", "name", "included", "passed", "rank", "score", "failed", "missing", "components",
                "group_rank", "pinned", "pin_reason", "reason")

_RUN_SELECT = (
    "SELECT r.run_id, r.rule_stem, r.rule_name, r.rule_sha256, r.data_fingerprint, r.as_of, r.generated_at, "
    "r.identical_to, r.members, r.passed, (SELECT COUNT(*) FROM rows w WHERE w.run_id = r.run_id AND w.included), "
    "r.top, r.previous_run_id, r.engine_version FROM runs r ")

#: P: the newest as-of strictly before D, ties to the highest run id
PREVIOUS_SQL = ("SELECT run_id, as_of FROM runs WHERE rule_stem = ? AND as_of < ? "
                "ORDER BY as_of DESC, run_id DESC LIMIT 1")
#: what a run's changes compare against: the newest as-of <= D among the runs recorded before it
AT_OR_BEFORE_SQL = ("SELECT run_id FROM runs WHERE rule_stem = ? AND as_of <= ? AND run_id < ? "
                    "ORDER BY as_of DESC, run_id DESC LIMIT 1")
WATCHLIST_SQL = "SELECT symbol FROM rows WHERE run_id = ? AND included"
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


class History:
    """The history file of one output folder."""

    def __init__(self, out_dir: Path):
        self.path = Path(out_dir) / HISTORY_FILE

    def _connect(self, create: bool) -> sqlite3.Connection:
        """A connection in autocommit mode (transactions are explicit). `create` (a writer): the
        file is made or migrated to `HISTORY_SCHEMA` first. Otherwise (a reader) FileNotFoundError
        when there is no file, and an older file is read as it is, its newer columns null.
        `InputError` when the file is not a readable history."""
        if not create and not self.path.exists():
            raise FileNotFoundError(self.path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        con = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        try:
            if create:
                con.execute("PRAGMA journal_mode=WAL")  # persistent: readers find it set
                con.execute("PRAGMA synchronous=FULL")
            if con.execute("PRAGMA user_version").fetchone()[0] < HISTORY_SCHEMA:
                # a writer migrates the file; a reader reads it as it is and writes nothing
                if create:
                    _migrate(con)
                elif not con.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'runs'").fetchone():
                    # a file another process has just created and not yet given its tables (or an
                    # empty one): no run is recorded in it yet
                    con.close()
                    raise FileNotFoundError(self.path)
                else:
                    _read_as_current(con)
        except sqlite3.DatabaseError as e:
            con.close()
            if isinstance(e, sqlite3.OperationalError):  # the file may be fine: permissions, a full disk, a lock
                if "locked" in str(e):
                    raise
                raise InputError([Problem("history-unavailable", f"cannot open the run history: {e}", str(self.path),
                                          hint="check that the output folder is readable and writable")]) from None
            raise UnreadableHistory([Problem("unreadable-history", f"the run history is not readable: {e}",
                                             str(self.path), hint="restore a backup, or move the file aside: the "
                                             "next `screener run` starts a new history")]) from None
        return con

    def set_aside_if_unreadable(self) -> None:
        """Before a run writes: when the file exists but is not a readable history (not SQLite,
        or damaged), move it and its -wal/-shm files aside to `history.sqlite.unreadable-<UTC
        time>` and raise `InputError` naming the new name. It is never replaced silently: the run
        stops, and the next one starts a new history."""
        if not self.path.exists():
            return
        try:
            self._connect(create=False).close()
        except FileNotFoundError:
            return
        except UnreadableHistory as e:
            stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
            aside = self.path.with_name(f"{self.path.name}.unreadable-{stamp}")
            for suffix in ("", "-wal", "-shm"):
                src = self.path.with_name(self.path.name + suffix)
                if src.exists():
                    os.replace(src, aside.with_name(aside.name + suffix))
            (problem,) = e.problems
            raise InputError([Problem("unreadable-history", f"{problem.message}; moved it aside to {aside}",
                                      str(self.path), hint="the next run starts a new history; restore the file "
                                      "from a backup instead if you have one")]) from None

    def record(self, result, generated_at: datetime, config_fingerprint: str = "") -> tuple[int, int | None]:
        """Record one run, all members, in one transaction. Returns (run_id, identical_to): the
        earlier run with exactly the same inputs (`inputs_key`), if any."""
        from screener.engine import ENGINE_VERSION

        screen = result.screen
        key = inputs_key(result, config_fingerprint)
        rows = _stored_rows(result)
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
                con.executemany(f"INSERT INTO rows ({', '.join(_ROW_COLUMNS)}) "
                                f"VALUES ({', '.join('?' * len(_ROW_COLUMNS))})", [(run_id, *row) for row in rows])
                con.execute("COMMIT")
            except BaseException:
                con.execute("ROLLBACK")
                raise
        return run_id, identical

    def previous(self, rule_stem: str, before: date):
        """P for a run as of `before`: the watchlist of the run of `rule_stem` with the newest
        as-of strictly before it (ties: the highest run id), as `screener.engine.screen.Previous`;
        None when there is none (or no history yet). Reads that one run's watchlist, nothing else."""
        from screener.engine.screen import Previous

        try:
            con = self._connect(create=False)
        except FileNotFoundError:
            return None
        with closing(con):
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
        try:
            con = self._connect(create=False)
        except FileNotFoundError:
            return None
        with closing(con):
            hit = con.execute(AT_OR_BEFORE_SQL, (rule_stem, day, recorded_before or _NO_RUN_ID_ABOVE)).fetchone()
            return self._run(con, hit[0]) if hit else None

    @staticmethod
    def _run(con: sqlite3.Connection, run_id: int) -> Run | None:
        row = con.execute(_RUN_SELECT + "WHERE r.run_id = ?", (run_id,)).fetchone()
        return Run(*row) if row else None

    def rows(self, run_id: int, also: list[str] | None = None) -> dict[str, dict]:
        """A run's recorded members by symbol. With `also`, only its watchlist plus the symbols in
        `also`: all that `compare` reads, when `also` is the other run's watchlist."""
        return self._rows(run_id, also)

    def runs(self, rule_stem: str) -> list[Run]:
        """Every run of a screen, oldest first; [] when there is no history yet."""
        try:
            con = self._connect(create=False)
        except FileNotFoundError:
            return []
        with closing(con):
            cur = con.execute(_RUN_SELECT + "WHERE r.rule_stem = ? ORDER BY r.run_id", (rule_stem,))
            return [Run(*row) for row in cur.fetchall()]

    def _rows(self, run_id: int, also: list[str] | None = None) -> dict[str, dict]:
        with closing(self._connect(create=False)) as con:
            sql = ("SELECT symbol, name, included, passed, rank, score, failed, missing, group_rank, pinned, "
                   "pin_reason, reason FROM rows WHERE run_id = ?")
            if also is None:
                cur = con.execute(sql, (run_id,))
            else:
                cur = con.execute(sql + " AND (included OR symbol IN (SELECT value FROM json_each(?)))",
                                  (run_id, json.dumps(list(also))))
            decoded: dict[str, list] = {}  # a few distinct lists repeat across a million rows

            def names(text: str) -> list:
                if text not in decoded:
                    decoded[text] = json.loads(text)
                return list(decoded[text])

            return {s: {"symbol": s, "name": n, "included": bool(i), "passed": bool(p), "rank": rk, "score": sc,
                        "failed": names(f), "missing": names(m), "group_rank": g,
                        "pinned": None if pn is None else bool(pn), "pin_reason": pr, "reason": why}
                    for s, n, i, p, rk, sc, f, m, g, pn, pr, why in cur.fetchall()}

    def diff(self, rule_stem: str, before: int | None = None, after: int | None = None) -> Changes:
        """What entered, left and moved between two runs. By default `after` is the run recorded
        last and `before` what it compared against when it was made: the newest as-of <= its
        as-of among the runs recorded before it (DESIGN: a run's changes).

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
        return compare(self._rows(before), self._rows(after), runs[before], runs[after])


def _read_as_current(con: sqlite3.Connection) -> None:
    """Let a reader query an older file with today's columns, writing nothing to it: a TEMP view
    per table (temp objects shadow the file's tables for this connection only) adds the missing
    columns as nulls."""
    for table, added in _ADDED_COLUMNS.items():
        have = {row[1] for row in con.execute(f"PRAGMA main.table_info({table})")}
        missing = [name for name, _ in added if name not in have]
        if have and missing:
            nulls = ", ".join(f"NULL AS {name}" for name in missing)
            con.execute(f"CREATE TEMP VIEW {table} AS SELECT *, {nulls} FROM main.{table}")


def _migrate(con: sqlite3.Connection) -> None:
    """Bring a history file to `HISTORY_SCHEMA` in one transaction: create the tables of a new
    file, add the newer columns to an older one (its runs get nulls there), add the indexes.
    Another process migrating at the same moment waits for the write lock, then finds nothing to do."""
    con.execute("BEGIN IMMEDIATE")
    try:
        if con.execute("PRAGMA user_version").fetchone()[0] < HISTORY_SCHEMA:
            for statement in _TABLES.split(";"):
                con.execute(statement)
            for table, added in _ADDED_COLUMNS.items():
                have = {row[1] for row in con.execute(f"PRAGMA table_info({table})")}
                for name, decl in added:
                    if name not in have:
                        con.execute(f"ALTER TABLE {table} ADD COLUMN {name} {decl}")
            for statement in _INDEXES:
                con.execute(statement)
            con.execute(f"PRAGMA user_version = {HISTORY_SCHEMA}")
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise


def _verdict_columns(v):
    """The verdict frame with the columns the history stores, those an older engine lacks as nulls."""
    import polars as pl

    defaults = {"group_rank": pl.lit(None, dtype=pl.Int64), "pinned": pl.lit(False),
                "pin_reason": pl.lit(None, dtype=pl.String), "reason": pl.lit(None, dtype=pl.String)}
    return v.with_columns(expr.alias(name) for name, expr in defaults.items() if name not in v.columns)


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


def _stored_rows(result) -> list[tuple]:
    """The `rows` table's values for a result (every column but run_id, in `_ROW_COLUMNS` order):
    JSON text for the lists and components, made as columns (a list of filter names is encoded
    once per distinct list)."""
    import polars as pl

    v = _verdict_columns(result.verdicts)
    encoded = {}
    for col in ("failed", "missing"):
        distinct = v.select(pl.col(col).unique())[col].to_list()
        encoded[col] = pl.DataFrame({col: distinct, f"_{col}_json": [json.dumps(x, ensure_ascii=False) for x in distinct]},
                                    schema={col: pl.List(pl.String), f"_{col}_json": pl.String})
    components = (pl.col("components").struct.json_encode() if result.screen.scores
                  else pl.lit("{}"))
    table = (v.join(encoded["failed"], on="failed", how="left", nulls_equal=True)
             .join(encoded["missing"], on="missing", how="left", nulls_equal=True)
             .sort("symbol")
             .select("symbol", "name", pl.col("included").cast(pl.Int64), pl.col("passed").cast(pl.Int64), "rank",
                     "score", "_failed_json", "_missing_json", components.alias("_components"), "group_rank",
                     pl.col("pinned").fill_null(False).cast(pl.Int64), "pin_reason", "reason"))
    return table.rows()


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
    for sym, n in new.items():
        o = old.get(sym)
        if n["included"] and not (o and o["included"]):
            entered.append({"symbol": sym, "name": n["name"], "rank": n["rank"], "score": _round(n["score"]),
                            "reason": _entered_reason(o, n, top)})
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
        left.append({"symbol": sym, "name": o["name"], "from_rank": o["rank"], "rank": n["rank"] if n else None,
                     "failed": n["failed"] if n else [], "reason": _left_reason(n, top)})
    entered.sort(key=lambda e: (e["rank"] is None, e["rank"] or 0, e["symbol"]))
    left.sort(key=lambda e: (e["from_rank"] is None, e["from_rank"] or 0, e["symbol"]))
    moved.sort(key=lambda e: (-abs(e["change"]), e["to_rank"], e["symbol"]))
    return Changes(entered, left, moved, before, after)


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
