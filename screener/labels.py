"""Column headers of exports, in English (the field names) or Chinese (`--lang zh`)."""

from __future__ import annotations

ZH = {
    "rank": "排名", "symbol": "代码", "name": "名称", "name_en": "英文名称", "themes": "主题",
    "exposure": "主题暴露", "exposure_score": "暴露得分", "listed": "是否上市", "market": "市场",
    "exchange": "交易所", "currency": "交易币种", "close": "收盘价", "market_cap": "总市值",
    "esg_rating": "ESG评级", "esg_rater": "ESG评级机构", "esg_score": "ESG得分",
    "eps_currency": "EPS币种", "eps_fy0": "EPS(FY0实际)", "eps_fy1": "EPS(FY1一致预期)",
    "eps_fy2": "EPS(FY2一致预期)", "eps_growth_fy1": "EPS增速(FY1)", "eps_growth_fy2": "EPS增速(FY2)",
    "pe_fy1": "市盈率(FY1)", "pe_fy2": "市盈率(FY2)", "peg_fy1": "PEG(FY1)", "analysts": "分析师数",
    "revision_1m": "一致预期1月调整", "revision_3m": "一致预期3月调整", "score": "综合得分",
    "as_of": "数据日期", "data_notice": "数据说明",
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
