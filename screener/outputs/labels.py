"""Column headers of exports, in English (the field names) or Chinese (`--lang zh`); in Chinese
also the shown values of closed sets, the engine's and the history's reasons, and 亿/万 units."""

from __future__ import annotations

import math
import re

ZH = {
    "rank": "排名", "symbol": "代码", "name": "名称", "name_en": "英文名称", "themes": "主题",
    "exposure": "主题暴露", "exposure_score": "暴露得分", "listed": "是否上市", "market": "市场",
    "exchange": "交易所", "currency": "交易币种", "close": "收盘价", "market_cap": "总市值",
    "esg_rating": "ESG评级", "esg_rater": "ESG评级机构", "esg_score": "ESG得分",
    "eps_currency": "EPS币种", "eps_fy0": "EPS(FY0实际)", "eps_fy1": "EPS(FY1一致预期)",
    "eps_fy2": "EPS(FY2一致预期)", "eps_growth_fy1": "EPS增速(FY1)", "eps_growth_fy2": "EPS增速(FY2)",
    "pe_fy1": "市盈率(FY1)", "pe_fy2": "市盈率(FY2)", "peg_fy1": "PEG(FY1)", "analysts": "分析师数",
    "revision_1m": "一致预期1月调整", "revision_3m": "一致预期3月调整", "score": "综合得分",
    "as_of": "数据日期", "data_notice": "数据说明", "price_as_of": "价格日期", "consensus_as_of": "一致预期日期",
    "industry": "行业", "return_1m": "近1月涨跌幅", "return_3m": "近3月涨跌幅", "return_6m": "近6月涨跌幅",
    "return_12m": "近12月涨跌幅", "amount_avg_1m": "近1月日均成交额", "revenue_fy1": "营业收入(FY1一致预期)",
    "net_profit_fy1": "净利润(FY1一致预期)", "revenue_growth_fy1": "营收增速(FY1)",
    "net_profit_growth_fy1": "净利润增速(FY1)", "ps_fy1": "市销率(FY1)",
    # how a row got into the watchlist
    "group_rank": "组内排名", "pinned": "人工纳入", "pin_reason": "人工纳入原因", "kept": "缓冲保留",
    "reason": "入选说明", "previous_watchlist": "上期观察名单",
}
ZH_PREFIX = {"score_": "得分·"}


def label(column: str, lang: str = "en") -> str:
    """The header for `column`; unknown columns keep their name. Component columns
    (`score_<name>`) keep the rule's own component name after a translated prefix."""
    if lang != "zh":
        return column
    if column in ZH:
        return ZH[column]
    for prefix, zh in ZH_PREFIX.items():
        if column.startswith(prefix):
            return zh + column[len(prefix):]
    return column


#: Fixed phrases of the exports (sheet captions, section titles, notes), in Chinese.
PHRASES_ZH = {
    'data as of': '数据截至',
    'as of': '数据日期',
    'generated': '生成时间',
    'Sample data': '样本数据',
    'Universes': '股票池',
    'Watchlist': '观察名单',
    'members': '成员',
    'passed every filter': '通过全部筛选',
    'shown': '列入名单',
    'No security passed every filter.': '没有证券通过全部筛选条件。',
    'Score components': '得分构成',
    'Each bar is the composite score split into its components: weight × normalised value.': '每根条形为综合得分按构成拆分：权重 × 标准化值。',
    'weight': '权重',
    'lower is better': '越低越好',
    'Nothing to chart.': '无可绘制的数据。',
    'Valuation against growth': '估值与增长',
    'not plotted': '未绘制',
    'missing': '缺少',
    'Filters': '筛选条件',
    'filter': '条件',
    'expression': '表达式',
    'removed': '剔除数',
    'unlisted': '未上市',
    'not listed: kept in the universe, never screened': '未上市：保留在股票池中，不参与筛选',
    'below top': '未进前',
    'ranked below the top': '通过筛选但未进前',
    'pin': '人工排除',
    'excluded by an exclude pin': '被人工排除（pin）',
    'pinned': '人工纳入',
    'previous watchlist': '上期观察名单',
    'group': '分组',
    'keep': '缓冲名次',
    'per': '分组字段',
    'A member failing several filters counts once for each.': '未通过多个条件的成员在每个条件下各计一次。',
    'What changed since the previous run': '与上次运行相比的变化',
    'First recorded run: nothing to compare with.': '首次记录的运行：没有可比较的上次结果。',
    'previous run': '上次运行',
    'No security entered, left or moved.': '没有证券新进、移出或名次变动。',
    'Entered': '新进',
    'Left': '移出',
    'Moved': '名次变动',
    'reason': '原因',
    'rank': '排名',
    'was': '原排名',
    'now': '现排名',
    'Data and rule': '数据与规则',
    'data folder': '数据目录',
    'fingerprint': '指纹',
    'rule file': '规则文件',
    'rule sha256': '规则 SHA-256',
    'sample data': '样本数据',
    'yes': '是',
    'no': '否',
    'Warnings': '警告',
    'PEG = 1': 'PEG = 1',
    'Dots below the dashed PEG = 1 line trade at a P/E lower than their EPS growth in %.': '位于虚线 PEG = 1 下方的点：市盈率低于其 EPS 增速（%）。',
    'Excluded': '剔除',
    'none': '无',
    'passed': '通过筛选',
    'Changes since the previous run': '与上次运行相比的变化',
    'change': '变化',
    'entered': '新进',
    'left': '移出',
    'moved': '名次变动',
    'Rule': '规则',
    'data': '数据',
    'item': '项目',
    'value': '内容',
    'rule': '规则',
    'description': '说明',
    'universes': '股票池',
    'as_of': '数据日期',
    'generated_at': '生成时间',
    'data fingerprint': '数据指纹',
    'data notice': '数据说明',
    'top': '前N名',
    'excluded': '剔除',
    'warning': '警告',
    'rule text': '规则原文',
    'from_rank': '原排名',
    'to_rank': '新排名',
    'from_score': '原得分',
    'to_score': '新得分',
    'this run': '本次运行',
    # the backtest tear sheet (outputs/tearsheet.py)
    'Backtest': '回测',
    'does the rule work?': '规则是否有效？',
    'every month': '每月末',
    'every quarter': '每季末',
    'every week': '每周日',
    'Summary': '汇总',
    'membership dates': '成分股日期',
    'all rows dated': '全部有日期',
    "none: today's constituents at every date": '无：各期均用当前成分股',
    'missing member returns': '缺失的成员收益',
    'periods': '期数',
    'periods without a watchlist return': '无观察名单收益的期数',
    'without a watchlist return': '期无观察名单收益',
    'watchlist cumulative': '观察名单累计收益',
    'benchmark cumulative': '基准累计收益',
    'watchlist cumulative, net of costs': '观察名单累计收益（扣除成本）',
    'IC mean': 'IC均值',
    'IC IR': 'IC信息比率',
    'turnover mean': '平均换手率',
    'hit rate': '胜率',
    'max drawdown': '最大回撤',
    'Cumulative figures compound the period returns; a period without a watchlist return counts as 0. Hit rate: share of the periods with a watchlist return that beat the benchmark. IC: Spearman correlation of the composite score with the forward return over the passers.': '累计数为各期收益复利；无观察名单收益的期按 0 计。胜率：有观察名单收益的期中跑赢基准的比例。IC：通过筛选的证券综合得分与下期收益的斯皮尔曼相关系数。',
    'Cumulative return': '累计收益',
    'watchlist': '观察名单',
    'benchmark': '基准',
    'net of costs': '扣除成本',
    'no member had a return (counted as 0)': '无成员收益（按 0 计）',
    'Bucket returns': '分组收益',
    'Mean return per period of each bucket of passers, by composite score: bucket 1 is the best. A working rule slopes down from bucket 1.': '按综合得分将通过筛选的证券分组，各组的每期平均收益：第 1 组得分最高。有效的规则从第 1 组起逐组下降。',
    'best': '最高',
    'worst': '最低',
    'bucket': '分组',
    'mean over': '平均，共',
    'periods with a return': '期有收益',
    'IC per period': '各期 IC',
    'Spearman correlation of the composite score with the forward return, over the passers with a return.': '综合得分与下期收益的斯皮尔曼相关系数，范围为有收益的通过筛选证券。',
    'Shaded: no IC (fewer than 3 passers with a return, or a constant series).': '阴影：无 IC（有收益的通过筛选证券少于 3 个，或序列为常数）。',
    'no IC (fewer than 3 passers with a return, or a constant series)': '无 IC（有收益的通过筛选证券少于 3 个，或序列为常数）',
    'periods with an IC': '有 IC 的期数',
    'mean': '均值',
    'Turnover per period': '各期换手率',
    'Share of the watchlist that was not in it at the previous date.': '观察名单中上一调仓日不在名单内的比例。',
    'IC of each score component': '各得分项的 IC',
    'component': '得分项',
    'The rule has no score components.': '该规则没有得分项。',
    'Periods': '各期明细',
    'date': '调仓日',
    'end': '期末',
    'net': '扣费后',
    'turnover': '换手率',
    'missing returns': '缺失收益',
    'rebalance dates': '调仓日期',
    'dates': '个日期',
    'buckets': '分组数',
    'costs': '交易成本',
    'pins': '人工指定（pins）',
    'applied at every date': '各期均应用',
    'ignored': '忽略',
    "equal-weight listed members of the rule's universes": '规则股票池中已上市成员等权',
}


def below_top(top: int, per: str | None, lang: str = "en") -> str:
    """The bucket of passers cut by `top`: "below top 10", "below top 2 per industry";
    "未进前 10", "未进前 2（按 industry 分组）"."""
    if lang == "zh":
        return f"未进前 {top}" + (f"（按 {per} 分组）" if per else "")
    return f"below top {top}" + (f" per {per}" if per else "")


def phrase(words: str, lang: str = "en") -> str:
    """A fixed phrase in `lang`; the English words when `lang` is not \"zh\" or there is no
    translation (so a missing translation shows English, never an error)."""
    return PHRASES_ZH.get(words, words) if lang == "zh" else words


# ---------------------------------------------------------------- values, reasons and units (zh)
#
# The engine (`engine/verdicts.py`) and `history.compare` word every reason once, in English; the
# Chinese exports translate those words here by pattern, so the English stays the single source.
# Filter and score names, groups and the user's own pin reasons are kept as written. A reason no
# pattern knows is shown in English, never dropped.

#: the closed sets of text values shown to people, in Chinese
VALUES_ZH = {
    "exposure": {"pure": "纯正", "core": "核心", "partial": "部分", "peripheral": "外围"},
    "market": {"CN": "A股", "HK": "港股", "US": "美股", "PRIVATE": "未上市"},
}


def translate_value(column: str, value, lang: str = "en"):
    """A shown value of `column` in `lang`: exposure (pure/core/partial/peripheral), market
    (CN/HK/US/PRIVATE) and booleans (是/否) in Chinese; anything else unchanged."""
    if lang != "zh":
        return value
    if isinstance(value, bool):
        return phrase("yes" if value else "no", lang)
    if isinstance(value, str):
        return VALUES_ZH.get(column, {}).get(value, value)
    return value


_N = r"(\d+)"


_POSITIONS_ZH = (
    (rf"rank {_N} in (\S+) (.*)", lambda m: f"{m[2]} {m[3]} 组内第 {m[1]} 名"),
    (rf"rank {_N}", lambda m: f"第 {m[1]} 名"),
)


def _position(text: str) -> str | None:
    """"rank 12" -> "第 12 名"; "rank 2 in industry 计算机" -> "industry 计算机 组内第 2 名"."""
    return _first_match(_POSITIONS_ZH, text)


def _missing(text: str) -> str:
    return text.replace(" (missing data: ", "（缺少数据：").removesuffix(")") + "）" if " (missing data: " in text \
        else text


def _first_match(patterns, text: str) -> str | None:
    """The Chinese of `text` by the first (regex, words) pair whose regex matches it whole."""
    for pattern, words in patterns:
        m = re.fullmatch(pattern, text)
        if m:
            return words(m)
    return None


_CUTS_ZH = (
    (rf"below top {_N} per (\S+)", lambda m: f"未进前 {m[1]}（按 {m[2]} 分组）"),
    (rf"below top {_N}", lambda m: f"未进前 {m[1]}"),
    (rf"outside keep {_N}", lambda m: f"超出缓冲名次 {m[1]}"),
    (rf"its place taken by a member kept by the buffer \(keep {_N}\)",
     lambda m: f"名额被缓冲保留的成员占用（缓冲名次 {m[1]}）"),
)


def _cut(text: str) -> str | None:
    """The part after a position: ", below top 10 [per F]", ", outside keep 15", "its place taken"."""
    return _first_match(_CUTS_ZH, text)


_FIXED_REASONS_ZH = {
    "unlisted": "未上市",
    "new in the universe": "新进入股票池",
    "now listed": "新上市",
    "now ranked": "现已参与排名",
    "no longer excluded by a pin": "不再被人工排除",
    "no longer in the universe": "已不在股票池中",
    "not ranked": "未参与排名",
}


_MOVES_ZH = (
    (rf"(up|down) {_N} \(score (.*) -> (.*)\)", lambda m: f"{'上升' if m[1] == 'up' else '下降'} {m[2]} 名（得分 {m[3]} -> {m[4]}）"),
    (rf"rose into the top {_N} of its group \(rank {_N} in it\)", lambda m: f"升入组内前 {m[1]}（组内第 {m[2]} 名）"),
    (rf"rose into the top {_N}", lambda m: f"升入前 {m[1]}"),
    (rf"fell below the top {_N} \(rank {_N}\)", lambda m: f"跌出前 {m[1]}（第 {m[2]} 名）"),
)


def _one_reason(text: str) -> str | None:
    if text in _FIXED_REASONS_ZH:
        return _FIXED_REASONS_ZH[text]
    for prefix, zh in (("pinned: ", "人工纳入："), ("excluded by pin: ", "人工排除：")):
        if text.startswith(prefix):
            return zh + text[len(prefix):]  # the user's own words, as written
    for prefix in ("failed ", "fails "):
        if text.startswith(prefix):
            return "未通过 " + _missing(text[len(prefix):])
    if text.startswith("now passes "):
        return "现已通过 " + text[len("now passes "):]
    moved = _first_match(_MOVES_ZH, text)
    if moved is not None:
        return moved
    m = re.fullmatch(r"kept by the buffer \((.*), keep (\d+)\)", text)
    if m and _position(m[1]):
        return f"缓冲保留（{_position(m[1])}，缓冲名次 {m[2]}）"
    head, sep, tail = text.rpartition(", ")
    while sep:  # "<position>, <cut>": the group text of a position may hold ", " itself
        if _position(head) and _cut(tail):
            return f"{_position(head)}，{_cut(tail)}"
        head, sep, rest = head.rpartition(", ")
        tail = rest + ", " + tail
    return None


def translate_reason(reason: str | None, lang: str = "en") -> str | None:
    """The engine's or the history's English reason in `lang`, translated by pattern: "rank 12,
    below top 10" -> "第 12 名，未进前 10"; "failed growing (missing data: growing)" -> "未通过
    growing（缺少数据：growing）"; "pinned: <reason>" -> "人工纳入：<reason>"; "up 2 (score a ->
    b)" -> "上升 2 名（得分 a -> b）"; history's "now passes A; no longer excluded by a pin" part by
    part. Names and the user's words stay as written; a reason no pattern knows stays English;
    None stays None."""
    if lang != "zh" or not reason:
        return reason
    if "; " in reason and not reason.startswith(("pinned: ", "excluded by pin: ")):  # history's joined parts
        translated = [_one_reason(p) for p in reason.split("; ")]
        if all(t is not None for t in translated):
            return "；".join(translated)
    whole = _one_reason(reason)
    return reason if whole is None else whole


#: money columns shown in 亿 or 万 in Chinese displays
AMOUNT_COLUMNS = ("market_cap", "revenue_fy1", "net_profit_fy1", "amount_avg_1m")
_UNITS_ZH = ((1e8, "亿"), (1e4, "万"))


def amount_unit(values, lang: str = "en") -> tuple[float, str] | None:
    """The unit a Chinese display shows a money column in: (1e8, "亿") when the median magnitude
    of its finite values is at least 1e8, (1e4, "万") from 1e4, else None (plain numbers); None
    in English, where `report.format_number` says "bn"/"m" per cell."""
    if lang != "zh":
        return None
    finite = sorted(abs(v) for v in values if isinstance(v, (int, float)) and not isinstance(v, bool)
                    and math.isfinite(v))
    if not finite:
        return None
    n = len(finite)
    median = finite[n // 2] if n % 2 else (finite[n // 2 - 1] + finite[n // 2]) / 2
    return next(((scale, unit) for scale, unit in _UNITS_ZH if median >= scale), None)


def unit_header(header: str, unit: tuple[float, str] | None) -> str:
    """"总市值" -> "总市值（亿）" for a column shown in a unit; unchanged without one."""
    return f"{header}（{unit[1]}）" if unit else header


def in_unit(value: float, unit: tuple[float, str]) -> str:
    """A money amount in its column's unit, two decimals, no separator: 144.67e9 in 亿 -> "1446.70"."""
    return f"{value / unit[0]:.2f}"


_NOTES_ZH = (
    (r"no previous watchlist: plain top", lambda m: "无上期观察名单：按排名直接取前列"),
    (r"previous watchlist: run (\d+) as of (\S+)", lambda m: f"上期观察名单：第 {m[1]} 次运行（截至 {m[2]}）"),
    (r"previous watchlist: as of (\S+)", lambda m: f"上期观察名单：截至 {m[1]}"),
)


def translate_note(note: str | None, lang: str = "en") -> str | None:
    """The previous-watchlist note (`export.previous_note`) in `lang`; unknown text unchanged."""
    if lang != "zh" or note is None:
        return note
    shown = _first_match(_NOTES_ZH, note)
    return note if shown is None else shown
