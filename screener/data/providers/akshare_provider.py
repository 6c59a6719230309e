"""AKShare: consensus forecasts for A-shares and Hong Kong, ESG ratings from Sina.

Calls (all through the `Transport` seam; shapes checked against AKShare's source and docs,
akfamily/akshare @ 0e7db00, `akshare/stock_fundamental/*.py`, `docs/data/stock/stock.md`):

* `stock_profit_forecast_ths(symbol="603019", indicator="预测年报每股收益")`, per A-share:
  `年度, 预测机构数, 最小值, 均值, 最大值, 行业平均数`, one row per forecast year (EPS in yuan).
  `indicator="预测年报净利润"`: the same columns in 亿元 (a bare number is 亿元; a text cell such as
  `"829.14亿"` carries its unit). A stock no institution covers comes back as an empty frame
  (AKShare returns `pd.DataFrame()` when the page says 本年度暂无机构做出业绩预测).
* `stock_profit_forecast_em(symbol="")`, the whole A-share market in one call: `代码, 名称, 研报数,
  机构投资评级(近六个月)-..., <YYYY>预测每股收益 x 4`. The four year columns move on every year
  (`2025预测每股收益` ... `2028预测每股收益` become `2026...` ... `2029...`): they are found by
  their pattern, never by position. AKShare drops East Money's YEAR_MARK (A = actual, E = estimate),
  so a year counts as reported once its annual report is due: year Y is actual from 1 May Y+1
  (A-share annual reports are due by 30 April).
* `stock_hk_profit_forecast_et(symbol="00020", indicator="盈利预测概览")`, per Hong Kong stock:
  one row per broker and year, `财政年度, 纯利/亏损 (百万), 每股盈利 (分 or 港仙), 每股派息, 证券商, 评级,
  目标价, 更新日期`. EPS is divided by 100; the consensus is the mean over brokers and `analysts` the
  number of brokers. The currency is read from the table's own unit text (`(分)` / `人民币` is CNY,
  `港仙` / `港元` is HKD); AKShare's renaming usually removes it, and then the currency is left empty
  (the screen then assumes the trading currency) and a note says so.
* ESG, market-wide: `stock_esg_hz_sina` (华证, grade in `ESG等级`, date `日期`), `stock_esg_msci_sina`
  (MSCI, the letter grade is in `ESG评分`, date `评级日期`), `stock_esg_zd_sina` (秩鼎, `ESG评分` is
  `"85.98(AAA)"`, date `评分日期`). Real captures of these three are in tests/fixtures/providers/.
  The snapshot's `rating` column must be a grade on the scale (`schemas`, `grades.GRADE_REGEX`), so
  秩鼎's `"85.98(AAA)"` is written whole: the schema accepts a score with its grade, and esg_score uses the score. 路孚特
  (`stock_esg_rft_sina`, A+..D- on its own scale) and `stock_esg_rate_sina` (mixed scales and
  numbers) are not read: their grades do not map onto the project's scale.

How the A-share sources combine, per stock and fiscal year: East Money's reported year (actual)
wins; otherwise THS's forecast (it also has the number of institutions and net profit), otherwise
East Money's. A forecast for a year whose annual report is already due (the THS page keeps old
years, sometimes twice) is dropped; a year THS lists twice with different numbers is dropped.
"""

from __future__ import annotations

import importlib
import re
import time
from collections import defaultdict
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Callable

from screener.rules.grades import parse_grade
from screener.data.providers.base import (
    Fetched, ProviderError, ProviderUnavailable, RateLimiter, call_with_deadline, quiet, cents_to_units,
    is_blank, is_empty_frame, parse_amount, records, require_columns, to_decimal, to_int, with_retries,
    year_of,
)
from screener.data.symbols import Symbol, try_parse

CN_MARKETS = ("SH", "SZ", "BJ")
HK_MARKETS = ("HK",)
YI = Decimal(10) ** 8
MILLION = Decimal(10) ** 6
EPS_PLACES = Decimal("0.000001")

#: (AKShare function, rater name, grade column, date column)
ESG_TABLES: tuple[tuple[str, str, str, str], ...] = (
    ("stock_esg_hz_sina", "华证", "ESG等级", "日期"),
    ("stock_esg_msci_sina", "MSCI", "ESG评分", "评级日期"),
    ("stock_esg_zd_sina", "秩鼎", "ESG评分", "评分日期"),
)
_EM_YEAR = re.compile(r"^\s*((?:19|20|21)\d{2})\s*年?\s*预测每股收益\s*$")
_GRADE_IN_PARENS = re.compile(r"\(\s*([A-Z]{1,3}[+-]?)\s*\)")


def report_due(year: int) -> date:
    """The day by which every A-share annual report for `year` is out (30 April, so 1 May)."""
    return date(year + 1, 5, 1)


class AkshareTransport:
    """The real transport: `getattr(akshare, name)(**kwargs)`, with a deadline per call.
    Importing it without akshare installed raises `ProviderUnavailable`."""

    def __init__(self, timeout: float | None = 180.0, importer: Callable[[str], Any] = importlib.import_module):
        try:
            with quiet():  # importing a vendor package may print or warn
                self._ak = importer("akshare")
        except ImportError:
            raise ProviderUnavailable("akshare") from None
        self.timeout = timeout

    def call(self, name: str, **kwargs):
        fn = getattr(self._ak, name, None)
        if fn is None:
            raise ProviderError(f"akshare has no function {name}: upgrade akshare (pip install -U akshare)")
        with quiet():  # AKShare's progress bars and prints: the refresh reports in its own words
            return call_with_deadline(lambda: fn(**kwargs), self.timeout, f"akshare.{name}")


class AkshareProvider:
    name = "akshare"
    kinds = ("consensus", "esg")
    markets = CN_MARKETS + HK_MARKETS

    def __init__(self, transport=None, rate: float | RateLimiter = 0.5, sleep: Callable[[float], None] = time.sleep,
                 *, clock: Callable[[], float] = time.monotonic, transport_factory: Callable[[], Any] | None = None,
                 attempts: int = 3, backoff: float = 1.0, sources: tuple[str, ...] = ("ths", "em"),
                 esg_tables: tuple[tuple[str, str, str, str], ...] = ESG_TABLES):
        self._transport = transport
        self._factory = transport_factory or AkshareTransport
        self.limiter = rate if isinstance(rate, RateLimiter) else RateLimiter(rate, clock=clock, sleep=sleep)
        self.sleep = sleep
        self.attempts = attempts
        self.backoff = backoff
        unknown = set(sources) - {"ths", "em"}
        if unknown or not sources:
            raise ValueError(f"sources must be a non-empty subset of ('ths', 'em'), got {sources!r}")
        self.sources = tuple(sources)
        self.esg_tables = esg_tables

    # -- plumbing -------------------------------------------------------------------------

    def transport(self):
        if self._transport is None:
            try:
                self._transport = self._factory()
            except ImportError:
                raise ProviderUnavailable("akshare") from None
        return self._transport

    def _call(self, name: str, **kwargs):
        transport = self.transport()
        args = ", ".join(f"{k}={v!r}" for k, v in kwargs.items())
        self.limiter.wait()
        return with_retries(lambda: transport.call(name, **kwargs), attempts=self.attempts, backoff=self.backoff,
                            sleep=self.sleep, what=f"akshare.{name}({args})")

    def _call_stock(self, name: str, notes: list[str], tally: dict, sym: Symbol, **kwargs):
        """A per-stock call: a permanent failure for one stock becomes a note (the stock ends up
        in `missing`), a transient one that outlived the retries aborts the provider."""
        try:
            frame = self._call(name, **kwargs)
        except ProviderError as e:
            if e.transient:
                raise
            notes.append(f"{sym.canonical()}: {e}")
            tally["failed"] += 1
            tally.setdefault("first", str(e))
            return None
        tally["ok"] += 1
        return frame

    # -- consensus ----------------------------------------------------------------------------

    def consensus(self, symbols: list[Symbol], as_of: date) -> Fetched:
        notes: list[str] = []
        cn = [s for s in symbols if s.market in CN_MARKETS]
        hk = [s for s in symbols if s.market in HK_MARKETS]
        for s in symbols:
            if s.market not in self.markets:
                notes.append(f"{s.canonical()}: akshare has no consensus for {s.market} symbols")
        tally = {"ok": 0, "failed": 0}
        by_symbol: dict[str, dict[int, dict]] = {}

        em = self._em_consensus(cn, as_of, notes) if cn and "em" in self.sources else {}
        for s in cn:
            key = s.canonical()
            years: dict[int, dict] = {}
            for year, row in em.get(key, {}).items():
                years[year] = row
            if "ths" in self.sources:
                for year, row in self._ths_consensus(s, as_of, notes, tally).items():
                    if years.get(year, {}).get("actual"):
                        continue  # East Money's reported year wins over a forecast for it
                    years[year] = row
            years = {y: r for y, r in years.items() if r["actual"] or as_of < report_due(y)}
            if years:
                by_symbol[key] = years
        for s in hk:
            years = self._et_consensus(s, as_of, notes, tally)
            if years:
                by_symbol[s.canonical()] = years
        if tally["failed"] and not tally["ok"]:
            raise ProviderError(f"akshare: every per-stock call failed, the first with: {tally['first']}")

        rows = [row for key in sorted(by_symbol) for _, row in sorted(by_symbol[key].items())]
        missing = tuple(sorted({s.canonical() for s in symbols} - set(by_symbol)))
        return Fetched("consensus", rows, missing, tuple(notes))

    def _row(self, sym: Symbol, year: int, eps: Decimal, actual: bool, as_of: date, *, currency=None,
             analysts=None, net_profit=None, revenue=None) -> dict:
        return {"symbol": sym.canonical(), "fiscal_year": year, "eps": eps, "actual": actual, "as_of": as_of,
                "currency": currency, "analysts": analysts, "net_profit": net_profit, "revenue": revenue}

    def _ths_consensus(self, sym: Symbol, as_of: date, notes: list[str], tally: dict) -> dict[int, dict]:
        code = sym.render("akshare")
        what = f"akshare.stock_profit_forecast_ths(symbol={code!r})"
        eps_frame = self._call_stock("stock_profit_forecast_ths", notes, tally, sym, symbol=code,
                                     indicator="预测年报每股收益")
        if is_empty_frame(eps_frame):
            return {}
        require_columns(eps_frame, ("年度", "均值"), what + " 预测年报每股收益")
        eps_rows = _unique_years(sym, "EPS", [
            (year_of(r["年度"]), (to_decimal(r["均值"]), to_int(r.get("预测机构数"))))
            for r in records(eps_frame)], notes)
        out = {}
        for year, (eps, analysts) in eps_rows.items():
            if eps is not None:
                out[year] = self._row(sym, year, eps, False, as_of, currency="CNY", analysts=analysts)
        if not out:
            return {}
        net_frame = self._call_stock("stock_profit_forecast_ths", notes, tally, sym, symbol=code,
                                     indicator="预测年报净利润")
        if not is_empty_frame(net_frame):
            require_columns(net_frame, ("年度", "均值"), what + " 预测年报净利润")
            net = _unique_years(sym, "net profit", [
                (year_of(r["年度"]), parse_amount(r["均值"], YI)) for r in records(net_frame)], notes)
            for year, amount in net.items():
                if year in out and amount is not None:
                    out[year]["net_profit"] = amount.quantize(Decimal(1))
        return out

    def _em_consensus(self, cn: list[Symbol], as_of: date, notes: list[str]) -> dict[str, dict[int, dict]]:
        frame = self._call("stock_profit_forecast_em", symbol="")
        if is_empty_frame(frame):
            notes.append("akshare.stock_profit_forecast_em returned an empty table")
            return {}
        what = "akshare.stock_profit_forecast_em()"
        require_columns(frame, ("代码",), what)
        year_columns = {int(m.group(1)): str(c) for c in frame.columns if (m := _EM_YEAR.match(str(c)))}
        if not year_columns:
            raise ProviderError(f"{what}: the table has changed shape: no `<year>预测每股收益` columns "
                                f"(columns now: {', '.join(map(str, list(frame.columns)[:20]))})")
        wanted = {s.render("akshare"): s for s in cn}
        out: dict[str, dict[int, dict]] = {}
        for r in records(frame):
            code = _code_text(r.get("代码"))
            sym = wanted.get(code) if code else None
            if sym is None or sym.canonical() in out:
                continue
            analysts = to_int(r.get("研报数"))
            years = {}
            for year, column in sorted(year_columns.items()):
                eps = to_decimal(r.get(column))
                if eps is None:
                    continue
                actual = as_of >= report_due(year)
                years[year] = self._row(sym, year, eps, actual, as_of, currency="CNY",
                                        analysts=None if actual else analysts)
            if years:
                out[sym.canonical()] = years
        return out

    def _et_consensus(self, sym: Symbol, as_of: date, notes: list[str], tally: dict) -> dict[int, dict]:
        code = sym.render("akshare")
        what = f"akshare.stock_hk_profit_forecast_et(symbol={code!r})"
        frame = self._call_stock("stock_hk_profit_forecast_et", notes, tally, sym, symbol=code,
                                 indicator="盈利预测概览")
        if is_empty_frame(frame):
            return {}
        columns = [str(c).strip() for c in frame.columns]
        eps_col = next((c for c in columns if c.startswith("每股盈利")), None)
        net_col = next((c for c in columns if c.startswith("纯利")), None)
        if "财政年度" not in columns or eps_col is None:
            raise ProviderError(f"{what}: the table has changed shape: no 财政年度 / 每股盈利 columns "
                                f"(columns now: {', '.join(columns[:20])})")
        currency = _hk_currency(eps_col, net_col)
        if currency is None:
            notes.append(f"{sym.canonical()}: the ETNet table does not say whether EPS is in 分 (CNY) or 港仙 "
                         "(HKD); currency left empty, so the trading currency is assumed")
        per_year: dict[int, dict[str, list[Decimal]]] = defaultdict(lambda: {"eps": [], "net": []})
        for r in records(frame):
            year = year_of(r.get("财政年度"))
            eps = cents_to_units(r.get(eps_col))
            if year is None or eps is None:
                continue
            per_year[year]["eps"].append(eps)
            net = parse_amount(r.get(net_col), MILLION) if net_col else None
            if net is not None:
                per_year[year]["net"].append(net)
        out = {}
        for year, v in sorted(per_year.items()):
            eps = _mean(v["eps"]).quantize(EPS_PLACES).normalize()
            net = _mean(v["net"]).quantize(Decimal(1)) if v["net"] else None
            out[year] = self._row(sym, year, eps, False, as_of, currency=currency, analysts=len(v["eps"]),
                                  net_profit=net)
        return out

    # -- ESG --------------------------------------------------------------------------------------

    def esg(self, symbols: list[Symbol], as_of: date) -> Fetched:
        notes: list[str] = []
        wanted = {s.canonical() for s in symbols if s.market != "PRIVATE"}
        rows: dict[tuple[str, str, date], dict] = {}
        if wanted:
            for function, rater, grade_col, date_col in self.esg_tables:
                frame = self._call(function)
                if is_empty_frame(frame):
                    notes.append(f"akshare.{function} returned an empty table")
                    continue
                require_columns(frame, ("股票代码", grade_col), f"akshare.{function}()")
                hint_col = next((c for c in ("交易市场", "交易所") if c in frame.columns), None)
                for r in records(frame):
                    sym = _table_symbol(r.get("股票代码"), r.get(hint_col) if hint_col else None)
                    if sym is None or sym.canonical() not in wanted:
                        continue
                    raw = r.get(grade_col)
                    grade = _grade(raw)
                    if grade is None:
                        if not is_blank(raw):
                            notes.append(f"{sym.canonical()}: {rater} rating {raw!r} is not a grade on the scale; skipped")
                        continue
                    when = _date(r.get(date_col)) or as_of
                    key = (sym.canonical(), rater, when)
                    # a score published with its grade ("85.98(AAA)", 秩鼎) is kept whole: esg_score uses the score
                    rating = raw.strip() if isinstance(raw, str) and _GRADE_IN_PARENS.search(raw) else grade
                    if key not in rows:
                        rows[key] = {"symbol": key[0], "rater": rater, "rating": rating, "as_of": when}
        found = {k[0] for k in rows}
        missing = tuple(sorted(wanted - found) + sorted(s.canonical() for s in symbols if s.market == "PRIVATE"))
        return Fetched("esg", [rows[k] for k in sorted(rows)], missing, tuple(notes))


# -- helpers --------------------------------------------------------------------------------------


def _unique_years(sym: Symbol, what: str, pairs: list[tuple[int | None, Any]], notes: list[str]) -> dict[int, Any]:
    """Year -> value; a year listed twice with different values is dropped (with a note): the THS
    page sometimes mixes an old forecast table into the new one."""
    seen: dict[int, Any] = {}
    conflict: set[int] = set()
    for year, value in pairs:
        if year is None:
            continue
        if year in seen and seen[year] != value:
            conflict.add(year)
        seen.setdefault(year, value)
    for year in sorted(conflict):
        notes.append(f"{sym.canonical()}: THS lists {what} for {year} twice with different numbers; year skipped")
        del seen[year]
    return seen


def _mean(values: list[Decimal]) -> Decimal:
    return sum(values, Decimal(0)) / len(values)


def _code_text(value) -> str | None:
    """East Money's `代码` as six-digit text (a frame read from CSV may hold 977 for 000977)."""
    if is_blank(value):
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    text = str(value).strip()
    return text.zfill(6) if text.isdigit() and len(text) < 6 else text


def _hk_currency(eps_col: str, net_col: str | None) -> str | None:
    text = eps_col + " " + (net_col or "")
    if "港仙" in text or "港元" in text:
        return "HKD"
    if "(分)" in text or "（分）" in text or "人民币" in text or re.search(r"\(\s*分\s*\)", text):
        return "CNY"
    return None


_US_MARKET_WORDS = ("US", "纳斯达克", "纽交所", "美国")


def _table_symbol(code, market) -> Symbol | None:
    """A Sina ESG table's `股票代码` (`600522.SH`, `00066.HK`, `UVE.US`, bare `MFA`) as a Symbol."""
    if is_blank(code):
        return None
    sym = try_parse(str(code).strip())
    if sym is None and isinstance(market, str) and any(w in market.upper() for w in _US_MARKET_WORDS):
        sym = try_parse(f"{str(code).strip()}.US")
    return sym


def _grade(value) -> str | None:
    """`AAA` -> `AAA`; 秩鼎's `"85.98(AAA)"` -> `AAA`; anything off the scale -> None."""
    if is_blank(value) or not isinstance(value, str):
        return None
    m = _GRADE_IN_PARENS.search(value)
    return parse_grade(m.group(1) if m else value.strip())


def _date(value) -> date | None:
    if is_blank(value):
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if hasattr(value, "to_pydatetime"):  # pandas Timestamp
        try:
            return value.to_pydatetime().date()
        except (ValueError, OverflowError):
            return None
    text = str(value).strip()[:10]
    for fmt in ("%Y-%m-%d", "%Y/%m/%d", "%Y%m%d"):
        try:
            return datetime.strptime(text if fmt != "%Y%m%d" else text[:8], fmt).date()
        except ValueError:
            continue
    return None
