"""Schemas of every input file, checked with pandera, reported as `Problem`s.

Two ways to check one schema. `validate` checks a text frame (every column a string) cell by
cell before anything is converted, so a bad cell is reported as `consensus.csv:18: row 17, column
eps: 'n/a' is not a number` instead of silently becoming null; `to_typed` then converts it.
`check_typed` checks a frame parsed straight to dtypes, as whole columns, and only says whether it
is clean: the fast path for the usual, clean file (`data.load_checked` takes the text path when it
is not).
pandera is imported only when a check runs, without pandas where it can (`pandera_import`).
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from screener.rules.fields import EXPOSURE_LEVELS
from screener.rules.grades import GRADE_REGEX, SCORED_GRADE_REGEX
from screener.data.pandera_import import with_pandera
from screener.limits import DATE_RANGE
from screener.problems import Problem, suggestion

SYMBOL_PATTERN = (
    r"^(?:[0-9]{6}\.(?:SH|SZ|BJ)|[0-9]{4,5}\.HK|[A-Z][A-Z0-9]*(?:[.\-][A-Z0-9]+)?\.US|PRIVATE:[a-z0-9][a-z0-9\-]*)$"
)
_TRUE, _FALSE = ("true", "1", "yes"), ("false", "0", "no")


@dataclass(frozen=True)
class Col:
    name: str
    type: str  # text, number, int, bool, date, symbol, currency, grade, choice
    required: bool = True
    nullable: bool = False
    choices: tuple[str, ...] = ()
    positive: bool = False
    non_negative: bool = False


def _c(name, type, required=True, nullable=None, **kw) -> Col:
    return Col(name, type, required, (not required) if nullable is None else nullable, **kw)


SPECS: dict[str, tuple[tuple[Col, ...], tuple[str, ...]]] = {
    # kind: (columns, unique key)
    "universe": ((
        _c("symbol", "symbol"), _c("name", "text"), _c("exposure", "choice", choices=EXPOSURE_LEVELS),
        _c("listed", "bool"), _c("name_en", "text", False), _c("exchange", "text", False),
        _c("source", "text", False), _c("note", "text", False), _c("industry", "text", False),
        _c("added", "date", False), _c("removed", "date", False),
    ), ("symbol", "added")),  # a symbol may have several rows whose windows [added, removed) never overlap
    "consensus": ((
        _c("symbol", "symbol"), _c("fiscal_year", "int"), _c("eps", "number"), _c("actual", "bool"),
        _c("as_of", "date"), _c("currency", "currency", False), _c("analysts", "int", False),
        _c("net_profit", "number", False), _c("revenue", "number", False),
    ), ("symbol", "fiscal_year", "as_of")),
    "prices": ((
        _c("symbol", "symbol"), _c("close", "number", positive=True), _c("currency", "currency"),
        _c("as_of", "date"), _c("market_cap", "number", False, positive=True),
        _c("adj_close", "number", False, positive=True), _c("amount", "number", False, non_negative=True),
    ), ("symbol", "as_of")),
    "esg": ((
        _c("symbol", "symbol"), _c("rater", "text"), _c("rating", "grade"), _c("as_of", "date"),
    ), ("symbol", "rater", "as_of")),
    "fx": ((
        _c("base", "currency"), _c("quote", "currency"), _c("rate", "number", positive=True), _c("as_of", "date"),
    ), ("base", "quote", "as_of")),
}

_MESSAGES = {
    "number": "is not a number",
    "int": "is not a whole number",
    "bool": "is not true or false",
    "date": "is not a date (YYYY-MM-DD) between 1900-01-01 and 2199-12-31",
    "symbol": "is not a canonical symbol (603019.SH, 000977.SZ, 920190.BJ, 0020.HK, IONQ.US, PRIVATE:slug)",
    "currency": "is not a currency code (CNY, HKD, USD ...)",
    "grade": "is not an ESG grade (AAA, AA+, ... C; a suffix such as pi may follow; or a score with its grade, 85.98(AAA))",
    "positive": "must be greater than 0",
    "non_negative": "must not be negative",
    "year": "is not a fiscal year between 1990 and 2100",
}


def _cell_ok(col: Col, strip: bool = True, cells: pl.Expr | None = None) -> pl.Expr:
    """True where the text cell parses as the column's type (nulls are checked separately).
    `cells` is the column by default; the fast path passes its distinct values."""
    c = pl.col(col.name) if cells is None else cells
    c = c.str.strip_chars() if strip else c
    if col.type == "number":
        return c.cast(pl.Float64, strict=False).is_finite().fill_null(False)
    if col.type == "int":
        return c.cast(pl.Int64, strict=False).is_not_null()
    if col.type == "bool":
        return c.str.to_lowercase().is_in(list(_TRUE + _FALSE))
    if col.type == "date":
        return c.str.to_date("%Y-%m-%d", strict=False).is_between(*DATE_RANGE).fill_null(False)
    if col.type == "symbol":
        return c.str.contains(SYMBOL_PATTERN)
    if col.type == "currency":
        return c.str.contains(r"^[A-Z]{3}$")
    if col.type == "grade":
        return c.str.contains(GRADE_REGEX) | c.str.contains(SCORED_GRADE_REGEX)
    if col.type == "choice":
        return c.is_in(list(col.choices))
    return c.str.len_chars() > 0


def validate(kind: str, frame: pl.DataFrame, path: str) -> list[Problem]:
    """Every problem in one text frame of `kind` ('consensus', 'universe', ...), none if clean."""
    return with_pandera(lambda pa: _validate(pa, kind, frame, path))


def _validate(pa, kind: str, frame: pl.DataFrame, path: str) -> list[Problem]:
    columns, unique = SPECS[kind]
    problems: list[Problem] = []
    known = [c.name for c in columns]
    for name in frame.columns:
        if name not in known:
            problems.append(Problem("unknown-column", f"unknown column `{name}` is ignored", path, 1, None,
                                    suggestion(name, known, "column"), severity="warning"))
    present = [c for c in columns if c.name in frame.columns]
    missing = [c.name for c in columns if c.required and c.name not in frame.columns]
    if missing:
        problems.append(Problem("missing-column", f"missing required column{'s' if len(missing) > 1 else ''} "
                                + ", ".join(f"`{m}`" for m in missing), path, 1, None,
                                "the header row must name: " + ", ".join(c.name for c in columns if c.required)))

    def check(what: str, expr: pl.Expr):
        return pa.Check(lambda data, e=expr: data.lazyframe.select(e.fill_null(True)), name=what,
                        error=what, element_wise=False)

    schema_cols = {}
    for col in present:
        checks = [check(col.type, pl.col(col.name).is_null() | _cell_ok(col))]
        if col.positive:
            checks.append(check("positive", pl.col(col.name).is_null()
                                | (pl.col(col.name).str.strip_chars().cast(pl.Float64, strict=False) > 0).fill_null(True)))
        if col.non_negative:
            checks.append(check("non_negative", pl.col(col.name).is_null()
                                | (pl.col(col.name).str.strip_chars().cast(pl.Float64, strict=False) >= 0).fill_null(True)))
        if col.name == "fiscal_year":
            year = pl.col(col.name).str.strip_chars().cast(pl.Int64, strict=False)
            checks.append(check("year", year.is_null() | year.is_between(1990, 2100)))
        schema_cols[col.name] = pa.Column(pl.String, nullable=col.nullable, checks=checks, required=False)
    key = [k for k in unique if k in frame.columns]
    if kind in WINDOWED:  # the key is the symbol and its window: `_windows` checks it, row pairs named
        key = []
    schema = pa.DataFrameSchema(schema_cols, unique=key if key and len(key) == len(unique) else None, strict=False)
    try:
        schema.validate(frame, lazy=True)
    except pa.errors.SchemaErrors as err:
        problems.extend(_from_failures(err.failure_cases, frame, path, unique))
    if kind == "universe" and not missing:
        problems.extend(_private_listed(frame, path))
    if kind in WINDOWED and "symbol" in frame.columns:
        problems.extend(_windows(frame, path))
    return problems


def _from_failures(cases: pl.DataFrame, frame: pl.DataFrame, path: str, unique: tuple[str, ...]) -> list[Problem]:
    out: list[Problem] = []
    dup_rows: list[int] = []
    for case in cases.iter_rows(named=True):
        check, column, index, value = case["check"], case["column"], case["index"], case["failure_case"]
        if check == "multiple_fields_uniqueness" or (check or "").startswith("unique"):
            if index is not None:
                dup_rows.append(index)
            continue
        if index is None:
            out.append(Problem("schema", f"column {column}: {check}: {value}", path))
            continue
        row = index + 1
        if check == "not_nullable":
            out.append(Problem("missing-value", f"row {row}, column {column}: a value is required", path, row + 1,
                               hint=f"fill in `{column}` or delete the row"))
            continue
        message = _MESSAGES.get(check, check)
        out.append(Problem(check or "schema", f"row {row}, column {column}: {value!r} {message}", path, row + 1))
    if dup_rows:
        keys = frame.select(list(unique)).with_row_index("i").filter(pl.col("i").is_in(dup_rows))
        seen: dict[tuple, int] = {}
        for r in keys.sort("i").iter_rows():
            i, k = r[0], tuple(r[1:])
            if k in seen:
                out.append(Problem("duplicate", f"row {i + 1} repeats row {seen[k] + 1}: same {', '.join(unique)} "
                                   f"({', '.join(str(v) for v in k)})", path, i + 2,
                                   hint="keep one row per " + ", ".join(unique)))
            else:
                seen[k] = i
    out.sort(key=lambda p: (p.line or 0, p.message))
    return out


#: kinds whose rows are membership windows: a symbol may have several rows, `[added, removed)`
#: (blank = open), and no two windows of one symbol may overlap; that replaces the unique key
WINDOWED = ("universe",)


def _window_dates(frame: pl.DataFrame) -> list[pl.Expr]:
    """`added` and `removed` of a text frame as dates (null when blank, absent or malformed: a
    malformed cell is reported by its column check)."""
    out = []
    for name in ("added", "removed"):
        if name in frame.columns:
            out.append(pl.col(name).str.strip_chars().str.to_date("%Y-%m-%d", strict=False).alias(f"_{name}"))
        else:
            out.append(pl.lit(None, dtype=pl.Date).alias(f"_{name}"))
    return out


def _windows(frame: pl.DataFrame, path: str) -> list[Problem]:
    """Membership windows of a text frame: `removed` must come after `added`, and two rows of
    one symbol must not have overlapping windows (both rows named, by row and file line).

    Windows [a1, r1) and [a2, r2) overlap when each starts before the other ends (a blank start
    is the beginning of time, a blank end never comes): a symbol written twice with no dates
    overlaps itself. A row with a malformed date is left to its column check."""
    def bad_cell(name: str) -> pl.Expr:
        if name not in frame.columns:
            return pl.lit(False)
        c = pl.col(name).str.strip_chars()
        return c.is_not_null() & c.str.to_date("%Y-%m-%d", strict=False).is_null()

    rows = (frame.with_row_index("_i")
            .select("_i", pl.col("symbol").str.strip_chars().alias("_symbol"), *_window_dates(frame),
                    (bad_cell("added") | bad_cell("removed")).alias("_bad"))
            .filter(pl.col("_symbol").is_not_null() & pl.col("_bad").not_()))
    out = []
    empty = rows.filter(pl.col("_removed") <= pl.col("_added"))
    for i, added, removed in empty.select("_i", "_added", "_removed").iter_rows():
        out.append(Problem("window", f"row {i + 1}, column removed: {removed} is not after added {added} "
                           "(the membership window [added, removed) would be empty)", path, i + 2,
                           hint="removed is the first day the security is no longer a member; leave it blank while it is"))
    valid = rows.filter((pl.col("_removed") > pl.col("_added")).fill_null(True))
    repeated = valid.filter(pl.col("_symbol").is_duplicated())
    if repeated.height:
        pairs = (repeated.join(repeated, on="_symbol", suffix="_2")
                 .filter(pl.col("_i") < pl.col("_i_2"))
                 .filter((pl.col("_added").is_null() | pl.col("_removed_2").is_null() | (pl.col("_added") < pl.col("_removed_2")))
                         & (pl.col("_added_2").is_null() | pl.col("_removed").is_null() | (pl.col("_added_2") < pl.col("_removed"))))
                 .sort("_i_2", "_i"))
        for r in pairs.iter_rows(named=True):
            first, second = r["_i"], r["_i_2"]
            out.append(Problem(
                "overlap", f"row {second + 1} (line {second + 2}) overlaps row {first + 1} (line {first + 2}): "
                f"{r['_symbol']} would be a member twice, {_window(r['_added_2'], r['_removed_2'])} and "
                f"{_window(r['_added'], r['_removed'])}", path, second + 2,
                hint="a symbol may have several rows (left and rejoined) only when their windows [added, removed) "
                     "do not overlap: delete the repeated row or set its added/removed dates"))
    return out


def _window(added, removed) -> str:
    return f"[{added or 'open'}, {removed or 'open'})"


def _private_listed(frame: pl.DataFrame, path: str) -> list[Problem]:
    bad = frame.with_row_index("i").filter(
        pl.col("symbol").str.starts_with("PRIVATE:") & pl.col("listed").str.strip_chars().str.to_lowercase().is_in(list(_TRUE))
    )
    return [Problem("private-listed", f"row {i + 1}, column listed: {sym} is unlisted (PRIVATE:) but listed is true",
                    path, i + 2, hint="set listed to false, or give the exchange symbol if it has listed")
            for i, sym in bad.select("i", "symbol").iter_rows()]


# -- the fast path: files parsed straight to dtypes, checked as whole columns --------------

_READ_DTYPES = {"number": pl.Float64, "int": pl.Int64, "bool": pl.Boolean}


def read_dtypes(kind: str) -> dict[str, pl.DataType]:
    """How the CSV reader parses each column of `kind` on the fast path (dates stay text: only
    `%Y-%m-%d` is a date here, and `_cell_ok` decides what that means)."""
    return {c.name: _READ_DTYPES.get(c.type, pl.String) for c in SPECS[kind][0]}


#: columns whose distinct values are few (codes, dates, grades, choices, rater names): their
#: format is checked once per distinct value, which costs a tenth of checking every cell
_FEW_VALUES = ("currency", "date", "grade", "choice")


def _clean_cell(col: Col, typed_date: bool = False) -> pl.Expr:
    """True when every cell of a column parsed straight to its dtype is what the text path would
    accept unchanged (one boolean for the column).

    Stricter than `_cell_ok`: text must already be stripped and non-empty, since the text path
    would strip it or turn it into null; anything it flags sends the file down the text path."""
    few = col.type in _FEW_VALUES or col.name == "rater"
    c = pl.col(col.name).unique() if few else pl.col(col.name)
    if col.type == "number":
        ok = c.is_finite()
    elif typed_date:  # a Date column (from Parquet) is a date already; only its range is checked
        ok = c.is_between(*DATE_RANGE)
    elif col.type in ("int", "bool"):
        ok = pl.lit(True)
    elif col.type in ("symbol", "currency", "choice"):
        ok = _cell_ok(col, strip=False, cells=c)  # anchored patterns and exact choices admit no blanks around
    else:  # date, grade, text: blanks around would be stripped by the text path (and a date with a
        # blank before it still parses, but is another key than the same date without)
        ok = _cell_ok(col, strip=False, cells=c) & c.str.contains(r"^\S(?:.*\S)?$")
    if col.positive:
        ok = ok & (c > 0)
    if col.non_negative:
        ok = ok & (c >= 0)
    if col.name == "fiscal_year":
        ok = ok & c.is_between(1990, 2100)
    return (c.is_null() | ok).all()


def check_typed(kind: str, frame: pl.DataFrame) -> bool:
    """Check a frame read with `read_dtypes(kind)` (or from Parquet, with real Date columns) with
    pandera: column dtypes, required columns, nulls, every cell's format, the unique key. True
    when all pass.

    This is the schema of `validate` restated over typed columns and evaluated as one parallel
    polars query per file, which is what makes checking millions of rows cheap. It answers only
    "clean or not": on False, `validate` on the text reports each problem with its line. The key
    is compared by 64-bit hash, so a (vanishingly rare) collision only costs that detour."""
    return with_pandera(lambda pa: _check_typed(pa, kind, frame))


def _check_typed(pa, kind: str, frame: pl.DataFrame) -> bool:
    columns, unique = SPECS[kind]
    dtypes = read_dtypes(kind)
    present = [c for c in columns if c.name in frame.columns]
    typed_dates = {c.name for c in present if c.type == "date" and frame.schema[c.name] == pl.Date}
    dtypes.update({name: pl.Date for name in typed_dates})
    cells = [_clean_cell(c, c.name in typed_dates).alias(c.name) for c in present]
    if kind == "universe":
        cells.append((pl.col("symbol").str.starts_with("PRIVATE:") & pl.col("listed")).any().not_().alias("_private"))
    keys = [k for k in unique if k in frame.columns]
    if kind in WINDOWED:
        if "symbol" in frame.columns:
            cells.append(_windows_ok(frame, typed_dates).alias("_windows"))
    elif len(keys) == len(unique):
        # one 64-bit hash per row from the key columns' own hashes (a third of hashing a struct)
        row_hash = pl.col(keys[0]).hash()
        for i, k in enumerate(keys[1:], start=1):  # an odd multiplier per position: (a, b) and (b, a) differ
            factor = (0x9E3779B97F4A7C15 * (2 * i + 1)) & 0xFFFFFFFFFFFFFFFF | 1
            row_hash = row_hash ^ (pl.col(k).hash() * pl.lit(factor, dtype=pl.UInt64))
        cells.append((row_hash.n_unique() == pl.len()).alias("_unique"))

    def well_formed(data) -> bool:
        return all(data.lazyframe.select(cells).collect(engine="in-memory").row(0))

    schema = pa.DataFrameSchema(
        {c.name: pa.Column(dtypes[c.name], nullable=c.nullable, required=c.required) for c in columns},
        checks=[pa.Check(well_formed, name="well_formed")],
        strict=False,
    )
    try:
        schema.validate(frame, lazy=False)
    except (pa.errors.SchemaError, pa.errors.SchemaErrors):
        return False
    return True


def _windows_ok(frame: pl.DataFrame, typed_dates: set[str]) -> pl.Expr:
    """One boolean: every membership window is non-empty and no two windows of one symbol
    overlap (what `_windows` reports row by row on the text path).

    Sorted by (symbol, added) with a blank start first, windows are disjoint exactly when each
    row ends (a non-blank removed) on or before the next row of the same symbol starts (a
    non-blank added): a sort and a shift, not a pairwise join. Without window columns this is
    uniqueness of the symbol, checked by hash as any other key."""
    present = [n for n in ("added", "removed") if n in frame.columns]
    if not present:
        return pl.col("symbol").hash().n_unique() == pl.len()

    def as_date(name: str) -> pl.Expr:
        if name not in frame.columns:
            return pl.repeat(None, pl.len(), dtype=pl.Date)
        return pl.col(name) if name in typed_dates else pl.col(name).str.to_date("%Y-%m-%d", strict=False)

    added, removed = as_date("added"), as_date("removed")
    nonempty = (removed > added).fill_null(True).all()
    order = [pl.col("symbol"), added]
    symbol = pl.col("symbol").sort_by(order, nulls_last=False)
    start = added.sort_by(order, nulls_last=False)
    prev_end = removed.sort_by(order, nulls_last=False).shift(1)
    disjoint = (symbol != symbol.shift(1)).fill_null(True) | (prev_end <= start).fill_null(False)
    return nonempty & disjoint.all()


def typed_schema(kind: str) -> dict[str, pl.DataType]:
    """The dtypes of a checked, typed table of `kind` (what `to_typed` and `finish_typed` return)."""
    return {c.name: pl.Date if c.type == "date" else _READ_DTYPES.get(c.type, pl.String) for c in SPECS[kind][0]}


def finish_typed(kind: str, frame: pl.DataFrame) -> pl.DataFrame:
    """A frame that passed `check_typed` in `to_typed`'s shape: dates parsed, absent optional
    columns added as nulls, the spec's column order."""
    columns, _ = SPECS[kind]
    exprs = []
    for col in columns:
        if col.name not in frame.columns:
            exprs.append(pl.lit(None, dtype=typed_schema(kind)[col.name]).alias(col.name))
        elif col.type == "date" and frame.schema[col.name] != pl.Date:
            exprs.append(pl.col(col.name).str.to_date("%Y-%m-%d"))
        else:
            exprs.append(pl.col(col.name))
    return frame.select(exprs)


def to_typed(kind: str, frame: pl.DataFrame) -> pl.DataFrame:
    """Convert a checked text frame to real dtypes; optional columns absent are added as nulls."""
    columns, _ = SPECS[kind]
    exprs = []
    for col in columns:
        c = pl.col(col.name).str.strip_chars() if col.name in frame.columns else pl.lit(None, dtype=pl.String)
        if col.type == "number":
            e = c.cast(pl.Float64, strict=False)
        elif col.type == "int":
            e = c.cast(pl.Int64, strict=False)
        elif col.type == "bool":
            e = c.str.to_lowercase().is_in(list(_TRUE))
            e = pl.when(c.is_null()).then(None).otherwise(e)
        elif col.type == "date":
            e = c.str.to_date("%Y-%m-%d", strict=False)
        else:
            e = c
        exprs.append(e.alias(col.name))
    return frame.select(exprs)


def validate_jobs(jobs: list[dict], path: str, text: str) -> list[Problem]:
    """Check config.toml's `[[jobs]]` as a table: one row per job, a unique name, a cron and at
    least one rule each."""
    if not jobs:
        return []
    return with_pandera(lambda pa: _validate_jobs(pa, jobs, path, text))


def _validate_jobs(pa, jobs: list[dict], path: str, text: str) -> list[Problem]:
    lines = text.splitlines()
    job_lines = [i + 1 for i, line in enumerate(lines) if line.strip().startswith("[[jobs]]")]
    def present(j: dict, key: str, i: int):
        """The value as text; None only when the key is absent (a value of the wrong type is
        reported with its type by screener.schedule.jobs, not as missing)."""
        value = j.get(key)
        return None if value is None else value if isinstance(value, str) else f"\0{i}"

    frame = pl.DataFrame({
        "name": [present(j, "name", i) for i, j in enumerate(jobs)],
        "cron": [present(j, "cron", i) for i, j in enumerate(jobs)],
        "calendar": [j.get("calendar", "XSHG") if isinstance(j.get("calendar", "XSHG"), str) else "?" for j in jobs],
        "rules": [None if j.get("rules") is None else ";".join(j["rules"]) if isinstance(j["rules"], list) and j["rules"]
                  and all(isinstance(r, str) for r in j["rules"]) else f"\0{i}" for i, j in enumerate(jobs)],
        "formats": [";".join(j.get("formats", ["csv"])) if isinstance(j.get("formats", ["csv"]), list) else "?" for j in jobs],
    }, schema={k: pl.String for k in ("name", "cron", "calendar", "rules", "formats")})

    # cron syntax, calendars, timezones and formats get finer checks with hints in screener.schedule.jobs
    schema = pa.DataFrameSchema({
        "name": pa.Column(pl.String, nullable=False, unique=True),
        "cron": pa.Column(pl.String, nullable=False),
        "rules": pa.Column(pl.String, nullable=False),
    })
    messages = {
        "not_nullable": "is missing",
        "field_uniqueness": "repeats another job's name",
    }
    out = []
    try:
        schema.validate(frame, lazy=True)
    except pa.errors.SchemaErrors as err:
        for case in err.failure_cases.iter_rows(named=True):
            i = case["index"]
            line = job_lines[i] if i is not None and i < len(job_lines) else None
            column = case["column"]
            who = jobs[i].get("name") if i is not None and isinstance(jobs[i].get("name"), str) else (i + 1 if i is not None else "?")
            if case["check"] == "not_nullable":
                example = {"name": 'name = "esg-compute-daily"', "cron": 'cron = "30 16 * * mon-fri"',
                           "rules": 'rules = ["rules/esg_compute_leaders.toml"]'}.get(column)
                out.append(Problem("job", f"job {who}: `{column}` is missing", path, line, hint=example))
            else:
                out.append(Problem("job", f"job {who}: {column} {case['failure_case']!r} "
                                   f"{messages.get(case['check'], case['check'])}", path, line))
    return out
