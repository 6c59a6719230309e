"""Run history: every run of a screen recorded in one SQLite file, `<out>/history.sqlite`.

Why SQLite: it is in the standard library, every write is one transaction (a run killed at any
moment leaves the history as it was before that run, never half a run), readers and a writer
can share it, and analysts can query it with ordinary tools (`sqlite3`, DuckDB, pandas):

    runs(run_id, rule_stem, rule_path, rule_name, rule_sha256, rule_text, data_folder,
         data_fingerprint, data_notice, as_of, generated_at, inputs_key, identical_to,
         members, passed, top)
    rows(run_id, symbol, name, included, passed, rank, score, failed, missing, components)

`failed`, `missing` and `components` are JSON text. Every member is recorded, included or not,
so a diff can say why a security left: which filter now fails, or that it fell below the top N.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from contextlib import closing
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from screener.problems import InputError, Problem

HISTORY_FILE = "history.sqlite"

_SCHEMA = """
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
    top INTEGER
);
CREATE INDEX IF NOT EXISTS runs_by_rule ON runs(rule_stem, run_id);
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
    PRIMARY KEY (run_id, symbol)
);
"""


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

    def to_dict(self) -> dict:
        return dict(self.__dict__)


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


def inputs_key(result, config_fingerprint: str = "") -> str:
    """What a run depends on: the rule text, the data, the date and the config's scoring knobs."""
    parts = [result.screen.sha256, result.snapshot.fingerprint, result.as_of.isoformat(), config_fingerprint]
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()[:32]


class History:
    """The history file of one output folder."""

    def __init__(self, out_dir: Path):
        self.path = Path(out_dir) / HISTORY_FILE

    def _connect(self, create: bool) -> sqlite3.Connection:
        if not create and not self.path.exists():
            raise FileNotFoundError(self.path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        con = sqlite3.connect(self.path, timeout=30)
        con.execute("PRAGMA journal_mode=WAL")
        con.execute("PRAGMA synchronous=FULL")
        con.executescript(_SCHEMA)
        return con

    def record(self, result, generated_at: datetime, config_fingerprint: str = "") -> tuple[int, int | None]:
        """Record one run, all members, in one transaction. Returns (run_id, identical_to): the
        earlier run with exactly the same inputs (rule text, data, as_of, config), if any."""
        screen = result.screen
        key = inputs_key(result, config_fingerprint)
        rows = _stored_rows(result)
        with closing(self._connect(create=True)) as con, con:
            prev = con.execute("SELECT run_id, identical_to FROM runs WHERE rule_stem = ? AND inputs_key = ? "
                               "ORDER BY run_id DESC LIMIT 1", (screen.stem, key)).fetchone()
            identical = (prev[1] or prev[0]) if prev else None
            cur = con.execute(
                "INSERT INTO runs (rule_stem, rule_path, rule_name, rule_sha256, rule_text, data_folder, "
                "data_fingerprint, data_notice, as_of, generated_at, inputs_key, identical_to, members, passed, top) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (screen.stem, screen.path, screen.name, screen.sha256, screen.text, str(result.snapshot.folder),
                 result.snapshot.fingerprint, result.snapshot.notice, result.as_of.isoformat(),
                 generated_at.isoformat(), key, identical, result.frame.height, int(result.frame["_passed"].sum()),
                 screen.top))
            run_id = cur.lastrowid
            con.executemany("INSERT INTO rows VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                            [(run_id, *row) for row in rows])
        return run_id, identical

    def latest(self, rule_stem: str) -> Run | None:
        runs = self.runs(rule_stem)
        return runs[-1] if runs else None

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
            cur = con.execute(
                "SELECT r.run_id, r.rule_stem, r.rule_name, r.rule_sha256, r.data_fingerprint, r.as_of, r.generated_at, "
                "r.identical_to, r.members, r.passed, (SELECT COUNT(*) FROM rows w WHERE w.run_id = r.run_id AND w.included), "
                "r.top FROM runs r WHERE r.rule_stem = ? ORDER BY r.run_id", (rule_stem,))
            return [Run(*row) for row in cur.fetchall()]

    def _rows(self, run_id: int, also: list[str] | None = None) -> dict[str, dict]:
        with closing(self._connect(create=False)) as con:
            sql = "SELECT symbol, name, included, passed, rank, score, failed, missing FROM rows WHERE run_id = ?"
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
                        "failed": names(f), "missing": names(m)}
                    for s, n, i, p, rk, sc, f, m in cur.fetchall()}

    def diff(self, rule_stem: str, before: int | None = None, after: int | None = None) -> Changes:
        """What entered, left and moved between two runs (default: the newest against the one before).

        Raises `InputError` when the runs do not exist or belong to another screen."""
        runs = {r.run_id: r for r in self.runs(rule_stem)}
        order = sorted(runs)
        if after is None:
            after = order[-1] if order else None
        if before is None and after is not None:
            earlier = [r for r in order if r < after]
            before = earlier[-1] if earlier else None
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


def rows_of(result, also: list[str] | None = None) -> dict[str, dict]:
    """A result's members in the shape the history stores (for diffs before recording). With
    `also`, only the watchlist plus those symbols (see `History.rows`)."""
    import polars as pl

    v = result.verdicts
    if also is not None:
        v = v.filter(pl.col("included") | pl.col("symbol").is_in(pl.Series(list(also), dtype=pl.String).implode()))
    v = v.select("symbol", "name", "included", "passed", "rank", "score", "failed", "missing",
                               "components")
    out = {}
    for r in v.to_dicts():
        r["components"] = r["components"] or {}
        out[r["symbol"]] = r
    return out


def _stored_rows(result) -> list[tuple]:
    """The `rows` table's values for a result: JSON text for the lists and components, made as
    columns (a list of filter names is encoded once per distinct list)."""
    import polars as pl

    v = result.verdicts
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
                     "score", "_failed_json", "_missing_json", components.alias("_components")))
    return table.rows()


def compare(old: dict[str, dict], new: dict[str, dict], before: Run | None = None, after: Run | None = None,
            top: int | None = None) -> Changes:
    """Entered, left and moved between two sets of recorded rows, each with its reason.
    `top` is the new run's top N (default: `after.top`). Only rows included on either side are
    read, so each side may be cut to its watchlist plus the other side's (`History.rows(also=)`,
    `rows_of(also=)`): a whole-market diff then touches hundreds of rows, not millions."""
    entered, left, moved = [], [], []
    top = top if top is not None else (after.top if after else None)
    for sym, n in new.items():
        o = old.get(sym)
        if n["included"] and not (o and o["included"]):
            if o is None:
                reason = "new in the universe"
            elif o["failed"]:
                reason = "now passes " + ", ".join(f for f in o["failed"] if f not in n["failed"]) if o["failed"] != ["unlisted"] else "now listed"
            else:
                reason = f"rose into the top {top}" if top else "now ranked"
            entered.append({"symbol": sym, "name": n["name"], "rank": n["rank"], "score": _round(n["score"]),
                            "reason": reason})
        elif n["included"] and o and o["included"] and o["rank"] != n["rank"]:
            moved.append({"symbol": sym, "name": n["name"], "from_rank": o["rank"], "to_rank": n["rank"],
                          "change": o["rank"] - n["rank"], "from_score": _round(o["score"]),
                          "to_score": _round(n["score"]), "reason": _move_reason(o, n)})
    for sym, o in old.items():
        if not o["included"]:
            continue
        n = new.get(sym)
        if n is not None and n["included"]:
            continue
        if n is None:
            reason = "no longer in the universe"
        elif n["failed"] == ["unlisted"]:
            reason = "unlisted"
        elif n["failed"]:
            now_failing = n["failed"]
            missing = [f for f in now_failing if f in n["missing"]]
            reason = "fails " + ", ".join(now_failing) + (f" (missing data: {', '.join(missing)})" if missing else "")
        else:
            reason = f"fell below the top {top} (rank {n['rank']})" if top else "not ranked"
        left.append({"symbol": sym, "name": o["name"], "from_rank": o["rank"], "rank": n["rank"] if n else None,
                     "failed": n["failed"] if n else [], "reason": reason})
    entered.sort(key=lambda e: (e["rank"] or 0, e["symbol"]))
    left.sort(key=lambda e: (e["from_rank"] or 0, e["symbol"]))
    moved.sort(key=lambda e: (-abs(e["change"]), e["to_rank"], e["symbol"]))
    return Changes(entered, left, moved, before, after)


def _move_reason(o: dict, n: dict) -> str:
    direction = "up" if n["rank"] < o["rank"] else "down"
    steps = abs(o["rank"] - n["rank"])
    return f"{direction} {steps} (score {_fmt(o['score'])} -> {_fmt(n['score'])})"


def _round(v):
    return None if v is None else round(v, 6)


def _fmt(v) -> str:
    return "—" if v is None else f"{v:.3f}"
