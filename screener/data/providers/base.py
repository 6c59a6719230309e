"""What every live data provider shares: errors, the result type, the transport seam, retries,
a rate limiter, a call deadline and the unit conversions vendor tables need.

A provider never talks to the network itself: it asks a `Transport` (`call(name, **kwargs)`),
which for AKShare is `getattr(akshare, name)(**kwargs)` and for yfinance an attribute of a
`Ticker`. Tests replace the transport with one that returns recorded-shape frames, so nothing
here needs a network, and the optional packages are imported only by the default transports.
"""

from __future__ import annotations

import http.client
import json
import math
import re
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any, Callable, Protocol

INSTALL_HINT = "pip install -e '.[live]'"


class ProviderUnavailable(RuntimeError):
    """The optional package behind a provider is not installed. The message is one line
    ending with the install command."""

    def __init__(self, package: str):
        self.package = package
        super().__init__(f"{package} is not installed; install the live-data extras: {INSTALL_HINT}")


class ProviderError(RuntimeError):
    """A provider failed (network down after retries, a changed table shape, ...). The message
    names the call that failed. `transient` is true when retrying later may succeed."""

    def __init__(self, message: str, *, transient: bool = False):
        self.transient = transient
        super().__init__(message)


@dataclass(frozen=True)
class Fetched:
    """Rows of one snapshot kind (`consensus`, `prices`, `esg`) in the snapshot's columns.

    `missing` lists the canonical symbols the provider had nothing for; `notes` says what was
    skipped or assumed and why (one line each), for the refresh report.
    """

    kind: str
    rows: list[dict]
    missing: tuple[str, ...]
    notes: tuple[str, ...] = ()


class Transport(Protocol):
    """The seam tests replace: one vendor call by name."""

    def call(self, name: str, **kwargs) -> Any:  # pandas.DataFrame | dict
        ...


# -- retries ----------------------------------------------------------------------------

_TRANSIENT_NAMES = ("timeout", "connectionerror", "ratelimit", "toomanyrequests", "remotedisconnected",
                    "chunkedencodingerror", "protocolerror", "incompleteread", "temporar")


def is_transient(error: BaseException) -> bool:
    """Network trouble that may pass: timeouts, refused/reset connections, HTTP 429 and 5xx,
    a truncated or non-JSON reply (what rate-limited Chinese endpoints send), and any exception
    whose class name says timeout, connection error or rate limit (requests, urllib3,
    curl_cffi and yfinance spell these differently). Everything else (a KeyError from a changed
    table, a 404, a bad argument) is permanent and is not retried."""
    status = getattr(getattr(error, "response", None), "status_code", None)
    if isinstance(status, int):
        return status == 429 or status >= 500
    if isinstance(error, (TimeoutError, ConnectionError, http.client.HTTPException, json.JSONDecodeError)):
        return True
    names = " ".join(k.__name__.lower() for k in type(error).__mro__)
    if any(n in names for n in _TRANSIENT_NAMES):
        return True
    # requests/urllib3 errors derive from OSError; a plain OSError from a socket is transient too,
    # but not a missing file or a permission error
    return isinstance(error, OSError) and not isinstance(error, (FileNotFoundError, PermissionError))


def with_retries(fn: Callable[[], Any], *, attempts: int = 3, backoff: float = 1.0,
                 sleep: Callable[[float], None] = time.sleep, what: str = "") -> Any:
    """`fn()`, retried on transient errors with exponential backoff (`backoff`, `2*backoff`,
    `4*backoff` ... seconds between attempts). A permanent error, or the last transient one,
    becomes a `ProviderError` naming `what`. `ProviderUnavailable` and `ProviderError` pass
    through untouched."""
    attempts = max(1, int(attempts))
    label = what or getattr(fn, "__name__", "call")
    for i in range(attempts):
        try:
            return fn()
        except (ProviderUnavailable, ProviderError):
            raise
        except Exception as e:  # noqa: BLE001 - classified below
            if not is_transient(e):
                raise ProviderError(f"{label} failed: {_describe(e)}") from e
            if i == attempts - 1:
                raise ProviderError(f"{label} failed after {attempts} attempts: {_describe(e)}",
                                    transient=True) from e
            sleep(backoff * (2 ** i))
    raise AssertionError("unreachable")  # pragma: no cover


def _describe(e: BaseException) -> str:
    """One short line for an error: network trouble in words (`describe_network_error`), else
    the exception's class and the first line of its message."""
    network = describe_network_error(e)
    if network:
        return network
    text = str(e).strip().splitlines()
    return f"{type(e).__name__}: {_shorten(text[0])}" if text else type(e).__name__


#: what the networking libraries say, in words (the first pattern found in the error's text wins)
_NETWORK_REASONS: tuple[tuple[str, str], ...] = (
    (r"name or service not known|temporary failure in name resolution|nodename nor servname|getaddrinfo failed|"
     r"no address associated|name resolution|could not resolve host|failed to resolve", "the host name does not resolve"),
    (r"connection refused|actively refused", "connection refused"),
    (r"network is unreachable|no route to host|host is unreachable", "network unreachable"),
    (r"proxyerror|tunnel connection failed|unable to connect to proxy", "the proxy refused the connection"),
    (r"certificate|ssl|tls", "TLS handshake failed (a proxy or firewall in the way?)"),
    (r"timed out|timeout", "timed out"),
    (r"connection reset|connection aborted|remote end closed|remotedisconnected|broken pipe", "connection dropped"),
)
_HOST = re.compile(r"host='([^']+)'|https?://([^/:\s'\"]+)|Could not resolve host: ([^\s'\"]+)")


def describe_network_error(error: BaseException) -> str | None:
    """A failure to reach a vendor as one plain line ("cannot reach push2.eastmoney.com: the
    host name does not resolve (offline, or the host is blocked)"), never urllib3's nested text
    with object addresses; None when `error` (with its causes) is not about the network. A
    refused or blocked HTTP status (403, 407, 429, 451) counts."""
    chain, seen = [], set()
    e: BaseException | None = error
    while e is not None and id(e) not in seen:
        seen.add(id(e))
        chain.append(e)
        e = e.__cause__ or e.__context__
    text = " ".join(f"{type(x).__name__} {x}" for x in chain)
    status = next((getattr(getattr(x, "response", None), "status_code", None) for x in chain
                   if isinstance(getattr(getattr(x, "response", None), "status_code", None), int)), None)
    host = next((next(g for g in m.groups() if g) for m in [_HOST.search(text)] if m), None)
    where = f"cannot reach {host}" if host else "cannot reach the provider"
    if status in (403, 407, 451):
        return f"{where}: refused with HTTP {status} (blocked from this network?)"
    if status == 429:
        return f"{where}: rate-limited (HTTP 429); try again later"
    networky = any(isinstance(x, (ConnectionError, TimeoutError, http.client.HTTPException)) for x in chain) or \
        any(n in " ".join(k.__name__.lower() for x in chain for k in type(x).__mro__) for n in _TRANSIENT_NAMES) or \
        "max retries exceeded" in text.lower()
    lowered = text.lower()
    if not networky and any(isinstance(x, OSError) and not isinstance(x, (FileNotFoundError, PermissionError))
                            for x in chain):  # a socket's own OSError: network only if it says so
        networky = any(re.search(pattern, lowered) for pattern, _ in _NETWORK_REASONS)
    if not networky:
        return None
    waited = re.search(r"gave no answer within ([\d.]+ s)", text)  # `call_with_deadline`'s own timeout
    if waited:
        return f"{where}: no answer within {waited.group(1)} (offline, blocked, or the host is slow)"
    for pattern, reason in _NETWORK_REASONS:
        if re.search(pattern, lowered):
            return f"{where}: {reason} (offline, or the host is blocked)"
    return f"{where}: {_shorten(str(error).splitlines()[0]) if str(error).strip() else type(error).__name__} " \
           "(offline, or the host is blocked)"


def _shorten(text: str, limit: int = 160) -> str:
    """Text without object addresses (`<... object at 0x7f...>`), cut at `limit` characters."""
    text = re.sub(r"<[^<>]* object at 0x[0-9a-f]+>", "", text).strip()
    return text if len(text) <= limit else text[: limit - 3].rstrip() + "..."


#: loggers of the vendor libraries and their HTTP stacks, silenced while a vendor call runs
_NOISY_LOGGERS = ("yfinance", "akshare", "urllib3", "requests", "curl_cffi", "peewee", "py_mini_racer")


@contextmanager
def quiet():
    """Run a vendor call without its noise: progress bars and prints (AKShare's tqdm bars write
    to stderr), log records of the vendor libraries, and warnings. What went wrong still
    reaches us as an exception, which the refresh reports in one line per provider.

    Standard streams are swapped process-wide, so use it around the call in the calling thread
    (not inside a worker thread that may outlive it)."""
    import contextlib
    import io
    import logging
    import warnings

    loggers = [logging.getLogger(n) for n in _NOISY_LOGGERS]
    saved = [(lg, lg.level) for lg in loggers]
    sink = io.StringIO()
    try:
        for lg in loggers:  # a level above CRITICAL also silences their children (NOTSET inherits it)
            lg.setLevel(logging.CRITICAL + 1)
        with warnings.catch_warnings(), contextlib.redirect_stderr(sink), contextlib.redirect_stdout(sink):
            warnings.simplefilter("ignore")
            yield
    finally:
        for lg, level in saved:
            lg.setLevel(level)


class RateLimiter:
    """At least `interval` seconds between the starts of two calls (`wait()` before each call).
    The clock and sleep are injectable so tests run instantly."""

    def __init__(self, interval: float = 0.5, *, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep):
        self.interval = max(0.0, float(interval))
        self.clock = clock
        self.sleep = sleep
        self._last: float | None = None

    def wait(self) -> float:
        """Sleep as needed; returns the seconds slept."""
        slept = 0.0
        if self._last is not None and self.interval > 0:
            due = self._last + self.interval - self.clock()
            if due > 0:
                self.sleep(due)
                slept = due
        self._last = self.clock()
        return slept


def call_with_deadline(fn: Callable[[], Any], seconds: float | None, what: str = "call") -> Any:
    """Run `fn()` but give up after `seconds` with `TimeoutError` (transient, so retried).

    AKShare and yfinance accept no timeout on most calls, so the call runs in a daemon thread
    that is abandoned on expiry (it cannot block the process from exiting)."""
    if not seconds:
        return fn()
    box: dict[str, Any] = {}

    def run():
        try:
            box["value"] = fn()
        except BaseException as e:  # noqa: BLE001 - re-raised in the caller's thread
            box["error"] = e

    worker = threading.Thread(target=run, name=f"provider-call:{what}", daemon=True)
    worker.start()
    worker.join(seconds)
    if worker.is_alive():
        raise TimeoutError(f"{what} gave no answer within {seconds:g} s")
    if "error" in box:
        raise box["error"]
    return box.get("value")


# -- cells and units ------------------------------------------------------------------------

_BLANKS = {"", "-", "--", "---", "—", "——", "nan", "none", "null", "n/a", "na", "不适用"}
#: Chinese magnitude suffixes as vendors print them: "829.14亿" is 829.14 x 10^8
CN_UNITS = {"万亿": Decimal(10) ** 12, "亿": Decimal(10) ** 8, "千万": Decimal(10) ** 7,
            "百万": Decimal(10) ** 6, "万": Decimal(10) ** 4, "千": Decimal(10) ** 3}
_AMOUNT_RE = re.compile(r"^([+-]?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)\s*(万亿|亿|千万|百万|万|千)?\s*(?:元|港元|美元)?$")


def is_blank(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, float) and math.isnan(value):
        return True
    if isinstance(value, str) and value.strip().lower() in _BLANKS:
        return True
    try:  # pandas.NA / NaT
        import pandas as pd

        return bool(pd.isna(value)) if not isinstance(value, (str, bytes, list, tuple, dict)) else False
    except (ImportError, TypeError, ValueError):
        return False


def to_decimal(value: Any) -> Decimal | None:
    """A plain number as an exact Decimal (floats through their shortest repr, so 0.1 stays 0.1);
    None for blanks, text with units, or anything else that is not a plain number."""
    if is_blank(value) or isinstance(value, bool):
        return None
    if isinstance(value, Decimal):
        return value if value.is_finite() else None
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, float):
        return Decimal(repr(value)) if math.isfinite(value) else None
    try:
        if hasattr(value, "item"):  # numpy scalars
            return to_decimal(value.item())
    except (TypeError, ValueError):
        return None
    text = str(value).strip().replace(",", "")
    try:
        d = Decimal(text)
    except InvalidOperation:
        return None
    return d if d.is_finite() else None


def parse_amount(value: Any, default_unit: Decimal | int = 1) -> Decimal | None:
    """An amount in plain units of its currency. A bare number is in `default_unit` (10**8 for a
    table headed 亿元); text carries its own unit: `"829.14亿"` -> 82914000000, `"3.5万"` -> 35000,
    `"1.2万亿"` -> 1.2e12. Blanks (`-`, `--`, NaN) and percentages are None."""
    if is_blank(value):
        return None
    if not isinstance(value, str):
        d = to_decimal(value)
        return None if d is None else d * Decimal(default_unit)
    text = value.strip().replace(",", "").replace(" ", "")
    m = _AMOUNT_RE.match(text)
    if not m:
        return None
    number = Decimal(m.group(1))
    unit = CN_UNITS[m.group(2)] if m.group(2) else Decimal(default_unit)
    return number * unit


def cents_to_units(value: Any) -> Decimal | None:
    """分 (fen) or 港仙 (Hong Kong cents) to yuan / dollars: `814.0` -> `8.14`."""
    d = to_decimal(value)
    return None if d is None else d / 100


def year_of(value: Any) -> int | None:
    """The four-digit year in a cell such as `2026`, `"2026"`, `"2026E"`, `"2026年"`, `"预测2026-平均"`."""
    if is_blank(value):
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    m = re.search(r"(?<!\d)(19\d{2}|20\d{2}|21\d{2})(?!\d)", str(value))
    return int(m.group(1)) if m else None


def to_int(value: Any) -> int | None:
    d = to_decimal(value)
    if d is None or d != d.to_integral_value():
        return None
    return int(d)


def require_columns(frame, columns: tuple[str, ...], what: str) -> None:
    """A non-empty vendor frame without the columns we read means the vendor changed its table:
    fail loudly rather than write half-understood numbers."""
    have = [str(c) for c in getattr(frame, "columns", [])]
    lost = [c for c in columns if c not in have]
    if lost:
        raise ProviderError(f"{what}: the table has changed shape: no column {', '.join(lost)} "
                            f"(columns now: {', '.join(have[:20]) or 'none'})")


def is_empty_frame(frame) -> bool:
    """None, an empty DataFrame or an empty dict: the vendor has nothing for that symbol."""
    if frame is None:
        return True
    if isinstance(frame, dict):
        return len(frame) == 0
    return bool(getattr(frame, "empty", False)) or len(getattr(frame, "columns", [])) == 0


def records(frame) -> list[dict]:
    """A pandas DataFrame's rows as dicts (column names as strings)."""
    if is_empty_frame(frame):
        return []
    frame = frame.rename(columns=lambda c: str(c).strip())
    return frame.to_dict(orient="records")
