"""Reading universes and data snapshots from disk, checked by `screener.data.schemas`.

A snapshot folder holds `consensus`, `prices`, `esg` and `fx` as `.csv` or `.parquet`; any may
be absent (the fields it feeds are then null). An optional `snapshot.toml` labels the folder:
`sample = true` plus a `notice` makes every output made from it say "sample data".
"""

from __future__ import annotations

import hashlib
import io
import os
import tomllib
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import polars as pl

from screener import limits
from screener.data import schemas
from screener.problems import InputError, Problem, suggestion

SNAPSHOT_FILES = ("consensus", "prices", "esg", "fx")


def read_text_table(path: Path, shown: str, raw: bytes | None = None) -> pl.DataFrame:
    """A CSV (UTF-8, optional BOM) or Parquet file as a frame of stripped strings; empty cells are null."""
    try:
        if raw is None:  # header width, line and cell lengths first: nothing large is built from a hostile file
            limits.check_table_shape(path, shown)
            raw = limits.read_bytes(path, shown, "data file")
        if path.suffix.lower() == ".parquet":
            frame = pl.read_parquet(io.BytesIO(raw))
            frame = frame.select(_as_text(frame, c) for c in frame.columns)
        else:
            if raw.startswith(b"\xef\xbb\xbf"):
                raw = raw[3:]
            raw.decode("utf-8")  # fail early, with a clear message, on GBK and friends
            frame = pl.read_csv(raw, infer_schema=False)
    except UnicodeDecodeError as e:
        raise InputError([Problem("encoding", f"not UTF-8 text (byte {e.start})", shown,
                                  hint="save it as UTF-8, or bring vendor files in with `screener data import`")]) from None
    except (pl.exceptions.PolarsError, OSError) as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise InputError([Problem("unreadable", f"cannot read the table: {first}", shown,
                                  hint="check that it is a CSV file with a header row")]) from None
    frame = frame.rename({c: c.strip().lstrip("\ufeff") for c in frame.columns})
    return frame.with_columns(
        pl.col(c).str.strip_chars().replace("", None) for c in frame.columns
    )


def _as_text(frame: pl.DataFrame, name: str) -> pl.Expr:
    dtype = frame.schema[name]
    c = pl.col(name)
    if dtype == pl.Boolean:
        return pl.when(c).then(pl.lit("true")).when(c.not_()).then(pl.lit("false")).alias(name)
    if dtype == pl.Date:
        return c.dt.strftime("%Y-%m-%d").alias(name)
    if isinstance(dtype, pl.Datetime):
        return c.dt.strftime("%Y-%m-%d").alias(name)
    return c.cast(pl.String).alias(name)


# -- checked, typed tables, memoised by content ---------------------------------------

from screener.data.cache import SCHEMA_VERSION, cache_dir  # noqa: E402,F401 - kept importable from here


#: cache entries (typed tables, digest memos) unused for this long are removed
CACHE_KEEP_DAYS = 14


def _mark_used(entry: Path) -> None:
    try:
        os.utime(entry)
    except OSError:
        pass


def prune_cache(folder: Path, keep_days: float = CACHE_KEEP_DAYS) -> int:
    """Remove cache entries not used for `keep_days` (a file is marked used each time it is read).
    Called after a new table is cached, so the folder stays bounded however often data changes.
    Returns how many files went; errors (another process got there first) are ignored."""
    import time

    limit = time.time() - keep_days * 86400
    removed = 0
    for pattern in ("*.parquet", "digests/*", "symbols/*"):
        for entry in folder.glob(pattern):
            try:
                if entry.stat().st_mtime < limit:
                    entry.unlink()
                    removed += 1
            except OSError:
                pass
    return removed


@dataclass(frozen=True)
class FileStamp:
    """What a file held when it was hashed: its SHA-256 and the stat fields that change with it."""

    digest: bytes
    stat: tuple[int, int, int]

    @classmethod
    def of(cls, path: Path, shown: str) -> "FileStamp":
        """Hash `path` by streaming it (no copy of a large file is kept in memory).

        The digest is remembered in the cache folder against the file's path, inode, size and
        modification time in nanoseconds, as git's index does: a file whose stat is unchanged is
        not read again (0.6 s saved per run at 1M securities). Any write changes the stat."""
        limits.regular_file(path, shown, "data file")  # a FIFO or device is never opened
        try:
            with path.open("rb") as f:
                st = os.fstat(f.fileno())
                stat = (st.st_ino, st.st_size, st.st_mtime_ns)
                memo = _digest_memo(path, stat)
                digest = _read_memo(memo)
                if digest is None:
                    digest = hashlib.file_digest(f, "sha256").digest()
                    _write_memo(memo, digest)
        except OSError as e:
            raise InputError([Problem("unreadable", f"cannot read the file: {e.strerror or e}", shown)]) from None
        return cls(digest, stat)

    def still_holds(self, path: Path) -> bool:
        try:
            st = path.stat()
        except OSError:
            return False
        return (st.st_ino, st.st_size, st.st_mtime_ns) == self.stat


def _digest_memo(path: Path, stat: tuple[int, int, int]) -> Path | None:
    folder = cache_dir()
    if folder is None:
        return None
    key = hashlib.sha256(f"{path.resolve()}\0{stat}".encode()).hexdigest()
    return folder / "digests" / key


def _read_memo(memo: Path | None) -> bytes | None:
    if memo is None:
        return None
    try:
        digest = memo.read_bytes()
    except OSError:
        return None
    _mark_used(memo)
    return digest if len(digest) == 32 else None


def _write_memo(memo: Path | None, digest: bytes) -> None:
    if memo is None:
        return
    try:
        from screener.atomic import atomic_path

        memo.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(memo) as tmp:
            Path(tmp).write_bytes(digest)
    except OSError:
        pass  # a read-only cache only costs the hashing next time


def load_checked(kind: str, path: Path, shown: str, stamp: FileStamp | None = None) -> pl.LazyFrame:
    """Read `path`, check it against the `kind` schema and return it typed (lazily).

    A file whose exact bytes were checked before is scanned from the cache (a Parquet copy of the
    typed table keyed by the SHA-256 of the bytes and the schema version), which skips parsing
    and checking and lets a query read only the columns and rows it needs; any change to the
    file, or to the schemas, checks it again. A file replaced while it is read is an error (the
    table would not match its hash). Raises `InputError` with every error in the file.
    """
    limits.check_header(path, shown)  # cheap, so even a cached table obeys today's header limit
    stamp = stamp or FileStamp.of(path, shown)
    folder = cache_dir()
    key = hashlib.sha256(f"{SCHEMA_VERSION}:{kind}:{path.suffix.lower()}:".encode() + stamp.digest).hexdigest()
    cached = folder / f"{key}.parquet" if folder else None
    if cached is not None and cached.is_file():
        try:
            if dict(pl.read_parquet_schema(cached)) == schemas.typed_schema(kind):
                _mark_used(cached)
                return pl.scan_parquet(cached)
        except (pl.exceptions.PolarsError, OSError):
            pass  # a damaged cache entry is checked again and rewritten
    limits.check_table_shape(path, shown)  # before any parse (a cached table passed it when it was cached)
    typed = _fast_typed(kind, path)
    if typed is None:  # not clean as it stands: the careful text path says what is wrong, or fixes blanks
        text = read_text_table(path, shown)
        errors = [p for p in schemas.validate(kind, text, shown) if p.severity == "error"]
        if errors:
            raise InputError(errors)
        typed = schemas.to_typed(kind, text)
    if not stamp.still_holds(path):
        raise InputError([Problem("changed", "the file changed while it was being read", shown,
                                  hint="run again once whatever is writing it has finished")])
    if cached is not None:
        try:
            from screener.atomic import atomic_path

            with atomic_path(cached) as tmp:
                typed.write_parquet(tmp)
            prune_cache(folder)
        except (OSError, pl.exceptions.PolarsError):
            pass  # a read-only home or a full disk (polars reports it as its own error) is no reason to fail a screen
    return typed.lazy()


def _fast_typed(kind: str, path: Path) -> pl.DataFrame | None:
    """The file parsed straight to dtypes and checked (`schemas.check_typed`), or None when it is
    not clean exactly as written (a parse failure, a bad cell, blanks around a value, a header
    that needs tidying): the caller then takes the text path, which reports or repairs it.

    This is the path every clean file takes; it skips the all-text frame of the careful path,
    which costs several times the memory and time on large files."""
    if path.suffix.lower() == ".parquet":
        return _fast_typed_parquet(kind, path)
    dtypes = schemas.read_dtypes(kind)
    try:
        names = pl.read_csv(path, n_rows=0, infer_schema=False).columns
        if any(n != n.strip() for n in names):
            return None
        wanted = [n for n in names if n in dtypes]
        if not wanted:
            return None
        frame = pl.read_csv(path, infer_schema=False, columns=wanted, schema_overrides={n: dtypes[n] for n in wanted})
    except (pl.exceptions.PolarsError, OSError, ValueError):
        return None
    if not schemas.check_typed(kind, frame):
        return None
    return schemas.finish_typed(kind, frame)


def _fast_typed_parquet(kind: str, path: Path) -> pl.DataFrame | None:
    """A Parquet file whose known columns already have the typed dtypes (String, Float64, Int64,
    Boolean, Date), checked as a parsed CSV would be; None for any other dtype (Float32, Int32,
    Datetime ...: the text path converts those)."""
    expected = schemas.typed_schema(kind)
    try:
        schema = pl.read_parquet_schema(path)
        if any(n != n.strip() for n in schema):
            return None
        wanted = [n for n in schema if n in expected]
        if not wanted or any(schema[n] != expected[n] for n in wanted):
            return None
        frame = pl.read_parquet(path, columns=wanted)
    except (pl.exceptions.PolarsError, OSError, ValueError):
        return None
    if not schemas.check_typed(kind, frame):
        return None
    return schemas.finish_typed(kind, frame)


# -- universes ----------------------------------------------------------------


def load_universe(folder: Path, name: str, display) -> pl.DataFrame:
    """One universe, checked and typed; raises `InputError` for a bad or unknown one."""
    path = folder / f"{name}.csv"
    shown = display(path)
    limits.regular_file(path, shown, "universe file")
    if not path.is_file():
        known = sorted(p.stem for p in folder.glob("*.csv")) if folder.is_dir() else []
        raise InputError([Problem("unknown-universe", f"no universe `{name}` in {display(folder)}",
                                  hint=suggestion(name, known, "universe") if known else "the universes folder is empty")])
    return load_checked("universe", path, shown).collect()


def covers(as_of: date) -> pl.Expr:
    """True for the universe rows whose membership window [added, removed) covers `as_of`
    (a blank `added` or `removed` is open)."""
    return ((pl.col("added").is_null() | (pl.col("added") <= as_of))
            & (pl.col("removed").is_null() | (pl.col("removed") > as_of)))


def members_on(universe: pl.DataFrame, as_of: date | None) -> pl.DataFrame:
    """One universe's rows for a date: those whose window covers `as_of` (at most one per symbol,
    since a symbol's windows never overlap). With `as_of` None, every symbol once, whatever its
    window: the row with the newest `added` (a blank one counts as the oldest)."""
    if as_of is not None:
        return universe.filter(covers(as_of))
    if universe["symbol"].is_unique().all():
        return universe
    return (universe.sort(["symbol", "added"], nulls_last=False)
            .group_by("symbol", maintain_order=True).last())


def load_universes(folder: Path, names: tuple[str, ...], display) -> list[tuple[str, pl.DataFrame]]:
    """Each named universe file, checked and typed, in order; every problem of every file in one
    `InputError`."""
    out, problems = [], []
    for name in names:
        try:
            out.append((name, load_universe(folder, name, display)))
        except InputError as e:
            problems.extend(e.problems)
    if problems:
        raise InputError(problems)
    return out


def load_members(folder: Path, names: tuple[str, ...], display, as_of: date | None = None) -> pl.DataFrame:
    """The union of universes as of `as_of` (see `union_members`)."""
    return union_members(load_universes(folder, names, display), as_of)


def union_members(universes: list[tuple[str, pl.DataFrame]], as_of: date | None = None) -> pl.DataFrame:
    """The union of universes: one row per symbol, `themes` the universes it is in (in the order
    given), exposure the highest among them, name and other text from the first universe,
    `industry` the first non-null one in that order.

    With `as_of`, only the rows whose membership window covers it count (a backtest never sees a
    name before it joined); without, every row of the files does (a symbol with several windows
    counts once: see `members_on`)."""
    frames = [members_on(u, as_of).with_columns(pl.lit(name).alias("theme"), pl.lit(order, dtype=pl.Int32).alias("_order"))
              for order, (name, u) in enumerate(universes)]
    if len(frames) == 1:  # one universe: already one row per symbol
        (u,) = frames
        return (u.select("symbol", "name", "name_en", "exchange", "listed",
                         pl.concat_list(pl.col("theme")).alias("themes"), "exposure", "industry")
                .sort("symbol"))
    allu = pl.concat(frames, how="vertical")
    levels = ["peripheral", "partial", "core", "pure"]
    allu = allu.with_columns(pl.col("exposure").replace_strict(levels, list(range(4)), return_dtype=pl.Int8).alias("_exp"))
    return (
        allu.sort("_order", maintain_order=True)
        .group_by("symbol", maintain_order=True)
        .agg(
            pl.col("name").first(),
            pl.col("name_en").drop_nulls().first(),
            pl.col("exchange").drop_nulls().first(),
            pl.col("listed").first(),
            pl.col("theme").alias("themes"),
            pl.col("_exp").max(),
            pl.col("industry").drop_nulls().first(),
        )
        .with_columns(pl.col("_exp").replace_strict(list(range(4)), levels, return_dtype=pl.String).alias("exposure"))
        .select("symbol", "name", "name_en", "exchange", "listed", "themes", "exposure", "industry")
        .sort("symbol")
    )


@dataclass(frozen=True)
class MembershipDating:
    """How much of a set of universe files is dated: `kind` is "all", "some" or "none";
    `str()` is what outputs print, e.g. "some (3 of 20 rows undated)".

    A row is undated when both `added` and `removed` are blank: it says nothing about when the
    security was a member, so a backtest using it at a past date assumes today's list held then
    (hindsight and survivorship bias). A row with either date is dated."""

    kind: str
    undated_rows: int
    total_rows: int

    def __str__(self) -> str:
        if self.kind == "some":
            return f"some ({self.undated_rows} of {self.total_rows} rows undated)"
        return self.kind


def membership_dating(folder: Path, names: tuple[str, ...], display) -> MembershipDating:
    """Whether the rows of the universe files `names` carry membership dates: all, some or none
    (every row of every file counts, whatever its window; no rows at all is "none")."""
    undated = total = 0
    problems = []
    for name in names:
        try:
            u = load_universe(folder, name, display)
        except InputError as e:
            problems.extend(e.problems)
            continue
        total += u.height
        undated += int((u["added"].is_null() & u["removed"].is_null()).sum())
    if problems:
        raise InputError(problems)
    kind = "none" if undated == total else ("all" if undated == 0 else "some")
    return MembershipDating(kind, undated, total)


# -- snapshots -------------------------------------------------------------------


@dataclass(frozen=True)
class Snapshot:
    """Typed snapshot tables as LazyFrames (None where the file is absent) plus what it is."""

    folder: Path
    frames: dict = field(default_factory=dict)
    files: tuple[str, ...] = ()
    fingerprint: str = ""
    sample: bool = False
    notice: str | None = None

    def get(self, name: str) -> pl.LazyFrame | None:
        return self.frames.get(name)


def snapshot_files(folder: Path) -> dict[str, Path]:
    """Which snapshot files exist: the CSV wins over a Parquet file of the same name. Anything at
    a snapshot file's name that is not a regular file (a folder, FIFO, device, dangling symlink,
    symlink loop) is not a file here: `special_files` reports it."""
    found = {}
    for name in SNAPSHOT_FILES:
        for ext in (".csv", ".parquet"):
            p = folder / f"{name}{ext}"
            if p.is_file():
                found[name] = p
                break
    return found


def special_files(folder: Path, display) -> list[Problem]:
    """An error for each snapshot file name (and `snapshot.toml`) taken by something that is not a
    regular file: it is never read, and never quietly taken as "no file"."""
    out = []
    for file_name in (*(f"{n}{ext}" for n in SNAPSHOT_FILES for ext in (".csv", ".parquet")), "snapshot.toml"):
        p = folder / file_name
        if limits.exists_at_all(p):
            kind = limits.special_kind(p)
            if kind is not None:
                out.append(limits.special_problem(p, display(p), "snapshot file", kind))
    return out


_LABEL_KEYS = ("sample", "notice")


def read_label(folder: Path, display) -> tuple[bool, str | None]:
    path = folder / "snapshot.toml"
    shown = display(path)
    if not limits.exists_at_all(path):
        return False, None
    try:
        text = limits.read_text(path, shown, "snapshot label", limits.active().rule_file_bytes, "rule_file_bytes")
        data = tomllib.loads(text)
    except FileNotFoundError:
        return False, None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise InputError([Problem("toml", f"not valid TOML: {e}", shown)]) from None
    except OSError as e:
        raise InputError([Problem("unreadable", f"cannot read the file: {e.strerror or e}", shown)]) from None
    problems = []
    sample = data.get("sample", False)
    if not isinstance(sample, bool):
        problems.append(Problem("bad-value", f"`sample` must be true or false, got {sample!r}", shown,
                                hint="sample = true marks the folder as illustrative data"))
    notice = data.get("notice")
    if notice is not None and not (isinstance(notice, str) and notice.strip()):
        problems.append(Problem("bad-value", f"`notice` must be text in quotes, got {notice!r}", shown,
                                hint='notice = "SAMPLE DATA: illustrative numbers, not market data"'))
    for key in data:
        if key not in _LABEL_KEYS:
            problems.append(Problem("unknown-key", f"unknown key `{key}`", shown, hint=suggestion(key, _LABEL_KEYS, "key"),
                                    severity="warning"))
    if any(p.severity == "error" for p in problems):
        raise InputError(problems)
    notice = notice or ("SAMPLE DATA: illustrative numbers, not market data" if sample else None)
    return sample, notice


def check_snapshot(folder: Path, display) -> list[Problem]:
    """Every problem in the snapshot folder (errors and warnings), reading every file."""
    problems: list[Problem] = []
    if not folder.is_dir():
        return [Problem("no-folder", f"no data folder at {display(folder)}", display(folder),
                        hint="set paths.data in config.toml, or pass the folder: screener data check DIR")]
    problems.extend(special_files(folder, display))
    try:
        read_label(folder, display)
    except InputError as e:
        problems.extend(e.problems)
    files = snapshot_files(folder)
    if not files:
        problems.append(_empty_folder(folder, display))
    for name, path in files.items():
        try:
            frame = read_text_table(path, display(path))
        except InputError as e:
            problems.extend(e.problems)
            continue
        problems.extend(schemas.validate(name, frame, display(path)))
    return problems


def load_snapshot(folder: Path, display) -> Snapshot:
    """Read, check and type every snapshot file; raises `InputError` with all errors found."""
    if not folder.is_dir():
        raise InputError([Problem("no-folder", f"no data folder at {display(folder)}", display(folder),
                                  hint="set paths.data in config.toml to a snapshot folder such as data/sample")])
    special = special_files(folder, display)
    if special:
        raise InputError(special)
    sample, notice = read_label(folder, display)
    frames, problems, digest = {}, [], hashlib.sha256()
    from screener.data.store import reading

    with reading(folder):  # a writer's several files are all new or all old (see data/store.py)
        files = snapshot_files(folder)
        if not files:
            raise InputError([_empty_folder(folder, display)])
        for name, path in files.items():
            try:
                limits.check_header(path, display(path))  # before hashing: a 2 GB line without newlines is refused at 16 MB
                stamp = FileStamp.of(path, display(path))
                digest.update(name.encode() + b"\0" + stamp.digest)
                frames[name] = load_checked(name, path, display(path), stamp)
            except InputError as e:
                problems.extend(e.problems)
    if problems:
        raise InputError(problems)
    return Snapshot(folder=folder, frames=frames, files=tuple(sorted(files)), fingerprint=digest.hexdigest()[:16],
                    sample=sample, notice=notice)


def _empty_folder(folder: Path, display) -> Problem:
    names = ", ".join(f"{n}.csv" for n in SNAPSHOT_FILES)
    return Problem("empty-snapshot", f"the data folder {display(folder)} holds none of the snapshot files ({names})",
                   display(folder), hint="point paths.data in config.toml at a snapshot folder such as data/sample, or "
                   "bring data in: screener data import FILE --source ... --kind ... (some files may be absent; not all)")


def warm_cache(folder: Path, display) -> None:
    """Check and cache a snapshot folder's files now, right after `data import` or `data refresh`
    wrote them, so that the next screen starts with the cache warm (and skips pandera's import).
    A problem is left for that screen, or `screener data check`, to report."""
    if cache_dir() is None or not folder.is_dir():
        return
    try:
        load_snapshot(folder, display)
    except InputError:
        pass
