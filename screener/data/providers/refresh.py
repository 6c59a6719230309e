"""`screener data refresh`: fetch live data and merge it into a snapshot folder.

For each provider (by default AKShare for A-shares and Hong Kong, yfinance for US listings; or
only the one named, for every market it covers) fetch every kind it serves, then merge each kind
into `<into>/<kind>.csv`:

* rows carry the run's `as_of` (ESG rows keep the rating's own date), so running every day
  builds the history that revisions and point-in-time screens read;
* the merge is the snapshot store's (`screener.data.store`, shared with `data import`): a
  fetched row replaces the existing row with the same typed key (`schemas.SPECS[kind][1]`: for
  consensus `symbol, fiscal_year, as_of`), other rows are kept, and rows are sorted by the key.
  A second run on the same day therefore leaves identical bytes;
* the merged table is checked with `schemas.validate` before anything is written; a problem
  fails that provider (nothing of it is written) and is reported;
* everything is fetched first; then every kind of every provider is written in one hold of
  `<into>/.snapshot.lock` (the lock every writer takes) as one write: the files change together
  (journaled, `store._write_together`), so a refresh killed at any moment leaves them all as
  before or all as after; an existing Parquet file is merged and written back as Parquet, a CSV
  keeps its byte-order mark if it had one.

A provider that fails (`ProviderError`: network down after retries, a table whose shape changed)
leaves every file it would have written untouched; its error is reported in one line and the
other providers still run. Before anything is fetched, each provider's package is imported: when
one is missing (`ProviderUnavailable`, the live extra is not installed) nothing is fetched, and
the report lists the packages in `unavailable` (`screener data refresh` then exits 2 with the
install command).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any, Callable

from screener.data.providers.base import Fetched, ProviderError, ProviderUnavailable

KINDS = ("consensus", "prices", "esg")
PROVIDER_NAMES = ("akshare", "yfinance")
#: default routing: provider -> kind -> markets it is asked for
ROUTES: dict[str, dict[str, tuple[str, ...]]] = {
    "akshare": {"consensus": ("SH", "SZ", "BJ", "HK"), "esg": ("SH", "SZ", "BJ", "HK")},
    "yfinance": {"consensus": ("US",), "prices": ("US",)},
}


@dataclass(frozen=True)
class RefreshReport:
    provider: str                      # the provider named, or "auto"
    into: str                          # the snapshot folder written
    as_of: str                         # ISO date of the run
    written: dict[str, int]            # kind -> rows added or replaced
    missing: dict[str, list[str]]      # kind -> symbols the providers had nothing for
    errors: list[str]                  # one line per failed provider
    warnings: list[str] = field(default_factory=list)  # notes: skipped rows, assumptions
    unavailable: list[str] = field(default_factory=list)  # packages of the live extra that are missing

    def to_dict(self) -> dict:
        return asdict(self)

    @property
    def ok(self) -> bool:
        return not self.errors


def default_providers() -> dict[str, Callable[[], Any]]:
    """Factories, so a provider (and its optional package) is only touched when needed."""
    from screener.data.providers.akshare_provider import AkshareProvider
    from screener.data.providers.yfinance_provider import YfinanceProvider

    return {"akshare": AkshareProvider, "yfinance": YfinanceProvider}


def refresh(config, symbols: list[str], *, provider: str | None, into: Path, as_of: date,
            providers: dict | None = None) -> RefreshReport:
    """Fetch `symbols` (canonical) and merge them into the snapshot folder `into`.

    `providers` maps a provider name to a provider object (or a factory of one); tests pass
    providers with fake transports. Raises `InputError` for an unknown provider name or a symbol
    that cannot be read; everything a provider does wrong is in the report instead.
    """
    from screener.problems import InputError, Problem, suggestion
    from screener.data.symbols import SymbolError, parse_symbol

    into = Path(into)
    display = getattr(config, "display", None) or str
    if provider is not None and provider not in PROVIDER_NAMES:
        raise InputError([Problem("unknown-provider", f"unknown data provider `{provider}`",
                                  hint=suggestion(provider, PROVIDER_NAMES, "provider"))])
    parsed, bad, seen = [], [], set()
    for text in symbols:
        try:
            sym = parse_symbol(text)
        except SymbolError as e:
            bad.append(Problem("bad-symbol", f"cannot read symbol {e.value!r}: {e.reason}", hint=e.hint))
            continue
        if sym.market != "PRIVATE" and sym not in seen:  # unlisted companies have no market data
            seen.add(sym)
            parsed.append(sym)
    if bad:
        raise InputError(bad)

    available = dict(default_providers() if providers is None else providers)
    written: dict[str, int] = {}
    missing: dict[str, set[str]] = {}
    errors: list[str] = []
    warnings: list[str] = []
    names = [provider] if provider is not None else [n for n in PROVIDER_NAMES if n in ROUTES]
    covered: set = set()
    work: list[tuple[str, Any, dict[str, list]]] = []
    unavailable: list[str] = []
    for name in names:
        if name not in available:
            if any(s.market in ms for ms in ROUTES.get(name, {}).values() for s in parsed) or provider:
                errors.append(f"{name}: no such provider configured")
            continue
        plan = _plan(name, available[name], provider is not None, parsed)
        for syms in plan.values():
            covered.update(syms)
        if not any(plan.values()):
            continue
        try:
            prov = available[name]
            prov = prov() if isinstance(prov, type) or (callable(prov) and not hasattr(prov, "name")) else prov
            _check_installed(prov)
        except ProviderUnavailable as e:
            errors.append(f"{name}: {e}")
            unavailable.append(e.package)
            continue
        except ProviderError as e:
            errors.append(f"{name}: {e}")
            continue
        work.append((name, prov, plan))
    if unavailable:  # the live extra is missing: fetch nothing rather than half a refresh
        return RefreshReport(provider=provider or "auto", into=str(into), as_of=as_of.isoformat(), written={},
                             missing={}, errors=errors, warnings=warnings, unavailable=unavailable)
    gathered: list[tuple[str, dict[str, Fetched]]] = []
    for name, prov, plan in work:  # fetch everything first, outside the lock
        try:
            fetched: dict[str, Fetched] = {}
            for kind, syms in plan.items():
                if syms:
                    fetched[kind] = getattr(prov, kind)(syms, as_of)
        except (ProviderError, ProviderUnavailable) as e:
            errors.append(f"{name}: {e}")
            continue
        gathered.append((name, fetched))
    failed = _write(into, gathered, as_of, display, getattr(config, "lock_timeout", 120.0))
    for name, fetched in gathered:
        if name in failed:
            errors.append(f"{name}: {failed[name]}")
            continue
        for kind, f in fetched.items():
            written[kind] = written.get(kind, 0) + len(_dedupe(f.rows, kind))
            missing.setdefault(kind, set()).update(f.missing)
            warnings.extend(f"{name}: {n}" for n in f.notes)
    for sym in parsed:
        if sym not in covered:
            warnings.append(f"{sym.canonical()}: not covered by "
                            f"{provider or 'any provider'} (markets: {_markets_text(provider)})")
    if written:
        from screener.data.snapshot import warm_cache

        warm_cache(into, display)
    return RefreshReport(provider=provider or "auto", into=str(into), as_of=as_of.isoformat(),
                         written=written, missing={k: sorted(v) for k, v in missing.items()},
                         errors=errors, warnings=warnings)


def _check_installed(prov) -> None:
    """Raise `ProviderUnavailable` now, before anything is fetched, when the package behind a
    provider cannot be imported (a provider makes its transport on first use: make it here)."""
    transport = getattr(prov, "transport", None)
    if callable(transport):
        transport()


def _plan(name: str, prov, named: bool, symbols: list) -> dict[str, list]:
    if named:
        kinds = getattr(prov, "kinds", None) or tuple(ROUTES.get(name, {}))
        markets = getattr(prov, "markets", None) or tuple({m for ms in ROUTES.get(name, {}).values() for m in ms})
        route = {kind: tuple(markets) for kind in kinds}
    else:
        route = ROUTES[name]
    return {kind: [s for s in symbols if s.market in markets] for kind, markets in route.items()}


def _markets_text(provider: str | None) -> str:
    if provider is None:
        return "; ".join(f"{n}: {', '.join(sorted({m for ms in r.values() for m in ms}))}" for n, r in ROUTES.items())
    return ", ".join(sorted({m for ms in ROUTES.get(provider, {}).values() for m in ms}))


# -- merging -----------------------------------------------------------------------------------


def _write(into: Path, gathered: list[tuple[str, dict[str, Fetched]]], as_of: date, display,
           lock_timeout: float) -> dict[str, str]:
    """Merge and check each provider's rows, then write every kind of every provider that passed
    as one write (`SnapshotStore.write`: several files are journaled together, so a kill at any
    moment leaves all of them old or all new), in one hold of the snapshot store's lock (the lock
    `data import` takes too): no other writer interleaves its read-merge-write, and a reader sees
    all of this refresh's files or none (fetching is not locked). Returns {provider: why} for the
    providers whose rows were not written (a merge that fails its checks, the lock busy)."""
    rows_of = [(name, {k: _stamped(f, as_of) for k, f in fetched.items() if f.rows}) for name, fetched in gathered]
    rows_of = [(name, kinds) for name, kinds in rows_of if kinds]
    if not rows_of:
        return {}
    from screener.data.store import SnapshotLocked, SnapshotStore

    failed: dict[str, str] = {}
    try:
        with SnapshotStore(into, display, lock_timeout) as store:
            for name, kinds in rows_of:  # each provider checked on its own: one that fails writes nothing
                for kind, rows in kinds.items():
                    why = _merge_problem(store, kind, rows, display)
                    if why:
                        failed[name] = why
                        break
            combined: dict[str, list] = {}
            for name, kinds in rows_of:
                if name not in failed:
                    for kind, rows in kinds.items():
                        combined.setdefault(kind, []).extend(rows)
            reports = []
            for kind, rows in combined.items():
                why = _merge_problem(store, kind, _dedupe(rows, kind), display)
                if why:  # two providers' rows together fail: write nothing of either
                    return {**failed, **{name: why for name, kinds in rows_of if kind in kinds}}
                reports.append(store.merge(kind, _dedupe(rows, kind)))
            store.write(*reports)
    except SnapshotLocked as e:
        return {name: e.problems[0].message for name, _ in rows_of}
    return failed


def _stamped(f: Fetched, as_of: date) -> list[dict]:
    return _dedupe([{**r, "as_of": r.get("as_of") or as_of} for r in f.rows], f.kind)


def _merge_problem(store, kind: str, rows: list[dict], display) -> str | None:
    """Why merging `rows` into the current table of `kind` fails (None when it does not)."""
    from screener.problems import InputError

    shown = display(store.path(kind))
    try:
        report = store.merge(kind, rows)
    except InputError as e:
        return f"cannot merge into {shown}: {e.problems[0].message}"
    if report.problems:
        listed = "; ".join(p.message for p in report.problems[:3])
        listed += " ..." if len(report.problems) > 3 else ""
        return f"{shown}: the merged table fails its checks, nothing written: {listed}"
    return None


def cell_text(value) -> str | None:
    """A value as the snapshot writes it: plain decimals (no exponent, no trailing zeros),
    `true`/`false`, ISO dates; None stays empty."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        value = Decimal(repr(value))
    if isinstance(value, Decimal):
        d = value.normalize()
        text = format(d, "f")
        return "0" if text in ("-0", "0") else text
    if isinstance(value, date):
        return value.isoformat()
    text = str(value).strip()
    return text or None


def _dedupe(rows: list[dict], kind: str) -> list[dict]:
    """One row per key (the first wins), as text."""
    from screener.data.schemas import SPECS

    columns, key = SPECS[kind]
    out: dict[tuple, dict] = {}
    for row in rows:
        text = {c.name: cell_text(row.get(c.name)) for c in columns}
        k = tuple(text[c] for c in key)
        out.setdefault(k, text)
    return list(out.values())
