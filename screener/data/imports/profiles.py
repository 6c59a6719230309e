"""Vendor profiles: which normalised headers give which snapshot field, per source and kind.

`PROFILES[source][kind]` maps a field to its header aliases (normalised keys, see `headers`) for
Wind, iFinD and Choice. Field names: `eps`, `net_profit`, `revenue` (forecasts), `eps!`,
`net_profit!`, `revenue!` (reported), `analysts`, `currency`, `fiscal_year`; `close`,
`market_cap`; `rating`, `rating?` (a fallback), `rater`; `symbol`, `name`. An ESG header such as
`华证ESG评级` or `ESG评级(华证)` names its own rater (`header_rater`).

The `generic` source reads a long layout described in `config.toml`:

```toml
[import.generic.consensus]          # snapshot column = header in the file
symbol = "代码"
fiscal_year = "年度"                # 2026, 2026E, 2025A, FY1 (mapped as the layout does)
eps = "EPS"
actual = "已披露"                   # true/false, 是/否, 实际/预测, A/E; absent: forecasts
net_profit = "净利润"
units = { net_profit = "亿元" }
```

Required mappings: consensus `symbol, fiscal_year, eps`; prices `symbol, close`; esg `symbol,
rating`. `as_of` cannot be mapped (it is `--as-of`). Config units override the header's own.

Nulls and empty input: no `[import.generic.<kind>]` table (or no `imports` on the config) is an
`InputError` naming the table to add; every problem of the table is collected into one
`InputError`. Ties: a header whose key is an alias of two fields gives the first field listed in
the profile; two generic columns naming the same header are an error.
"""

from __future__ import annotations

import re
from pathlib import Path

from screener.data.imports.headers import Header, normalise_header
from screener.data.imports.units import parse_unit
from screener.problems import InputError, Problem, suggestion

SOURCES = ("wind", "ifind", "choice", "generic")
KINDS = ("consensus", "prices", "esg")
NUMERIC = ("eps", "net_profit", "revenue", "close", "market_cap")  # the columns a unit applies to

__all__ = ["SOURCES", "KINDS", "NUMERIC", "PROFILES", "profile", "generic_profile", "generic_headers",
           "header_rater", "expected_headers", "other_source_hint"]

_SYMBOL = ("证券代码", "股票代码", "代码", "交易代码", "证券代码(带后缀)", "code", "symbol", "ticker", "windcode",
           "thscode")
_NAME = ("证券简称", "证券名称", "股票简称", "股票名称", "名称", "简称", "name")
_CURRENCY = ("币种", "货币", "货币代码", "币种代码", "报告币种", "报表币种", "财报币种", "交易币种", "currency")
_YEAR = ("预测年度", "年度", "会计年度", "财年", "fiscal_year")

# field names: eps, net_profit, revenue (forecasts), eps!, net_profit!, revenue! (reported),
# analysts, currency, fiscal_year; close, market_cap; rating, rating?, rater; symbol, name
_CONSENSUS_COMMON = {
    "eps!": ("每股收益eps(基本)", "每股收益eps-基本", "基本每股收益", "每股收益(基本)", "每股收益eps", "eps(基本)",
             "基本每股收益eps"),
    "net_profit!": ("归属母公司股东的净利润", "归属于母公司股东的净利润", "归母净利润", "净利润"),
    "revenue!": ("营业收入", "营业总收入"),
    "currency": _CURRENCY,
    "fiscal_year": _YEAR,
}
PROFILES: dict[str, dict[str, dict[str, tuple[str, ...]]]] = {
    "wind": {
        "consensus": {
            "eps": ("一致预测每股收益", "一致预测eps", "一致预期每股收益", "一致预测每股收益(平均值)"),
            "net_profit": ("一致预测净利润", "一致预测归母净利润", "一致预测归属母公司净利润", "一致预期净利润"),
            "revenue": ("一致预测营业收入", "一致预测营业总收入", "一致预期营业收入"),
            "analysts": ("预测机构家数", "一致预测机构家数", "机构数", "预测机构数"),
            **_CONSENSUS_COMMON,
        },
    },
    "ifind": {
        "consensus": {
            "eps": ("预测每股收益(平均值)", "预测eps(平均值)", "每股收益预测平均值", "预测每股收益平均值",
                    "一致预期每股收益", "一致预测每股收益"),
            "net_profit": ("预测净利润(平均值)", "预测归母净利润(平均值)", "预测净利润平均值", "一致预期净利润",
                           "一致预测净利润"),
            "revenue": ("预测营业收入(平均值)", "预测营业总收入(平均值)", "预测营业收入平均值", "一致预期营业收入"),
            "analysts": ("预测机构数", "机构数", "预测机构家数", "研究机构数"),
            **_CONSENSUS_COMMON,
        },
    },
    "choice": {
        "consensus": {
            "eps": ("预测每股收益平均值", "预测eps平均值", "一致预期每股收益", "每股收益预测平均值"),
            "net_profit": ("预测净利润平均值", "预测归属于母公司股东的净利润平均值", "预测归母净利润平均值",
                           "一致预期净利润"),
            "revenue": ("预测营业收入平均值", "预测营业总收入平均值", "一致预期营业收入"),
            "analysts": ("预测机构家数", "机构家数", "预测机构数", "机构数"),
            **_CONSENSUS_COMMON,
        },
    },
}
_PRICES = {
    "close": ("收盘价", "最新价", "最新收盘价", "现价", "收盘", "close"),
    "market_cap": ("总市值", "总市值1", "总市值2", "市值", "market_cap"),
    "currency": _CURRENCY,
}
_ESG = {
    "rating": ("esg评级", "esg等级", "esg综合评级", "最新esg评级", "评级", "综合评级", "rating"),
    "rating?": ("esg评分",),  # used only when no rating column: MSCI tables hold the letter here,
    # others "85.98(AAA)"; a plain score is rejected
    "rater": ("评级机构", "esg评级机构", "机构", "评级公司", "评级来源", "rater"),
}
for _src in ("wind", "ifind", "choice"):
    PROFILES[_src]["prices"] = dict(_PRICES)
    PROFILES[_src]["esg"] = dict(_ESG)
    for _kind in KINDS:
        PROFILES[_src][_kind] = {"symbol": _SYMBOL, "name": _NAME, **PROFILES[_src][_kind]}

# a header such as 华证ESG评级 / MSCI ESG评级 / WindESG评级 names its rater
_RATER_HEADER = re.compile(r"^(?P<rater>.+?)esg(?:评级|等级|综合评级)$")
_RATER_AFTER = re.compile(r"^esg(?:评级|等级|综合评级)\((?P<rater>[^()]+)\)$")  # ESG评级(华证)
_RATER_NAMES = {"万得": "Wind", "wind": "Wind", "msci": "MSCI", "明晟": "MSCI", "sustainalytics": "Sustainalytics"}
_NOT_RATERS = ("最新", "综合")

_GENERIC_COLUMNS = {
    "consensus": ("symbol", "fiscal_year", "eps", "actual", "currency", "analysts", "net_profit", "revenue"),
    "prices": ("symbol", "close", "currency", "market_cap"),
    "esg": ("symbol", "rater", "rating"),
}
_GENERIC_REQUIRED = {"consensus": ("symbol", "fiscal_year", "eps"), "prices": ("symbol", "close"),
                     "esg": ("symbol", "rating")}


def profile(source: str, kind: str, config) -> dict[str, tuple[str, ...]]:
    """{field: header aliases} of a source and kind; for `generic`, read from the config (raises
    `InputError` as `generic_profile` does)."""
    if source != "generic":
        return PROFILES[source][kind]
    return generic_profile(kind, config)[0]


def generic_profile(kind: str, config) -> tuple[dict[str, tuple[str, ...]], dict[str, str]]:
    """The `[import.generic.<kind>]` table -> ({column: (header key,)}, {column: unit}); raises
    `InputError` for an unknown column, a missing required mapping or a bad unit."""
    imports = getattr(config, "imports", None) or {}
    path = getattr(config, "path", None)
    shown = config.display(path) if path is not None else "config.toml"
    table_name = f"import.generic.{kind}"
    try:
        from screener.rules.tomlpos import TomlText

        toml = TomlText(Path(path).read_text(encoding="utf-8-sig")) if path is not None else None
    except OSError:
        toml = None

    def where(key: str | None = None, sub: str | None = None) -> dict:
        if toml is None:
            return {}
        pos = toml.key(table_name, key, sub) if key else None
        line = pos.line if pos else toml.table_line(table_name)
        return {"line": line, "col": pos.col if pos else 1, "source_line": toml.source_line(line)}

    generic = imports.get("generic", {}) if isinstance(imports, dict) else {}
    table = generic.get(kind) if isinstance(generic, dict) else None
    example = {"consensus": 'symbol = "代码"\nfiscal_year = "年度"\neps = "EPS"',
               "prices": 'symbol = "代码"\nclose = "收盘价"', "esg": 'symbol = "代码"\nrating = "评级"'}[kind]
    if not isinstance(table, dict):
        raise InputError([Problem("no-profile", f"--source generic needs a [{table_name}] table in the config "
                                  "mapping snapshot columns to the file's headers", shown,
                                  hint=f"add to {shown}:\n[{table_name}]\n{example}")])
    allowed = _GENERIC_COLUMNS[kind]
    problems: list[Problem] = []
    mapping: dict[str, tuple[str, ...]] = {}
    units: dict[str, str] = {}
    for key, value in table.items():
        if key == "units":
            if not isinstance(value, dict):
                problems.append(Problem("bad-value", f"[{table_name}] units must be a table such as "
                                        '{ net_profit = "亿元" }', shown, **where(key)))
                continue
            for col, unit in value.items():
                if col not in NUMERIC or col not in allowed:
                    problems.append(Problem("bad-value", f"[{table_name}] units.{col}: only number columns take a unit",
                                            shown, hint=suggestion(col, [c for c in NUMERIC if c in allowed], "column"),
                                            **where(key, col)))
                elif not isinstance(unit, str) or parse_unit(unit) is None:
                    problems.append(Problem("bad-unit", f"[{table_name}] units.{col}: unknown unit {unit!r}", shown,
                                            hint="use 元, 千元, 万元, 百万元, 亿元, %, 股, 万股 ...", **where(key, col)))
                else:
                    units[col] = unit
            continue
        if key == "as_of":
            problems.append(Problem("bad-key", f"[{table_name}] as_of cannot be mapped: every row is as of --as-of",
                                    shown, hint="remove the line; import each date's file with its own --as-of",
                                    **where(key)))
            continue
        if key not in allowed and key != "name":
            problems.append(Problem("unknown-column", f"[{table_name}] unknown snapshot column `{key}`", shown,
                                    hint=suggestion(key, allowed, "column"), **where(key)))
            continue
        if not isinstance(value, str) or not value.strip():
            problems.append(Problem("bad-value", f"[{table_name}] {key} must be the file's header in quotes", shown,
                                    hint=f'{key} = "..."', **where(key)))
            continue
        header_key = normalise_header(value).key
        same = [k for k, v in mapping.items() if v == (header_key,)]
        if same:
            problems.append(Problem("bad-value", f"[{table_name}] {key} and {same[0]} both name the header {value!r}",
                                    shown, hint="one header feeds one snapshot column", **where(key)))
            continue
        mapping[key] = (header_key,)
    missing = [c for c in _GENERIC_REQUIRED[kind] if c not in table]
    if missing:
        problems.append(Problem("missing-mapping", f"[{table_name}] must map " + ", ".join(f"`{m}`" for m in missing),
                                shown, hint="required: " + ", ".join(_GENERIC_REQUIRED[kind]), **where()))
    if problems:
        raise InputError(problems)
    return mapping, units


def generic_headers(config, kind: str) -> list[str]:
    """The header texts `[import.generic.<kind>]` names, as written in the config."""
    table = ((getattr(config, "imports", None) or {}).get("generic") or {}).get(kind) or {}
    return [v for k, v in table.items() if k != "units" and isinstance(v, str)]


def header_rater(header: Header) -> str | None:
    """The rater an ESG rating header names (`华证ESG评级`, `MSCI ESG评级`, `ESG评级(华证)`), with
    known spellings made canonical (`万得` -> `Wind`); None when it names none (`最新ESG评级`)."""
    m = _RATER_HEADER.match(header.key) or _RATER_AFTER.match(header.key)
    if m and m.group("rater") not in _NOT_RATERS:
        raw_rater = header.name[m.start("rater"): m.end("rater")]
        return _RATER_NAMES.get(raw_rater.casefold(), raw_rater)
    return None


def expected_headers(source: str, kind: str, config) -> str:
    """The headers a source's profile reads, for a hint: `eps: 一致预测每股收益 / ... ; ...`."""
    fields = profile(source, kind, config)
    parts = []
    for fld, aliases in fields.items():
        label = {"eps!": "reported eps", "net_profit!": "reported net_profit", "revenue!": "reported revenue",
                 "rating?": "rating (fallback)"}.get(fld, fld)
        parts.append(f"{label}: " + " / ".join(aliases[:4]) + (" ..." if len(aliases) > 4 else ""))
    if kind == "esg" and source != "generic":
        parts.append("or <rater>ESG评级 such as 华证ESG评级")
    if kind == "consensus" and source != "generic":
        parts.append("forecast columns carry (FY1)..(FY3) or [年度] 2026")
    return "; ".join(parts)


def other_source_hint(headers: list[Header], source: str, kind: str) -> str:
    """`; these headers look like a wind export: try --source wind` when another profile reads them."""
    if source == "generic" or kind != "consensus":
        return ""
    keys = {h.key for h in headers}
    for other in ("wind", "ifind", "choice"):
        if other != source and keys & set(PROFILES[other][kind]["eps"]):
            return f"; these headers look like a {other} export: try --source {other}"
    return ""
