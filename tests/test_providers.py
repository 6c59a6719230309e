"""Live data providers, offline: fake transports return recorded-shape vendor tables built from
tests/fixtures/providers/ (see the README there for what each file is modelled on; the Sina ESG
files are real MIT-licensed captures, the others illustrative numbers in the real column names).
Nothing here imports akshare or yfinance or touches the network."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from pathlib import Path

import pandas as pd
import pytest

from screener.data.snapshot import load_snapshot
from screener.data.providers.akshare_provider import AkshareProvider, AkshareTransport
from screener.data.providers.base import (
    INSTALL_HINT, ProviderError, ProviderUnavailable, RateLimiter, call_with_deadline, cents_to_units,
    parse_amount, with_retries,
)
from screener.data.providers.refresh import cell_text, refresh
from screener.data.providers.yfinance_provider import YfinanceProvider, YfinanceTransport
from screener.data.symbols import parse_symbol

FIX = Path(__file__).resolve().parent / "fixtures" / "providers"
D1 = date(2026, 6, 30)
YI = Decimal(10) ** 8


def frame(name: str, **kw) -> pd.DataFrame:
    return pd.read_csv(FIX / name, **kw)


def syms(*texts):
    return [parse_symbol(t) for t in texts]


def ths_eps():
    return frame("stock_profit_forecast_ths_603019_eps.csv", dtype={"年度": str})


def ths_net():
    # 均值 mixes bare numbers (亿元) and text such as "27.26亿": pandas reads the column as text,
    # as it does for the real page
    return frame("stock_profit_forecast_ths_603019_net.csv", dtype=str)


def esg_frames():
    hz = frame("stock_esg_hz_sina.csv")
    hz["日期"] = pd.to_datetime(hz["日期"]).dt.date  # AKShare converts the date columns
    msci = frame("stock_esg_msci_sina.csv")
    msci["评级日期"] = pd.to_datetime(msci["评级日期"]).dt.date
    zd = frame("stock_esg_zd_sina.csv")
    return {"stock_esg_hz_sina": hz, "stock_esg_msci_sina": msci, "stock_esg_zd_sina": zd}


class FakeTransport:
    """Answers recorded calls; anything else is an empty frame (what AKShare returns for a stock
    nobody covers). `fail` maps a call name to a list of exceptions raised first, in order."""

    def __init__(self, responses: dict, fail: dict | None = None):
        self.responses = responses
        self.fail = {k: list(v) for k, v in (fail or {}).items()}
        self.calls: list[tuple] = []

    def call(self, name, **kwargs):
        self.calls.append((name, tuple(sorted(kwargs.items()))))
        errors = self.fail.get(name)
        if errors:
            raise errors.pop(0)
        key = (name, tuple(sorted(kwargs.items())))
        value = self.responses.get(key, self.responses.get(name))
        if callable(value):
            value = value()
        return pd.DataFrame() if value is None else value


def ak_responses(em: str = "stock_profit_forecast_em_2026.csv", et: str = "stock_hk_profit_forecast_et_00020.csv"):
    return {
        "stock_profit_forecast_em": lambda: frame(em),  # 代码 read as int, as a careless reader would
        ("stock_profit_forecast_ths", (("indicator", "预测年报每股收益"), ("symbol", "603019"))): ths_eps,
        ("stock_profit_forecast_ths", (("indicator", "预测年报净利润"), ("symbol", "603019"))): ths_net,
        ("stock_hk_profit_forecast_et", (("indicator", "盈利预测概览"), ("symbol", "00020"))):
            lambda: frame(et, dtype={"财政年度": str}),
        **esg_frames(),
    }


def akshare(transport=None, **kw) -> AkshareProvider:
    sleeps = kw.pop("sleeps", [])
    return AkshareProvider(transport or FakeTransport(ak_responses()), rate=0, sleep=sleeps.append, **kw)


def yf_responses():
    est = frame("yfinance_earnings_estimate_IONQ.csv").set_index("period")
    info = json.loads((FIX / "yfinance_info_IONQ.json").read_text(encoding="utf-8"))
    return {("earnings_estimate", (("ticker", "IONQ"),)): lambda: est.copy(),
            ("info", (("ticker", "IONQ"),)): lambda: dict(info)}


class YfFake(FakeTransport):
    def call(self, name, **kwargs):
        value = super().call(name, **kwargs)
        if name == "info" and isinstance(value, pd.DataFrame):
            return {}  # yfinance gives an empty dict for an unknown ticker
        return value


def yfinance(transport=None, **kw) -> YfinanceProvider:
    return YfinanceProvider(transport or YfFake(yf_responses()), rate=0, sleep=lambda s: None, **kw)


def by_year(rows, symbol):
    return {r["fiscal_year"]: r for r in rows if r["symbol"] == symbol}


# -- units ----------------------------------------------------------------------------------------


def test_units_yi_text_and_numbers_and_cents():
    assert parse_amount("829.14亿", YI) == Decimal("82914000000")
    assert cell_text(parse_amount("829.14亿", YI)) == "82914000000"
    assert parse_amount(22.30, YI) == Decimal("2230000000")  # a bare number in a 亿元 table
    assert parse_amount("22.30", YI) == Decimal("2230000000")
    assert parse_amount("3.5万") == Decimal("35000") and parse_amount("1.2万亿") == Decimal("1.2E12")
    assert parse_amount("-1,234.5亿") == Decimal("-123450000000")
    for blank in ("-", "--", "——", "", None, float("nan"), "15.10%"):
        assert parse_amount(blank, YI) is None
    assert cents_to_units(814.0) == Decimal("8.14")  # 分 / 港仙 -> yuan / dollars
    assert cents_to_units("-5.2") == Decimal("-0.052")
    assert cell_text(Decimal("1.50")) == "1.5" and cell_text(0.1) == "0.1" and cell_text(True) == "true"


# -- A-shares: THS per stock + East Money market table --------------------------------------------


def test_a_shares_combine_ths_forecasts_with_east_money_actuals():
    got = akshare().consensus(syms("603019.SH", "000977.SZ", "688256.SH"), D1)
    assert got.kind == "consensus"
    sugon = by_year(got.rows, "603019.SH")
    assert sorted(sugon) == [2025, 2026, 2027, 2028]
    # 2025: reported (its report was due by 2026-04-30): East Money's number, not THS's stale forecast
    assert sugon[2025]["actual"] is True and sugon[2025]["eps"] == Decimal("1.261342119562")
    assert sugon[2025]["analysts"] is None
    # forecasts from THS, with the number of institutions and net profit in yuan (亿 converted)
    assert sugon[2026]["eps"] == Decimal("1.52") and sugon[2026]["analysts"] == 18 and not sugon[2026]["actual"]
    assert sugon[2026]["net_profit"] == Decimal("2230000000")
    assert sugon[2027]["net_profit"] == Decimal("2726000000")  # the cell was the text "27.26亿"
    assert sugon[2028]["net_profit"] == Decimal("3241000000")
    assert {r["currency"] for r in got.rows} == {"CNY"} and {r["as_of"] for r in got.rows} == {D1}
    # THS has nothing for 000977 (empty frame): East Money alone, blank year skipped
    inspur = by_year(got.rows, "000977.SZ")
    assert sorted(inspur) == [2025, 2026, 2027]
    assert inspur[2025]["actual"] and [inspur[y]["actual"] for y in (2026, 2027)] == [False, False]
    assert inspur[2026]["eps"] == Decimal("1.93") and inspur[2026]["analysts"] == 16
    # nobody covers 688256 here; 600519 is in the market table but was not asked for
    assert got.missing == ("688256.SH",)
    assert not [r for r in got.rows if r["symbol"] == "600519.SH"]


@pytest.mark.parametrize("fixture, as_of, actual, forecasts", [
    ("stock_profit_forecast_em_2026.csv", date(2026, 6, 30), 2025, [2026, 2027]),
    ("stock_profit_forecast_em_2027.csv", date(2027, 6, 30), 2026, [2027, 2028, 2029]),
    # before 1 May the previous year's report may not be out: no year is taken as reported
    ("stock_profit_forecast_em_2027.csv", date(2027, 3, 15), None, [2026, 2027, 2028, 2029]),
])
def test_east_money_year_columns_are_found_by_pattern_when_they_shift(fixture, as_of, actual, forecasts):
    table = frame(fixture)
    shuffled = table[list(reversed(table.columns))]  # position means nothing
    for t in (table, shuffled):
        got = akshare(FakeTransport({"stock_profit_forecast_em": t}), sources=("em",)).consensus(
            syms("000977.SZ"), as_of)
        years = by_year(got.rows, "000977.SZ")
        assert [y for y, r in years.items() if r["actual"]] == ([actual] if actual else [])
        assert sorted(y for y, r in years.items() if not r["actual"]) == forecasts


def test_east_money_table_without_year_columns_is_a_shape_change():
    table = frame("stock_profit_forecast_em_2026.csv").rename(columns=lambda c: c.replace("预测每股收益", "EPS"))
    with pytest.raises(ProviderError, match="changed shape"):
        akshare(FakeTransport({"stock_profit_forecast_em": table}), sources=("em",)).consensus(syms("000977.SZ"), D1)


def test_ths_year_listed_twice_with_different_numbers_is_dropped():
    eps = pd.DataFrame({"年度": ["2026", "2026", "2027"], "预测机构数": [1, 1, 3], "最小值": [0.2, 2.3, 0.3],
                        "均值": [0.21, 2.39, 0.33], "最大值": [0.2, 2.4, 0.4], "行业平均数": [1.0, 1.0, 1.0]})
    t = FakeTransport({("stock_profit_forecast_ths", (("indicator", "预测年报每股收益"), ("symbol", "603019"))): eps})
    got = akshare(t, sources=("ths",)).consensus(syms("603019.SH"), D1)
    assert sorted(by_year(got.rows, "603019.SH")) == [2027]
    assert any("2026 twice" in n for n in got.notes)


def test_hong_kong_eps_in_cents_averaged_over_brokers():
    got = akshare().consensus(syms("0020.HK"), D1)
    years = by_year(got.rows, "0020.HK")
    assert years[2026]["eps"] == Decimal("-0.052333")  # mean(-5.2, -5.9, -4.6) 分 / 100
    assert years[2026]["analysts"] == 3 and years[2026]["net_profit"] == Decimal("-1866666667")  # 百万
    assert years[2027]["eps"] == Decimal("-0.021") and years[2027]["analysts"] == 2
    # AKShare's renamed headers no longer say 分 or 港仙: no currency guessed, and a note says so
    assert years[2026]["currency"] is None and any("分 (CNY) or 港仙" in n for n in got.notes)
    unit = akshare(FakeTransport(ak_responses(et="stock_hk_profit_forecast_et_00020_unit_headers.csv")))
    years = by_year(unit.consensus(syms("0020.HK"), D1).rows, "0020.HK")
    assert years[2026]["currency"] == "CNY" and years[2026]["eps"] == Decimal("-0.0555")


def test_empty_frames_go_to_missing():
    empty = FakeTransport({"stock_profit_forecast_em": frame("stock_profit_forecast_em_2026.csv")})
    got = akshare(empty).consensus(syms("300750.SZ", "0700.HK", "IONQ.US"), D1)
    assert got.rows == [] and got.missing == ("0700.HK", "300750.SZ", "IONQ.US")
    assert any("IONQ.US" in n for n in got.notes)


def test_ths_shape_change_fails_the_provider():
    bad = ths_eps().rename(columns={"均值": "平均"})
    t = FakeTransport({("stock_profit_forecast_ths", (("indicator", "预测年报每股收益"), ("symbol", "603019"))): bad})
    with pytest.raises(ProviderError, match="no column 均值"):
        akshare(t, sources=("ths",)).consensus(syms("603019.SH"), D1)


def test_one_stock_failing_for_good_is_missing_but_all_failing_is_an_error():
    t = FakeTransport(ak_responses(), fail={"stock_hk_profit_forecast_et": [ValueError("No tables found")]})
    got = akshare(t).consensus(syms("603019.SH", "0020.HK"), D1)
    assert got.missing == ("0020.HK",) and any("No tables found" in n for n in got.notes)
    t = FakeTransport({}, fail={"stock_hk_profit_forecast_et": [ValueError("No tables found")]})
    with pytest.raises(ProviderError, match="every per-stock call failed"):
        akshare(t).consensus(syms("0020.HK"), D1)


# -- ESG: the real Sina captures -------------------------------------------------------------------


def test_esg_from_real_sina_captures():
    got = akshare().esg(syms("603019.SH", "300750.SZ", "0066.HK", "000001.SZ", "688256.SH"), D1)
    rows = {(r["symbol"], r["rater"]): (r["rating"], r["as_of"]) for r in got.rows}
    assert rows == {
        ("603019.SH", "秩鼎"): ("85.98(AAA)", date(2026, 3, 31)),  # kept whole: esg_score uses the score
        ("300750.SZ", "华证"): ("AA", date(2025, 10, 31)),
        ("300750.SZ", "秩鼎"): ("87.54(AAA)", date(2026, 3, 31)),
        ("0066.HK", "MSCI"): ("AAA", date(2026, 3, 23)),  # "00066.HK" in the table; grade in ESG评分
        ("000001.SZ", "MSCI"): ("AAA", date(2026, 3, 23)),
    }
    assert got.missing == ("688256.SH",)


def test_esg_without_a_date_column_takes_the_run_date():
    zd = esg_frames()["stock_esg_zd_sina"].drop(columns=["评分日期"])
    got = akshare(FakeTransport({"stock_esg_zd_sina": zd})).esg(syms("603019.SH"), D1)
    assert [(r["rater"], r["rating"], r["as_of"]) for r in got.rows] == [("秩鼎", "85.98(AAA)", D1)]


# -- yfinance ----------------------------------------------------------------------------------------


def test_yfinance_consensus_years_from_fiscal_year_end_and_prices():
    p = yfinance()
    got = p.consensus(syms("IONQ.US", "RGTI.US"), D1)
    years = by_year(got.rows, "IONQ.US")
    # nextFiscalYearEnd 2026-12-31: 0y = 2026, +1y = 2027, yearAgoEps = 2025 reported
    assert {y: (r["eps"], r["actual"], r["analysts"]) for y, r in years.items()} == {
        2025: (Decimal("-1.56"), True, None), 2026: (Decimal("-1.12"), False, 9), 2027: (Decimal("-0.95"), False, 9)}
    assert {r["currency"] for r in got.rows} == {"USD"}
    assert got.missing == ("RGTI.US",)
    prices = p.prices(syms("IONQ.US"), D1)
    assert prices.rows == [{"symbol": "IONQ.US", "close": Decimal("41.5"), "currency": "USD", "as_of": D1,
                            "market_cap": Decimal("12345678900")}]


def test_yfinance_without_fiscal_year_end_uses_the_run_year_and_says_so():
    r = yf_responses()
    info = json.loads((FIX / "yfinance_info_IONQ.json").read_text(encoding="utf-8"))
    del info["nextFiscalYearEnd"], info["lastFiscalYearEnd"]
    r[("info", (("ticker", "IONQ"),))] = lambda: dict(info)
    got = yfinance(YfFake(r)).consensus(syms("IONQ.US"), date(2027, 2, 1))
    assert sorted(by_year(got.rows, "IONQ.US")) == [2026, 2027, 2028]
    assert any("taken as 2027" in n for n in got.notes)


def test_yfinance_saying_nothing_about_anything_is_an_outage():
    with pytest.raises(ProviderError, match="unreachable or rate-limiting"):
        yfinance(YfFake({})).prices(syms("IONQ.US", "RGTI.US"), D1)


# -- retries, rate limiting, deadlines, missing packages ---------------------------------------------


def test_retries_back_off_exponentially_on_transient_errors_only():
    sleeps, attempts = [], []

    def flaky():
        attempts.append(1)
        if len(attempts) < 3:
            raise ConnectionError("reset by peer")
        return "ok"

    assert with_retries(flaky, attempts=3, backoff=1.0, sleep=sleeps.append, what="x") == "ok"
    assert sleeps == [1.0, 2.0]

    sleeps.clear()
    with pytest.raises(ProviderError, match="x failed: KeyError") as e:
        with_retries(lambda: {}["年度"], sleep=sleeps.append, what="x")
    assert sleeps == [] and not e.value.transient


def test_provider_retries_through_the_transport_and_gives_up_after_the_last_attempt():
    sleeps = []
    t = FakeTransport(ak_responses(), fail={"stock_esg_hz_sina": [TimeoutError("read timed out")] * 2})
    got = akshare(t, sleeps=sleeps).esg(syms("300750.SZ"), D1)
    assert sleeps == [1.0, 2.0] and ("300750.SZ", "华证") in {(r["symbol"], r["rater"]) for r in got.rows}

    sleeps = []
    t = FakeTransport(ak_responses(), fail={"stock_esg_hz_sina": [TimeoutError("read timed out")] * 5})
    with pytest.raises(ProviderError, match=r"stock_esg_hz_sina\(\) failed after 3 attempts") as e:
        akshare(t, sleeps=sleeps).esg(syms("300750.SZ"), D1)
    assert e.value.transient and sleeps == [1.0, 2.0]


class FakeClock:
    def __init__(self):
        self.now = 100.0
        self.slept: list[float] = []

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.slept.append(round(seconds, 6))
        self.now += seconds


def test_rate_limiter_spaces_calls_with_a_fake_clock():
    clock = FakeClock()
    limiter = RateLimiter(0.5, clock=clock, sleep=clock.sleep)
    limiter.wait()            # first call: no wait
    clock.now += 0.1
    limiter.wait()            # 0.1 s later: waits the remaining 0.4 s
    clock.now += 2.0
    limiter.wait()            # long after: no wait
    assert clock.slept == [0.4]

    clock = FakeClock()  # through a provider: every vendor call waits its turn
    provider = AkshareProvider(FakeTransport(ak_responses()), rate=0.5, clock=clock, sleep=clock.sleep)
    provider.consensus(syms("603019.SH", "0020.HK"), D1)  # em + 2 ths + 1 et = 4 calls
    assert clock.slept == [0.5, 0.5, 0.5]


def test_call_with_deadline_gives_up_with_a_transient_timeout():
    import threading

    release = threading.Event()
    with pytest.raises(TimeoutError):
        call_with_deadline(lambda: release.wait(5), 0.05, "slow")
    release.set()
    assert call_with_deadline(lambda: 42, 1.0) == 42


def test_missing_package_is_provider_unavailable_with_the_install_hint():
    def no_package(name=None):
        raise ImportError(f"No module named {name!r}")

    with pytest.raises(ProviderUnavailable) as e:
        AkshareProvider(transport_factory=no_package, rate=0).consensus(syms("603019.SH"), D1)
    assert str(e.value).endswith(INSTALL_HINT) and "\n" not in str(e.value) and "akshare" in str(e.value)
    with pytest.raises(ProviderUnavailable, match="yfinance is not installed"):
        YfinanceProvider(transport_factory=no_package, rate=0).prices(syms("IONQ.US"), D1)
    with pytest.raises(ProviderUnavailable):
        AkshareTransport(importer=no_package)
    with pytest.raises(ProviderUnavailable):
        YfinanceTransport(importer=no_package)


# -- refresh into a snapshot -----------------------------------------------------------------------------


EXISTING_CONSENSUS = "symbol,fiscal_year,eps,actual,as_of,currency,analysts,net_profit,revenue\n" \
                     "000034.SZ,2026,1.7000,false,2026-03-31,CNY,16,1224000000,154000000000\n"
EXISTING_ESG = "symbol,rater,rating,as_of\n603019.SH,绿发信评,AA+pi,2026-04-21\n"
UNIVERSE = ["603019.SH", "000977.SZ", "0020.HK", "300750.SZ", "IONQ.US", "PRIVATE:brainco"]


def snapshot(tmp_path) -> Path:
    folder = tmp_path / "snap"
    folder.mkdir()
    (folder / "consensus.csv").write_text(EXISTING_CONSENSUS, encoding="utf-8")
    (folder / "esg.csv").write_text(EXISTING_ESG, encoding="utf-8")
    return folder


def providers(ak_transport=None, yf_transport=None):
    return {"akshare": akshare(ak_transport), "yfinance": yfinance(yf_transport)}


def files(folder: Path) -> dict[str, bytes]:
    """The snapshot's files (not the hidden `.snapshot.lock` every writer takes while it merges)."""
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if not p.name.startswith(".")}


def test_refresh_merges_validates_and_is_idempotent_then_appends_a_new_day(tmp_path, monkeypatch):
    import screener.data.snapshot as data

    monkeypatch.setenv("SCREENER_CACHE_DIR", str(tmp_path / "cache"))
    folder = snapshot(tmp_path)
    report = refresh(None, UNIVERSE, provider=None, into=folder, as_of=D1, providers=providers())
    assert report.errors == [] and report.provider == "auto" and report.as_of == "2026-06-30"
    assert report.written == {"consensus": 12, "esg": 4, "prices": 1}
    assert report.missing == {"consensus": ["300750.SZ"], "esg": ["0020.HK"], "prices": []}
    assert json.loads(json.dumps(report.to_dict()))["written"]["prices"] == 1

    with monkeypatch.context() as m:  # the refresh left the cache warm: nothing is parsed again
        m.setattr(data, "_fast_typed", lambda *a: pytest.fail("parsed again: the refresh did not warm the cache"))
        m.setattr(data, "read_text_table", lambda *a: pytest.fail("parsed again: the refresh did not warm the cache"))
        snap = load_snapshot(folder, str)  # what was written passes the snapshot checks
    consensus = snap.get("consensus").collect()
    assert consensus.height == 13 and consensus.row(0)[0] == "000034.SZ"  # the old row is kept, first
    text = (folder / "consensus.csv").read_text(encoding="utf-8")
    assert "603019.SH,2026,1.52,false,2026-06-30,CNY,18,2230000000," in text
    assert "603019.SH,2025,1.261342119562,true,2026-06-30,CNY,,," in text
    assert "IONQ.US,2025,-1.56,true,2026-06-30,USD,,," in text
    assert (folder / "prices.csv").read_text(encoding="utf-8") == \
        "symbol,close,currency,as_of,market_cap,adj_close,amount\nIONQ.US,41.5,USD,2026-06-30,12345678900,,\n"
    esg = (folder / "esg.csv").read_text(encoding="utf-8").splitlines()
    assert esg[1:] == sorted(esg[1:])  # one row order for every writer: sorted by the key
    assert "603019.SH,绿发信评,AA+pi,2026-04-21" in esg and "603019.SH,秩鼎,85.98(AAA),2026-03-31" in esg

    first = files(folder)
    again = refresh(None, UNIVERSE, provider=None, into=folder, as_of=D1, providers=providers())
    assert again.errors == [] and files(folder) == first  # same day, same bytes

    day2 = date(2026, 7, 1)
    refresh(None, UNIVERSE, provider=None, into=folder, as_of=day2, providers=providers())
    consensus = load_snapshot(folder, str).get("consensus").collect()
    assert consensus.height == 25  # a second as_of for every fetched row: history builds up
    assert sorted(set(consensus["as_of"].to_list())) == [date(2026, 3, 31), D1, day2]
    assert (folder / "esg.csv").read_bytes() == first["esg.csv"]  # ratings keep their own dates
    assert (folder / "prices.csv").read_text(encoding="utf-8").count("IONQ.US") == 2


def test_a_provider_failing_for_good_leaves_its_files_untouched(tmp_path):
    folder = snapshot(tmp_path)
    before = files(folder)
    down = FakeTransport({}, fail={n: [ConnectionError("connection refused")] * 9 for n in (
        "stock_profit_forecast_em", "stock_profit_forecast_ths", "stock_esg_hz_sina")})
    report = refresh(None, UNIVERSE, provider=None, into=folder, as_of=D1, providers=providers(ak_transport=down))
    assert len(report.errors) == 1 and report.errors[0].startswith("akshare: akshare.stock_profit_forecast_em")
    assert "after 3 attempts" in report.errors[0] and "connection refused" in report.errors[0]
    after = files(folder)
    assert after["consensus.csv"].startswith(before["consensus.csv"])  # yfinance only appended IONQ.US
    assert b"603019.SH" not in after["consensus.csv"] and after["esg.csv"] == before["esg.csv"]
    assert report.written == {"consensus": 3, "prices": 1}

    before = files(folder)
    report = refresh(None, UNIVERSE, provider="akshare", into=folder, as_of=D1, providers=providers(ak_transport=down))
    assert files(folder) == before and report.written == {} and report.provider == "akshare"
    assert any("IONQ.US: not covered by akshare" in w for w in report.warnings)


def test_missing_package_is_reported_and_writes_nothing(tmp_path):
    folder = snapshot(tmp_path)
    before = files(folder)

    def no_akshare():
        raise ImportError("No module named 'akshare'")

    report = refresh(None, ["603019.SH"], provider=None, into=folder, as_of=D1,
                     providers={"akshare": AkshareProvider(transport_factory=no_akshare), "yfinance": yfinance()})
    assert report.errors == [f"akshare: akshare is not installed; install the live-data extras: {INSTALL_HINT}"]
    assert files(folder) == before


def test_a_merge_that_would_not_pass_the_checks_writes_nothing(tmp_path):
    folder = snapshot(tmp_path)
    before = files(folder)

    class Broken:
        name, kinds, markets = "yfinance", ("prices",), ("US",)

        def prices(self, symbols, as_of):
            from screener.data.providers.base import Fetched

            return Fetched("prices", [{"symbol": "IONQ.US", "close": Decimal(-1), "currency": "USD", "as_of": as_of}], ())

    report = refresh(None, ["IONQ.US"], provider="yfinance", into=folder, as_of=D1, providers={"yfinance": Broken()})
    assert len(report.errors) == 1 and "fails its checks" in report.errors[0] and "greater than 0" in report.errors[0]
    assert files(folder) == before


def test_refresh_rejects_unknown_providers_and_unreadable_symbols(tmp_path):
    from screener.problems import InputError

    with pytest.raises(InputError, match="unknown data provider `yahoo`"):
        refresh(None, ["IONQ.US"], provider="yahoo", into=tmp_path, as_of=D1, providers=providers())
    with pytest.raises(InputError, match="cannot read symbol"):
        refresh(None, ["not a symbol"], provider=None, into=tmp_path, as_of=D1, providers=providers())


def test_refresh_keeps_a_parquet_file_parquet_and_a_bom_csv_bommed(tmp_path):
    import polars as pl

    folder = tmp_path / "snap"
    folder.mkdir()
    (folder / "consensus.csv").write_bytes(b"\xef\xbb\xbf" + EXISTING_CONSENSUS.encode("utf-8"))
    pl.DataFrame({"symbol": ["603019.SH"], "rater": ["绿发信评"], "rating": ["AA+pi"],
                  "as_of": [date(2026, 4, 21)]}).write_parquet(folder / "esg.parquet")
    refresh(None, ["603019.SH"], provider="akshare", into=folder, as_of=D1, providers=providers())
    assert sorted(files(folder)) == ["consensus.csv", "esg.parquet"]
    assert (folder / "consensus.csv").read_bytes().startswith(b"\xef\xbb\xbfsymbol,")
    snap = load_snapshot(folder, str)
    assert snap.get("esg").collect()["rater"].to_list() == ["秩鼎", "绿发信评"]  # sorted by the key
    first = files(folder)
    refresh(None, ["603019.SH"], provider="akshare", into=folder, as_of=D1, providers=providers())
    assert files(folder) == first


# -- without the live extra, offline, blocked ------------------------------------------------------


URLLIB3_TEXT = ("HTTPSConnectionPool(host='datacenter-web.eastmoney.com', port=443): Max retries exceeded with url: "
                "/api/data/v1/get?reportName=RPT (Caused by NewConnectionError('<urllib3.connection.HTTPSConnection "
                "object at 0x7f3a2c1d9f10>: Failed to establish a new connection: [Errno -3] Temporary failure in "
                "name resolution'))")


class Offline:
    """A transport on a machine with no network: every call fails as `requests` does."""

    def __init__(self, error=None):
        self.error = error or (lambda: ConnectionError(URLLIB3_TEXT))
        self.calls = 0

    def call(self, name, **kwargs):
        self.calls += 1
        raise self.error()


def refresh_project(tmp_path, universe: str = "symbol,name,exposure,listed\n603019.SH,中科曙光,core,true\n"
                    "0020.HK,商汤,core,true\nIONQ.US,IonQ,pure,true\n") -> Path:
    (tmp_path / "universes").mkdir()
    (tmp_path / "universes" / "mix.csv").write_text(universe, encoding="utf-8")
    (tmp_path / "config.toml").write_text('[paths]\nuniverses = "universes"\ndata = "snap"\nrules = "rules"\n',
                                          encoding="utf-8")
    return tmp_path


def test_refresh_without_the_live_extra_exits_2_with_the_install_command(tmp_path, cli, monkeypatch):
    import sys

    refresh_project(tmp_path)
    for package in ("akshare", "yfinance"):
        monkeypatch.setitem(sys.modules, package, None)  # `import akshare` raises ImportError
    done = cli(tmp_path, "data", "refresh", "--as-of", "2026-06-30")
    assert done.exit_code == 2 and done.stdout == ""
    assert "akshare and yfinance are not installed" in done.stderr and INSTALL_HINT in done.stderr
    assert "Traceback" not in done.stderr and not (tmp_path / "snap").exists()  # nothing fetched or written
    done = cli(tmp_path, "data", "refresh", "--provider", "yfinance", "--json")
    assert done.exit_code == 2 and done.stdout == "" and "yfinance is not installed" in done.stderr


def test_one_missing_package_stops_the_refresh_before_any_fetch(tmp_path):
    folder = snapshot(tmp_path)
    before = files(folder)
    online = YfFake(yf_responses())

    def no_akshare():
        raise ImportError("No module named 'akshare'")

    report = refresh(None, UNIVERSE, provider=None, into=folder, as_of=D1,
                     providers={"akshare": AkshareProvider(transport_factory=no_akshare), "yfinance": yfinance(online)})
    assert report.unavailable == ["akshare"] and online.calls == [] and files(folder) == before
    assert report.errors == [f"akshare: akshare is not installed; install the live-data extras: {INSTALL_HINT}"]


def test_offline_providers_say_so_in_one_clean_line_each(tmp_path, cli, monkeypatch):
    import re

    from screener.data.providers import refresh as refresh_module

    refresh_project(tmp_path)
    ak_down, yf_down = Offline(), Offline(lambda: TimeoutError("yfinance.Ticker('IONQ').info gave no answer within 60 s"))
    monkeypatch.setattr(refresh_module, "default_providers", lambda: {
        "akshare": AkshareProvider(ak_down, rate=0, sleep=lambda s: None),
        "yfinance": YfinanceProvider(yf_down, rate=0, sleep=lambda s: None)})
    done = cli(tmp_path, "data", "refresh", "--as-of", "2026-06-30")
    assert done.exit_code == 1 and ak_down.calls == 3 and yf_down.calls == 3  # retried, then given up
    lines = done.stderr.splitlines()
    assert [line.split(":")[0] for line in lines] == ["error", "error"]  # one line per provider, nothing else
    ak, yf = lines
    assert ak.startswith("error: akshare: akshare.stock_profit_forecast_em") and "after 3 attempts" in ak
    assert ("cannot reach datacenter-web.eastmoney.com: the host name does not resolve "
            "(offline, or the host is blocked)") in ak
    assert "HTTPSConnectionPool" not in ak and "object at 0x" not in ak and "Caused by" not in ak
    assert re.match(r"error: yfinance: yfinance IONQ \w+ failed after 3 attempts: cannot reach the provider: "
                    r"no answer within 60 s \(offline, blocked, or the host is slow\)$", yf)
    assert not (tmp_path / "snap").exists() or not any((tmp_path / "snap").glob("*.csv"))


@pytest.mark.parametrize("error, said", [
    (ConnectionError("[Errno 111] Connection refused"), "cannot reach the provider: connection refused"),
    (OSError("[Errno 101] Network is unreachable"), "network unreachable"),
    (TimeoutError("HTTPSConnectionPool(host='query2.finance.yahoo.com', port=443): Read timed out. (read timeout=30)"),
     "cannot reach query2.finance.yahoo.com: timed out"),
])
def test_network_errors_are_described_in_words(error, said):
    from screener.data.providers.base import describe_network_error

    text = describe_network_error(error)
    assert said in text and "\n" not in text
    assert describe_network_error(KeyError("年度")) is None  # a changed table is not a network problem


def test_a_blocked_provider_names_the_http_status():
    from screener.data.providers.base import describe_network_error

    class Response:
        status_code = 403

    class HTTPError(OSError):
        response = Response()

    error = HTTPError("403 Client Error: Forbidden for url: https://push2.eastmoney.com/api/qt/clist/get?x=1")
    assert describe_network_error(error) == \
        "cannot reach push2.eastmoney.com: refused with HTTP 403 (blocked from this network?)"


def test_vendor_noise_never_reaches_stderr(capfd, monkeypatch):
    """The real transport over a stand-in `akshare` module that behaves like the library offline:
    a progress bar and a print on stderr, a log record, a warning, then the connection error."""
    import logging
    import sys
    import types
    import warnings

    def stock_esg_hz_sina(**kwargs):
        print("  0%|          | 0/12 [00:00<?, ?it/s]", file=sys.stderr)
        print("fetching page 1")
        logging.getLogger("akshare").error("request failed")
        logging.getLogger("urllib3.connectionpool").warning("Retrying (Retry(total=2)) after connection broken")
        warnings.warn("FutureWarning from pandas inside the vendor", FutureWarning)
        raise ConnectionError(URLLIB3_TEXT)

    fake = types.ModuleType("akshare")
    fake.stock_esg_hz_sina = stock_esg_hz_sina
    monkeypatch.setitem(sys.modules, "akshare", fake)
    provider = AkshareProvider(AkshareTransport(timeout=5), rate=0, sleep=lambda s: None,
                               esg_tables=(("stock_esg_hz_sina", "华证", "ESG等级", "日期"),))
    with pytest.raises(ProviderError) as e:
        provider.esg(syms("300750.SZ"), D1)
    out, err = capfd.readouterr()
    assert out == "" and err == ""
    assert "the host name does not resolve" in str(e.value) and "\n" not in str(e.value)
    assert logging.getLogger("urllib3").level == logging.NOTSET  # levels restored after the call
