"""yfinance: consensus EPS and prices from Yahoo Finance (US listings; HK and Shanghai/Shenzhen
work too when asked for by name, Beijing does not exist on Yahoo).

Transport calls: `("earnings_estimate", ticker="IONQ")` and `("info", ticker="IONQ")`, i.e. the
`Ticker` properties. Shapes (ranaroussi/yfinance @ 93eb4c2, `yfinance/scrapers/analysis.py`
`_get_periodic_df`): `earnings_estimate` is a DataFrame indexed by `period` (`0q`, `+1q`, `0y`,
`+1y`) with columns `avg, low, high, yearAgoEps, numberOfAnalysts, growth` and, in recent
versions, `currency` (Yahoo's earningsCurrency); an empty DataFrame when no analyst covers the
stock. `info` is a dict with `currentPrice`/`regularMarketPrice`, `currency`, `marketCap`,
`financialCurrency`, `forwardEps` and `lastFiscalYearEnd`/`nextFiscalYearEnd` (epoch seconds).

Fiscal years: `0y` is the fiscal year in progress, named by the calendar year its end falls in
(Apple's year ending 2026-09-26 is 2026). Its end is `info["nextFiscalYearEnd"]`, else
`lastFiscalYearEnd` plus one year; without either, `0y` is taken as `as_of.year` (which is wrong
for a company with a non-calendar year, or between 1 January and its annual report: the report
then has a note). `+1y` is the year after; `yearAgoEps` of the `0y` row is the reported year
before it (`actual = true`, no analyst count). The currency of the EPS is the table's own
`currency` column when present, else `financialCurrency`, else the trading `currency`.

Prices: `close` = `currentPrice`, else `regularMarketPrice`; `currency` = `currency` (pence and
other minor units, `GBp`, `ZAc`, `ILA`, are converted to their major unit); `market_cap` = `marketCap`.
"""

from __future__ import annotations

import importlib
import time
from datetime import date, datetime, timezone
from decimal import Decimal
from typing import Any, Callable

from screener.data.providers.base import (
    Fetched, ProviderError, ProviderUnavailable, RateLimiter, call_with_deadline, quiet, is_blank, is_empty_frame,
    to_decimal, to_int, with_retries,
)
from screener.data.symbols import Symbol, SymbolError

#: Yahoo quotes some markets in minor units: (currency, divisor)
MINOR_UNITS = {"GBp": ("GBP", 100), "GBX": ("GBP", 100), "ZAc": ("ZAR", 100), "ILA": ("ILS", 100)}


class YfinanceTransport:
    """The real transport: the named property of `yfinance.Ticker(ticker)`, with a deadline.
    Importing it without yfinance installed raises `ProviderUnavailable`."""

    def __init__(self, timeout: float | None = 60.0, importer: Callable[[str], Any] = importlib.import_module):
        try:
            with quiet():  # importing a vendor package may print or warn
                self._yf = importer("yfinance")
        except ImportError:
            raise ProviderUnavailable("yfinance") from None
        self.timeout = timeout
        self._tickers: dict[str, Any] = {}

    def call(self, name: str, ticker: str, **kwargs):
        if ticker not in self._tickers:
            self._tickers[ticker] = self._yf.Ticker(ticker)
        t = self._tickers[ticker]

        def get():
            value = getattr(t, name)
            return value(**kwargs) if callable(value) else value

        with quiet():  # yfinance logs failures to stderr itself: the refresh reports in its own words
            return call_with_deadline(get, self.timeout, f"yfinance.Ticker({ticker!r}).{name}")


class YfinanceProvider:
    name = "yfinance"
    kinds = ("consensus", "prices")
    markets = ("US", "HK", "SH", "SZ")

    def __init__(self, transport=None, rate: float | RateLimiter = 0.5, sleep: Callable[[float], None] = time.sleep,
                 *, clock: Callable[[], float] = time.monotonic, transport_factory: Callable[[], Any] | None = None,
                 attempts: int = 3, backoff: float = 1.0):
        self._transport = transport
        self._factory = transport_factory or YfinanceTransport
        self.limiter = rate if isinstance(rate, RateLimiter) else RateLimiter(rate, clock=clock, sleep=sleep)
        self.sleep = sleep
        self.attempts = attempts
        self.backoff = backoff
        self._info: dict[tuple[str, date], dict] = {}

    def transport(self):
        if self._transport is None:
            try:
                self._transport = self._factory()
            except ImportError:
                raise ProviderUnavailable("yfinance") from None
        return self._transport

    def _call(self, name: str, ticker: str):
        transport = self.transport()
        self.limiter.wait()
        return with_retries(lambda: transport.call(name, ticker=ticker), attempts=self.attempts,
                            backoff=self.backoff, sleep=self.sleep, what=f"yfinance {ticker} {name}")

    def _ticker(self, sym: Symbol, notes: list[str]) -> str | None:
        if sym.market not in self.markets:
            notes.append(f"{sym.canonical()}: Yahoo Finance has no {sym.market} symbols")
            return None
        try:
            return sym.render("yahoo")
        except SymbolError as e:
            notes.append(f"{sym.canonical()}: {e.reason}")
            return None

    def info(self, ticker: str, as_of: date) -> dict:
        key = (ticker, as_of)
        if key not in self._info:
            value = self._call("info", ticker)
            self._info[key] = value if isinstance(value, dict) else {}
        return self._info[key]

    # -- consensus ------------------------------------------------------------------------------

    def consensus(self, symbols: list[Symbol], as_of: date) -> Fetched:
        notes: list[str] = []
        rows: list[dict] = []
        missing: list[str] = []
        asked = answered = 0
        for sym in symbols:
            ticker = self._ticker(sym, notes)
            if ticker is None:
                missing.append(sym.canonical())
                continue
            asked += 1
            frame = self._call("earnings_estimate", ticker)
            info = self.info(ticker, as_of)
            if info or not is_empty_frame(frame):
                answered += 1
            got = self._estimate_rows(sym, frame, info, as_of, notes)
            if got:
                rows.extend(got)
            else:
                missing.append(sym.canonical())
        _check_answered(asked, answered)
        rows.sort(key=lambda r: (r["symbol"], r["fiscal_year"]))
        return Fetched("consensus", rows, tuple(sorted(missing)), tuple(notes))

    def _estimate_rows(self, sym: Symbol, frame, info: dict, as_of: date, notes: list[str]) -> list[dict]:
        if is_empty_frame(frame):
            return []
        table = _by_period(frame, f"yfinance {sym.render('yahoo')} earnings_estimate")
        fy0 = _fiscal_year_0(info)
        if fy0 is None:
            fy0 = as_of.year
            notes.append(f"{sym.canonical()}: Yahoo gave no fiscal year end; `0y` taken as {fy0}")
        currency = _currency(table, info)
        out = []
        for period, year in (("0y", fy0), ("+1y", fy0 + 1)):
            r = table.get(period)
            eps = to_decimal(r.get("avg")) if r else None
            if eps is None:
                continue
            out.append(_row(sym, year, eps, False, as_of, currency, to_int(r.get("numberOfAnalysts"))))
        ago = to_decimal(table.get("0y", {}).get("yearAgoEps"))
        if ago is not None:
            out.append(_row(sym, fy0 - 1, ago, True, as_of, currency, None))
        return out

    # -- prices ---------------------------------------------------------------------------------

    def prices(self, symbols: list[Symbol], as_of: date) -> Fetched:
        notes: list[str] = []
        rows: list[dict] = []
        missing: list[str] = []
        asked = answered = 0
        for sym in symbols:
            ticker = self._ticker(sym, notes)
            if ticker is None:
                missing.append(sym.canonical())
                continue
            asked += 1
            info = self.info(ticker, as_of)
            if info:
                answered += 1
            close = next((d for d in (to_decimal(info.get(k)) for k in ("currentPrice", "regularMarketPrice"))
                          if d is not None and d > 0), None)
            currency = info.get("currency")
            if close is None or not isinstance(currency, str) or is_blank(currency):
                missing.append(sym.canonical())
                continue
            divisor = 1
            if currency in MINOR_UNITS:
                currency, divisor = MINOR_UNITS[currency]
            currency = currency.upper()
            cap = to_decimal(info.get("marketCap"))
            rows.append({"symbol": sym.canonical(), "close": close / divisor, "currency": currency, "as_of": as_of,
                         "market_cap": cap if cap is not None and cap > 0 else None})
        _check_answered(asked, answered)
        rows.sort(key=lambda r: r["symbol"])
        return Fetched("prices", rows, tuple(sorted(missing)), tuple(notes))


# -- helpers ----------------------------------------------------------------------------------------


def _check_answered(asked: int, answered: int) -> None:
    """yfinance hides network failures behind empty answers: when Yahoo said nothing at all about
    any ticker, that is an outage or a rate limit, not a list of uncovered stocks."""
    if asked and not answered:
        raise ProviderError(f"yfinance returned nothing for any of the {asked} ticker(s): Yahoo Finance is "
                            "unreachable or rate-limiting; try again later", transient=True)


def _row(sym: Symbol, year: int, eps: Decimal, actual: bool, as_of: date, currency, analysts) -> dict:
    return {"symbol": sym.canonical(), "fiscal_year": year, "eps": eps, "actual": actual, "as_of": as_of,
            "currency": currency, "analysts": analysts, "net_profit": None, "revenue": None}


def _by_period(frame, what: str) -> dict[str, dict]:
    """`earnings_estimate` rows keyed by period (`0y`, `+1y`), from the index or a `period` column."""
    if "period" in [str(c) for c in frame.columns]:
        frame = frame.set_index("period")
    if "avg" not in [str(c) for c in frame.columns]:
        raise ProviderError(f"{what}: the table has changed shape: no column avg "
                            f"(columns now: {', '.join(map(str, frame.columns))})")
    out = {}
    for period, row in zip(frame.index, frame.to_dict(orient="records")):
        out[str(period).strip()] = {str(k): v for k, v in row.items()}
    return out


def _epoch_date(value) -> date | None:
    d = to_decimal(value)
    if d is None:
        return None
    seconds = float(d) / 1000 if d > 10 ** 11 else float(d)  # milliseconds in some payloads
    try:
        return datetime.fromtimestamp(seconds, tz=timezone.utc).date()
    except (OverflowError, OSError, ValueError):
        return None


def _fiscal_year_0(info: dict) -> int | None:
    """The fiscal year in progress (Yahoo's `0y`), named by the calendar year it ends in."""
    nxt = _epoch_date(info.get("nextFiscalYearEnd"))
    if nxt is not None:
        return nxt.year
    last = _epoch_date(info.get("lastFiscalYearEnd"))
    return last.year + 1 if last is not None else None


def _currency(table: dict[str, dict], info: dict) -> str | None:
    for value in [r.get("currency") for r in table.values()] + [info.get("financialCurrency"), info.get("currency")]:
        if isinstance(value, str) and not is_blank(value):
            return MINOR_UNITS.get(value, (value,))[0].upper()
    return None
