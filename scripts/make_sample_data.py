#!/usr/bin/env python3
"""Write the embedded sample snapshot in data/sample/ (deterministic).

    python scripts/make_sample_data.py

Reads every universes/*.csv, takes the listed securities (PRIVATE:* and
listed=false rows are skipped) and writes, under data/sample/:

    esg.csv        REAL: the 绿发信评 ratings printed in the report (2026-04-21)
    consensus.csv  ILLUSTRATIVE: EPS / net profit / revenue per fiscal year
    prices.csv     ILLUSTRATIVE: weekly close, adj_close (后复权), amount and market cap in the
                   trading currency, from January 2025 to the newest date
    fx.csv         ILLUSTRATIVE: CNY->HKD, USD->CNY, USD->HKD
    README.md      what is real, what is not, units, dates
    snapshot.toml  marks the folder as sample data: every output made from it says so

`--out DIR` writes somewhere else (the tests use it to check the committed files are current).

Everything illustrative comes from random.Random seeded with SEED and the
symbol (string seeds hash with SHA-512, so no PYTHONHASHSEED dependence); the
clock is never read, and a second run writes the same bytes.
"""

from __future__ import annotations

import csv
import math
import random
import sys
from datetime import date, timedelta
from pathlib import Path

import polars as pl

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # the trading calendars come from the package
UNIVERSES = ROOT / "universes"
OUT = ROOT / "data" / "sample"

SEED = 20260421
REPORT_DATE = "2026-04-21"  # 上海证券研究所 note; consensus table "iFinD一致预期（截至2026.4.21）"
PRE_REPORT_AS_OF = "2026-03-31"  # before the FY2025 annual reports: FY2025 is still a forecast
AS_OF_DATES = [  # month-end trading days after the FY2025 annual reports
    "2026-04-30", "2026-05-29", "2026-06-30", "2026-07-31",
    "2026-08-31", "2026-09-30", "2026-10-30", "2026-11-20",
]
ALL_DATES = [PRE_REPORT_AS_OF] + AS_OF_DATES
FY0, FY1, FY2 = 2025, 2026, 2027
# prices also on the last trading day of every week (its exchange's calendar) in this range, so that
# return_1m .. return_12m and amount_avg_1m have something to run on; the month-end closes above
# are the anchors the weekly path passes through
WEEKLY_FROM, WEEKLY_TO = "2025-01-01", AS_OF_DATES[-1]
CALENDAR_BY_SUFFIX = {"SH": "XSHG", "SZ": "XSHG", "BJ": "XSHG", "HK": "XHKG", "US": "XNYS"}
# ILLUSTRATIVE corporate actions, so that adj_close differs from close:
#   a yearly cash dividend of DIVIDEND_PAYOUT x the FY2025 EPS for profitable non-Hong Kong securities,
#   ex-date on the first weekly date on or after DIVIDEND_EX in each year;
#   one bonus issue (送转, 10转4) for one security before the anchors: closes before it are 1.4x.
DIVIDEND_PAYOUT = 0.3
DIVIDEND_EX = ("2025-06-20", "2026-06-19")
BONUS_ISSUE = {"301391.SZ": ("2025-06-27", 1.4)}  # 卡莱特: illustrative, not a real corporate action

# REAL: 绿发信评 A-share ESG ratings of computer-equipment companies, as printed in the report.
ESG_RATER = "绿发信评"
ESG_RATINGS = {
    "603019.SH": "AA+pi", "002152.SZ": "AA+pi", "000977.SZ": "AA+pi",  # 中科曙光 广电运通 浪潮信息
    "301503.SZ": "AApi", "002912.SZ": "AApi", "002180.SZ": "AApi", "000997.SZ": "AApi",  # 智迪科技 中新赛克 纳思达 新大陆
    "688208.SH": "AA-pi", "002268.SZ": "AA-pi", "300455.SZ": "AA-pi",  # 道通科技 电科网安 航天智装
    "603660.SH": "AA-pi", "300130.SZ": "AA-pi",  # 苏州科达 新国都
    "300042.SZ": "A+pi", "000066.SZ": "A+pi", "920190.BJ": "A+pi",  # 朗科科技 中国长城 雷神科技
    "301339.SZ": "Api", "300847.SZ": "Api", "301391.SZ": "Api",  # 通行宝 中船汉光 卡莱特
    "300248.SZ": "A-pi", "603496.SH": "A-pi", "600100.SH": "A-pi", "001339.SZ": "A-pi",  # 新开普 恒为科技 同方股份 智微智能
}

# ILLUSTRATIVE base values, as of 2026-03-31. Not market data.
#   eps25/26/27  EPS per share in the reporting currency (FY2025 actual; FY2026/27 first forecasts)
#   rev25_m      FY2025 revenue, millions of the reporting currency
#   rev_g        yearly revenue growth used for the forecast years
#   shares_m     shares outstanding, millions (net profit = eps * shares, market cap = close * shares)
#   price        close on 2026-03-31 in the trading currency
#   analysts     number of analysts in the consensus
# symbol:        (eps25,   eps26,   eps27, rev25_m, rev_g, shares_m,  price, analysts)
BASE = {
    # --- A-shares, CNY ------------------------------------------------------------------------
    "603019.SH": (1.40, 1.70, 2.05, 15000, 0.18, 1463, 95.00, 30),  # 中科曙光
    "000977.SZ": (1.75, 2.00, 2.35, 150000, 0.20, 1472, 62.00, 28),  # 浪潮信息
    "002152.SZ": (0.40, 0.45, 0.51, 11000, 0.10, 2484, 13.50, 18),  # 广电运通
    "301503.SZ": (0.85, 1.00, 1.15, 1200, 0.12, 80, 38.00, 3),  # 智迪科技
    "002912.SZ": (0.55, 0.70, 0.85, 900, 0.15, 171, 32.00, 6),  # 中新赛克
    "002180.SZ": (0.55, 0.80, 1.00, 26000, 0.06, 1417, 24.00, 14),  # 纳思达
    "000997.SZ": (1.10, 1.25, 1.40, 7800, 0.08, 1030, 21.00, 15),  # 新大陆
    "688208.SH": (1.30, 1.60, 1.95, 4600, 0.22, 670, 40.00, 20),  # 道通科技
    "002268.SZ": (0.22, 0.30, 0.38, 2600, 0.12, 846, 22.00, 8),  # 电科网安
    "300455.SZ": (0.10, 0.14, 0.18, 900, 0.15, 700, 14.00, 2),  # 航天智装
    "603660.SH": (-0.30, 0.08, 0.20, 2000, 0.10, 490, 8.50, 3),  # 苏州科达: loss in FY2025, profit in FY2026
    "300130.SZ": (0.62, 0.75, 0.88, 3500, 0.12, 560, 23.00, 7),  # 新国都
    "300042.SZ": (0.30, 0.38, 0.46, 1100, 0.15, 200, 26.00, 2),  # 朗科科技
    "000066.SZ": (0.04, 0.12, 0.18, 15000, 0.08, 3226, 16.00, 9),  # 中国长城
    "920190.BJ": (0.55, 0.70, 0.85, 2500, 0.15, 100, 32.00, 2),  # 雷神科技
    "301339.SZ": (0.70, 0.78, 0.86, 1000, 0.08, 410, 24.00, 4),  # 通行宝
    "300847.SZ": (0.30, 0.36, 0.43, 1100, 0.10, 296, 17.00, 3),  # 中船汉光
    "301391.SZ": (1.70, 2.10, 2.55, 1200, 0.20, 68, 62.00, 6),  # 卡莱特
    "300248.SZ": (0.35, 0.42, 0.50, 1100, 0.12, 480, 12.00, 8),  # 新开普
    "603496.SH": (0.18, 0.35, 0.50, 1000, 0.25, 320, 28.00, 5),  # 恒为科技
    "600100.SH": (0.05, 0.10, 0.14, 20000, 0.05, 3350, 7.50, 3),  # 同方股份
    "001339.SZ": (2.20, 2.90, 3.50, 6000, 0.30, 252, 95.00, 9),  # 智微智能
    "000034.SZ": (1.40, 1.70, 2.00, 140000, 0.10, 720, 40.00, 16),  # 神州数码
    "600845.SH": (0.78, 0.88, 1.00, 13000, 0.10, 2880, 26.00, 22),  # 宝信软件
    "688111.SH": (3.90, 4.70, 5.60, 5700, 0.18, 463, 310.00, 32),  # 金山办公
    "002410.SZ": (0.30, 0.40, 0.50, 6200, 0.08, 1650, 13.50, 20),  # 广联达
    "688256.SH": (5.00, 9.60, 15.00, 7500, 0.80, 420, 1300.00, 25),  # 寒武纪: fast growth in 2026
    "600570.SH": (0.72, 0.85, 0.98, 6500, 0.10, 1890, 30.00, 26),  # 恒生电子
    "688023.SH": (-0.45, 0.40, 0.60, 2100, 0.12, 102, 48.00, 10),  # 安恒信息: loss in FY2025, profit in FY2026
    "600536.SH": (0.10, 0.28, 0.45, 6000, 0.10, 860, 38.00, 5),  # 中国软件
    "301236.SZ": (0.45, 0.75, 1.00, 32000, 0.12, 950, 55.00, 12),  # 软通动力
    "300378.SZ": (0.58, 0.72, 0.88, 2500, 0.12, 270, 45.00, 10),  # 鼎捷数智
    "002415.SZ": (1.55, 1.72, 1.90, 93000, 0.08, 9240, 31.00, 35),  # 海康威视
    "688041.SH": (1.40, 2.00, 2.75, 13000, 0.40, 2324, 230.00, 25),  # 海光信息
    "688027.SH": (0.35, 0.80, 1.40, 300, 0.45, 103, 260.00, 6),  # 国盾量子 (theme premium: P/E far above the rest)
    "601728.SH": (0.37, 0.40, 0.43, 530000, 0.03, 91500, 7.20, 24),  # 中国电信
    "301293.SZ": (0.50, 0.62, 0.76, 1600, 0.15, 205, 58.00, 4),  # 三博脑科
    # --- Hong Kong, reporting in CNY unless listed in HK_REPORTS_IN_HKD, trading in HKD ----------
    "0020.HK": (-0.06, -0.03, 0.01, 5000, 0.15, 37000, 2.10, 12),  # 商汤-W: losses in FY2025 and FY2026
    "0268.HK": (0.03, 0.12, 0.20, 7000, 0.12, 3550, 14.00, 20),  # 金蝶国际
    "0354.HK": (0.26, 0.30, 0.35, 17000, 0.08, 2750, 5.60, 15),  # 中国软件国际
    "9669.HK": (-0.12, 0.06, 0.15, 1000, 0.15, 710, 8.20, 10),  # 北森控股: loss in FY2025, profit in FY2026
    "1274.HK": (-0.55, -0.25, 0.05, 1200, 0.25, 265, 24.00, 3),  # 知行科技
    "2556.HK": (-0.30, 0.40, 0.80, 2200, 0.25, 255, 45.00, 5),  # 迈富时: loss in FY2025, profit in FY2026
    "0856.HK": (0.85, 0.92, 1.00, 95000, 0.08, 1450, 14.00, 8),  # 伟仕佳杰 (reports in HKD)
    # --- United States, USD ---------------------------------------------------------------------
    "IONQ.US": (-1.60, -1.20, -0.95, 110, 0.80, 300, 38.00, 12),  # IonQ
    "RGTI.US": (-0.25, -0.22, -0.18, 11, 0.80, 330, 16.00, 9),  # Rigetti
    "QBTS.US": (-0.45, -0.33, -0.25, 30, 0.70, 340, 22.00, 10),  # D-Wave
    "IBM.US": (11.40, 12.20, 13.00, 67000, 0.05, 930, 260.00, 18),  # IBM
    "GOOGL.US": (10.20, 11.50, 12.80, 400000, 0.12, 12100, 300.00, 40),  # Alphabet
    "MSFT.US": (14.80, 17.00, 19.50, 300000, 0.14, 7430, 450.00, 40),  # Microsoft
    "AMZN.US": (7.00, 7.90, 9.00, 710000, 0.10, 10700, 230.00, 40),  # Amazon
    "NVDA.US": (4.60, 7.00, 8.80, 210000, 0.45, 24300, 185.00, 40),  # NVIDIA
    "QCOM.US": (11.60, 12.30, 13.00, 44000, 0.05, 1090, 185.00, 28),  # Qualcomm
    "META.US": (26.00, 29.00, 32.50, 200000, 0.15, 2520, 680.00, 40),  # Meta
    "AAPL.US": (7.40, 8.10, 8.80, 420000, 0.06, 14800, 255.00, 40),  # Apple
}
HK_REPORTS_IN_HKD = {"0856.HK"}  # other Hong Kong names in BASE report in CNY

# base turnover (value traded / market cap per day) by market; each security draws around it
TURNOVER = {"CNY": 0.02, "HKD": 0.003, "USD": 0.006}

REVISION_MIN, REVISION_MAX = -0.06, 0.08  # one month's consensus revision
TREND_MIN, TREND_MAX = -0.03, 0.04  # per-security drift of revisions
MONTHLY_PRICE_VOL = 0.07


# --------------------------------------------------------------------------- helpers

def clamp(x: float, lo: float, hi: float) -> float:
    return max(lo, min(hi, x))


def revise(eps: float, r: float) -> float:
    """Move EPS by r of its magnitude (r > 0 is an upgrade, also for a loss)."""
    return eps + abs(eps) * r


def trading_currency(symbol: str) -> str:
    suffix = symbol.rsplit(".", 1)[-1]
    return {"SH": "CNY", "SZ": "CNY", "BJ": "CNY", "HK": "HKD", "US": "USD"}[suffix]


def reporting_currency(symbol: str) -> str:
    if symbol.endswith(".HK"):
        return "HKD" if symbol in HK_REPORTS_IN_HKD else "CNY"
    return trading_currency(symbol)


def listed_symbols() -> list[str]:
    frames = [
        pl.read_csv(path, infer_schema=False).select("symbol", "listed")
        for path in sorted(UNIVERSES.glob("*.csv"))
    ]
    if not frames:
        sys.exit(f"no universe files in {UNIVERSES}")
    members = pl.concat(frames)
    listed = members.filter(
        (pl.col("listed").str.to_lowercase() == "true") & ~pl.col("symbol").str.starts_with("PRIVATE:")
    )
    symbols = sorted(set(listed["symbol"].to_list()))
    missing = [s for s in symbols if s not in BASE]
    if missing:
        sys.exit(f"no base values for {', '.join(missing)}: add them to BASE in {Path(__file__).name}")
    return symbols


def write_csv(path: Path, header: list[str], rows: list[list[object]]) -> None:
    with open(path, "w", encoding="utf-8", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(header)
        w.writerows(rows)


def fmt_eps(x: float) -> str:
    return f"{x:.4f}"


# --------------------------------------------------------------------------- generators

def security_paths(symbol: str) -> dict:
    """Revision factors and closes for one security, drawn from its own seeded stream."""
    rng = random.Random(f"{SEED}:{symbol}")
    trend = rng.uniform(TREND_MIN, TREND_MAX)
    steps = len(ALL_DATES) - 1
    rev_fy1 = [clamp(trend + rng.gauss(0, 0.015), REVISION_MIN, REVISION_MAX) for _ in range(steps)]
    rev_fy2 = [clamp(r + rng.gauss(0, 0.006), REVISION_MIN, REVISION_MAX) for r in rev_fy1]
    pre_report_miss = rng.uniform(-0.05, 0.05)  # FY2025 forecast vs the reported figure
    analyst_moves = [rng.choice((-1, 0, 0, 0, 1)) for _ in range(steps)]
    price = BASE[symbol][6]
    closes = [price]
    for _ in range(steps):
        ret = clamp(1.5 * trend + rng.gauss(0, MONTHLY_PRICE_VOL), -0.30, 0.35)
        price *= math.exp(ret)
        closes.append(price)
    return dict(rev_fy1=rev_fy1, rev_fy2=rev_fy2, miss=pre_report_miss,
                analyst_moves=analyst_moves, closes=closes)


def consensus_rows(symbol: str, paths: dict) -> list[list[object]]:
    eps25, eps26, eps27, rev25_m, rev_g, shares_m, _price, analysts = BASE[symbol]
    shares = shares_m * 1_000_000
    rev25 = rev25_m * 1_000_000
    cur = reporting_currency(symbol)

    def row(as_of, fy, eps, actual, n, revenue):
        return [symbol, fy, fmt_eps(eps), "true" if actual else "false", as_of, cur, n,
                round(round(eps, 4) * shares), round(revenue)]

    rows = []
    n = analysts
    f26, f27 = eps26, eps27
    rev_factor26 = rev_factor27 = 1.0
    # 2026-03-31: FY2025 not yet reported (forecast), FY2026 forecast
    pre25 = revise(eps25, paths["miss"])
    rows.append(row(PRE_REPORT_AS_OF, FY0, pre25, False, n, rev25 * (1 + paths["miss"] / 3)))
    rows.append(row(PRE_REPORT_AS_OF, FY1, f26, False, n, rev25 * (1 + rev_g)))
    for i, as_of in enumerate(AS_OF_DATES):
        r1, r2 = paths["rev_fy1"][i], paths["rev_fy2"][i]
        n = int(clamp(n + paths["analyst_moves"][i], 1, 40))
        f26 = revise(f26, r1)
        rev_factor26 *= 1 + 0.4 * r1
        if i > 0:  # FY2027 enters at 2026-04-30 at its base value, revised from then on
            f27 = revise(f27, r2)
            rev_factor27 *= 1 + 0.4 * r2
        rows.append(row(as_of, FY0, eps25, True, n, rev25))
        rows.append(row(as_of, FY1, f26, False, n, rev25 * (1 + rev_g) * rev_factor26))
        rows.append(row(as_of, FY2, f27, False, max(1, n - 2), rev25 * (1 + rev_g) ** 2 * rev_factor27))
    return rows


def weekly_dates(symbol: str) -> list[date]:
    """The last trading day of each week from WEEKLY_FROM to WEEKLY_TO on the security's exchange."""
    from screener.schedule.calendars import get_calendar

    calendar = get_calendar(CALENDAR_BY_SUFFIX[symbol.rsplit(".", 1)[-1]])
    start, end = date.fromisoformat(WEEKLY_FROM), date.fromisoformat(WEEKLY_TO)
    monday = start - timedelta(days=start.weekday())
    out = []
    while monday <= end:
        day = min(monday + timedelta(days=6), end)
        while day >= max(monday, start) and not calendar.is_open(day):
            day -= timedelta(days=1)
        if day >= max(monday, start):
            out.append(day)
        monday += timedelta(days=7)
    return out


def close_path(symbol: str, paths: dict) -> dict[date, float]:
    """Closes on the anchor dates (exactly as drawn in `security_paths`) and on the weekly dates:
    a Brownian bridge in log price between two anchors, a random walk backwards from the first
    anchor before it. Drawn from the security's own weekly stream (the anchors' draws are untouched)."""
    rng = random.Random(f"{SEED}:{symbol}:weekly")
    anchors = {date.fromisoformat(d): c for d, c in zip(ALL_DATES, paths["closes"])}
    days = sorted(set(weekly_dates(symbol)) | set(anchors))
    daily_vol = MONTHLY_PRICE_VOL / math.sqrt(30.4)
    logs: dict[date, float] = {d: math.log(c) for d, c in anchors.items()}
    first = min(anchors)
    before = [d for d in days if d < first]
    later = first
    for d in reversed(before):  # backwards from the first anchor
        logs[d] = logs[later] - rng.gauss(0.0, daily_vol * math.sqrt((later - d).days))
        later = d
    keys = sorted(anchors)
    for a, b in zip(keys, keys[1:]):
        inner = [d for d in days if a < d < b]
        walk, t, w = {}, a, 0.0
        for d in inner + [b]:
            w += rng.gauss(0.0, daily_vol * math.sqrt((d - t).days))
            walk[d], t = w, d
        span = (b - a).days
        for d in inner:  # pinned at both anchors
            frac = (d - a).days / span
            logs[d] = logs[a] + frac * (logs[b] - logs[a]) + walk[d] - frac * walk[b]
    return {d: math.exp(logs[d]) for d in days}


def price_rows(symbol: str, paths: dict) -> list[list[object]]:
    """Weekly and month-end rows: close, market cap (close x shares), adj_close (后复权: close x a
    factor that grows at each ex-date, so past values never change; blank for Hong Kong listings,
    whose returns come from close) and amount (value traded that day)."""
    eps25, shares_m = BASE[symbol][0], BASE[symbol][5]
    cur = trading_currency(symbol)
    rng = random.Random(f"{SEED}:{symbol}:trading")
    factor = round(rng.uniform(1.0, 3.0), 4)  # dividends and bonus issues before the file starts
    turnover = TURNOVER[cur] * math.exp(rng.gauss(0.0, 0.4))
    adjusted = not symbol.endswith(".HK")
    bonus_day, bonus = BONUS_ISSUE.get(symbol, (None, 1.0))
    bonus_day = date.fromisoformat(bonus_day) if bonus_day else None
    ex_days = [date.fromisoformat(d) for d in DIVIDEND_EX]
    closes = close_path(symbol, paths)
    rows, previous = [], None
    for day in sorted(closes):
        close = closes[day]
        shares = shares_m * 1_000_000
        if bonus_day is not None and day < bonus_day:  # before the bonus issue: fewer, dearer shares
            close, shares = close * bonus, shares / bonus
        close = round(close, 2)
        if previous is not None:
            last_day, last_close = previous
            if bonus_day is not None and last_day < bonus_day <= day:
                factor *= bonus
            for ex in ex_days:
                if last_day < ex <= day and eps25 > 0:
                    cash = min(DIVIDEND_PAYOUT * eps25, 0.1 * last_close)
                    factor *= last_close / (last_close - cash)
        previous = (day, close)
        amount = close * shares * turnover * math.exp(rng.gauss(0.0, 0.35))
        rows.append([symbol, f"{close:.2f}", cur, day.isoformat(), round(close * shares),
                     f"{close * factor:.4f}" if adjusted else "", round(amount)])
    return rows


def fx_rows() -> list[list[object]]:
    """USD/CNY 7.13-7.20 and USD/HKD 7.80-7.83; CNY/HKD is their cross (about 1.08-1.10)."""
    rng = random.Random(f"{SEED}:fx")
    usdcny, usdhkd = 7.17, 7.815
    rows = []
    for as_of in ALL_DATES:
        usdcny = clamp(usdcny + rng.gauss(0, 0.012), 7.13, 7.20)
        usdhkd = clamp(usdhkd + rng.gauss(0, 0.004), 7.80, 7.83)
        a, b = round(usdcny, 4), round(usdhkd, 4)
        rows += [["CNY", "HKD", f"{b / a:.4f}", as_of],
                 ["USD", "CNY", f"{a:.4f}", as_of],
                 ["USD", "HKD", f"{b:.4f}", as_of]]
    return sorted(rows, key=lambda r: (r[0], r[1], r[3]))


def esg_rows(symbols: list[str]) -> list[list[object]]:
    missing = sorted(set(ESG_RATINGS) - set(symbols))
    if missing:
        sys.exit(f"ESG-rated symbols missing from the universes: {', '.join(missing)}")
    return [[s, ESG_RATER, ESG_RATINGS[s], REPORT_DATE] for s in sorted(ESG_RATINGS)]


README = """\
# Sample data snapshot (`data/sample/`)

Generated by `scripts/make_sample_data.py`; regenerate with

    python scripts/make_sample_data.py

The script is deterministic (fixed seed {seed}, no clock): running it again writes the same bytes.

## What is REAL

- **Universe constituents** (`universes/*.csv`): the companies named in the 上海证券研究所 research
  note on 2026's AI compute, quantum and brain-computer-interface themes (dated {report}). The
  note gives no membership dates and names no industry classification scheme, so `added`,
  `removed` and `industry` are blank (see `universes/SOURCES.md`): membership dating is `none`.
- **`esg.csv`**: the 绿发信评 ESG ratings of the {n_esg} computer-equipment companies rated A-pi or
  better, exactly as the report prints them (`AA+pi`, `AApi`, `AA-pi`, `A+pi`, `Api`, `A-pi`),
  `as_of` {report}.

## What is ILLUSTRATIVE (not market data: do not trade on it)

- **`consensus.csv`**, **`prices.csv`** (including `market_cap`, `adj_close` and `amount`) and
  **`fx.csv`** are generated with a fixed random seed from hand-set, plausible base values. They are
  not the iFinD consensus of the report, not real prices, not real exchange rates. They exist so that
  screens, point-in-time logic, revisions, returns, valuation and currency conversion have something
  to run on.
- The corporate actions behind `adj_close` are made up too: a yearly cash dividend ({payout:.0%} of
  the FY2025 EPS; ex-date the first price date on or after {ex}) for every
  profitable security outside Hong Kong, and one bonus issue (10转4 on {bonus_day} for {bonus_symbol}:
  its closes before that day are {bonus}x, its share count 1/{bonus}).

## Dates (`as_of`)

- {pre}: before the FY2025 annual reports: FY2025 and FY2026 are both forecasts (`actual=false`).
- {dates}:
  FY2025 is reported (`actual=true`, same EPS on every date); FY2026 and FY2027 are forecasts,
  revised a little every month (some securities trend up, some down).
- Prices exist on all {n_dates} dates above and on the last trading day of every week (on the
  security's own exchange calendar: XSHG, XHKG, XNYS) from {weekly_from} to {weekly_to}; FX only on the
  {n_dates} dates; ESG ratings only on {report}.

## Units

- `eps`: per share, in the reporting currency (`currency` column of `consensus.csv`): CNY for
  A-shares and for the Hong Kong listings that report in CNY (商汤-W, 金蝶国际, 中国软件国际,
  北森控股, 知行科技, 迈富时), HKD for 伟仕佳杰, USD for US listings.
- `net_profit`, `revenue`: plain units of the reporting currency (yuan, HKD, USD; not 万元 or 亿元).
- `close`, `market_cap` in `prices.csv`: plain units of the trading currency (CNY for Shanghai,
  Shenzhen and Beijing; HKD for Hong Kong; USD for US).
- `adj_close`: the back-adjusted close (后复权: close x a factor that only grows at each ex-date, so a
  past value never changes), trading currency; blank for the Hong Kong listings, whose returns come
  from `close` (a security uses one or the other, never a mix).
- `amount`: value traded that day, plain units of the trading currency.
- `fx.csv`: 1 `base` = `rate` `quote` (CNY->HKD, USD->CNY, USD->HKD).

## Files

| file | rows | columns |
| --- | --- | --- |
| `esg.csv` | {n_esg} | `symbol,rater,rating,as_of` |
| `consensus.csv` | {n_cons} | `symbol,fiscal_year,eps,actual,as_of,currency,analysts,net_profit,revenue` |
| `prices.csv` | {n_px} | `symbol,close,currency,as_of,market_cap,adj_close,amount` |
| `fx.csv` | {n_fx} | `base,quote,rate,as_of` |

Every listed security of every universe ({n_sec} securities) has consensus and price rows; unlisted
companies (`PRIVATE:*`) have none.

`snapshot.toml` marks the folder as sample data (`sample = true` and a `notice`): the screener puts
that notice in the terminal output, in every export and in `explain`.
"""


SNAPSHOT_TOML = """\
# Marks this folder as sample data: every output made from it carries the notice below.
# Written by scripts/make_sample_data.py.
sample = true
notice = "SAMPLE DATA: universes and 绿发信评 ESG ratings are real (report of {report}); consensus, prices and FX are illustrative, not market data"
"""


def main(argv: list[str] | None = None) -> None:
    global OUT
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--out"] and len(argv) == 2:
        OUT = Path(argv[1]).resolve()
    elif argv:
        sys.exit("usage: python scripts/make_sample_data.py [--out DIR]")
    symbols = listed_symbols()
    OUT.mkdir(parents=True, exist_ok=True)

    consensus, prices = [], []
    for symbol in symbols:
        paths = security_paths(symbol)
        consensus += consensus_rows(symbol, paths)
        prices += price_rows(symbol, paths)
    consensus.sort(key=lambda r: (r[0], r[4], r[1]))  # symbol, as_of, fiscal_year
    prices.sort(key=lambda r: (r[0], r[3]))
    esg = esg_rows(symbols)
    fx = fx_rows()

    write_csv(OUT / "esg.csv", ["symbol", "rater", "rating", "as_of"], esg)
    write_csv(OUT / "consensus.csv",
              ["symbol", "fiscal_year", "eps", "actual", "as_of", "currency", "analysts",
               "net_profit", "revenue"], consensus)
    write_csv(OUT / "prices.csv", ["symbol", "close", "currency", "as_of", "market_cap", "adj_close", "amount"], prices)
    write_csv(OUT / "fx.csv", ["base", "quote", "rate", "as_of"], fx)
    (OUT / "README.md").write_text(README.format(
        seed=SEED, report=REPORT_DATE, pre=PRE_REPORT_AS_OF, dates=", ".join(AS_OF_DATES),
        n_dates=len(ALL_DATES), n_esg=len(esg), n_cons=len(consensus), n_px=len(prices),
        n_fx=len(fx), n_sec=len(symbols), weekly_from=WEEKLY_FROM, weekly_to=WEEKLY_TO,
        payout=DIVIDEND_PAYOUT, ex=" and ".join(DIVIDEND_EX),
        bonus_symbol=next(iter(BONUS_ISSUE)), bonus_day=next(iter(BONUS_ISSUE.values()))[0],
        bonus=next(iter(BONUS_ISSUE.values()))[1]), encoding="utf-8")
    (OUT / "snapshot.toml").write_text(SNAPSHOT_TOML.format(report=REPORT_DATE), encoding="utf-8")
    print(f"wrote {OUT}: {len(symbols)} securities, {len(consensus)} consensus rows, "
          f"{len(prices)} price rows, {len(fx)} fx rows, {len(esg)} ESG ratings")


if __name__ == "__main__":
    main()
