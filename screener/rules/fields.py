"""The field catalogue: every name a rule may use, with its kind, unit and meaning.

One table feeds the rule checker (names and types before any data is read), the engine
(which columns it must produce), `explain` and the docs.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


class Kind(str, Enum):
    NUMBER = "number"
    TEXT = "text"
    BOOL = "boolean"
    GRADE = "ESG grade"
    TEXT_LIST = "list of text"


@dataclass(frozen=True)
class Field:
    name: str
    kind: Kind
    doc: str
    unit: str = ""
    choices: tuple[str, ...] = ()


EXPOSURE_LEVELS: tuple[str, ...] = ("pure", "core", "partial", "peripheral")
MARKETS: tuple[str, ...] = ("CN", "HK", "US", "PRIVATE")

_F = Field
FIELDS: dict[str, Field] = {
    f.name: f
    for f in (
        _F("symbol", Kind.TEXT, "canonical symbol, e.g. 603019.SH, 0020.HK, IONQ.US, PRIVATE:brainco"),
        _F("name", Kind.TEXT, "name as the report writes it"),
        _F("themes", Kind.TEXT_LIST, "universes the security belongs to among those screened: 'quantum' in themes"),
        _F("exposure", Kind.TEXT, "highest exposure among its universes", choices=EXPOSURE_LEVELS),
        _F("exposure_score", Kind.NUMBER, "exposure mapped onto 0..1 (pure 1.0, core 0.75, partial 0.5, peripheral 0.25; config.toml may override)"),
        _F("listed", Kind.BOOL, "false for unlisted (pre-IPO) companies"),
        _F("market", Kind.TEXT, "CN (Shanghai, Shenzhen, Beijing), HK, US or PRIVATE", choices=MARKETS),
        _F("exchange", Kind.TEXT, "exchange: SSE, SZSE, BSE, HKEX, NASDAQ, NYSE"),
        _F("currency", Kind.TEXT, "trading currency of the price"),
        _F("close", Kind.NUMBER, "newest close as of the run date", "trading currency"),
        _F("market_cap", Kind.NUMBER, "market capitalisation", "trading currency, plain units"),
        _F("esg_rating", Kind.GRADE, "ESG grade, rater suffix removed (AA+pi is AA+); compares by rank"),
        _F("esg_rater", Kind.TEXT, "who gave esg_rating (the first rater listed in config.toml wins)"),
        _F("esg_score", Kind.NUMBER, "esg_rating on 0..100 (AAA 100, C 0, even steps)"),
        _F("eps_currency", Kind.TEXT, "reporting currency of the consensus EPS (defaults to the trading currency)"),
        _F("eps_fy0", Kind.NUMBER, "EPS of the newest reported fiscal year", "reporting currency per share"),
        _F("eps_fy1", Kind.NUMBER, "consensus EPS of the first forecast year after fy0", "reporting currency per share"),
        _F("eps_fy2", Kind.NUMBER, "consensus EPS of the second forecast year after fy0", "reporting currency per share"),
        _F("eps_growth_fy1", Kind.NUMBER, "eps_fy1 / eps_fy0 - 1; null when eps_fy0 <= 0 or missing", "ratio (0.25 = 25%)"),
        _F("eps_growth_fy2", Kind.NUMBER, "eps_fy2 / eps_fy1 - 1; null when eps_fy1 <= 0 or missing", "ratio"),
        _F("pe_fy1", Kind.NUMBER, "close / eps_fy1 with EPS converted to the trading currency; null when eps_fy1 <= 0 or no FX rate", "times"),
        _F("pe_fy2", Kind.NUMBER, "close / eps_fy2, as pe_fy1", "times"),
        _F("peg_fy1", Kind.NUMBER, "pe_fy1 / (100 * eps_growth_fy1); null when growth <= 0", "times"),
        _F("analysts", Kind.NUMBER, "number of analysts behind the fy1 consensus"),
        _F("revision_1m", Kind.NUMBER, "change of the fy1 consensus EPS against 30 days earlier: (now - then) / |then|", "ratio"),
        _F("revision_3m", Kind.NUMBER, "as revision_1m, against 90 days earlier", "ratio"),
        _F("industry", Kind.TEXT, "industry classification from the universe file (e.g. 申万一级 计算机); "
           "null where the file leaves it blank"),
        _F("return_1m", Kind.NUMBER, "p(D) / p(D - 30 days) - 1, where p(X) is the newest adj_close on or before X "
           "(close for a security with no adj_close); null when either price is missing", "ratio, trading currency"),
        _F("return_3m", Kind.NUMBER, "as return_1m, against 91 days earlier", "ratio, trading currency"),
        _F("return_6m", Kind.NUMBER, "as return_1m, against 182 days earlier", "ratio, trading currency"),
        _F("return_12m", Kind.NUMBER, "as return_1m, against 365 days earlier", "ratio, trading currency"),
        _F("amount_avg_1m", Kind.NUMBER, "mean value traded per price row over the 30 days up to the run date "
           "(rows with as_of in (D - 30 days, D])", "trading currency, plain units"),
        _F("revenue_fy1", Kind.NUMBER, "consensus revenue of the fy1 year", "reporting currency, plain units"),
        _F("net_profit_fy1", Kind.NUMBER, "consensus net profit of the fy1 year", "reporting currency, plain units"),
        _F("revenue_growth_fy1", Kind.NUMBER, "revenue_fy1 / fy0 revenue - 1; null when the fy0 revenue <= 0 or missing",
           "ratio"),
        _F("net_profit_growth_fy1", Kind.NUMBER, "net_profit_fy1 / fy0 net profit - 1; null when the fy0 net profit <= 0 "
           "or missing", "ratio"),
        _F("ps_fy1", Kind.NUMBER, "market_cap / revenue_fy1 with revenue converted to the trading currency as for "
           "pe_fy1; null when revenue_fy1 <= 0 or no FX rate", "times"),
    )
}
