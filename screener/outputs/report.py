"""Shape a `ScreenResult` for people and programs: the watchlist table and the JSON payload.

Both show the same rows in rank order; floats are rounded to 6 places in JSON. `fields` shown
are the ones the rule reads, then the usual key fields (ESG grade, EPS, growth, P/E).
"""

from __future__ import annotations

import json
from datetime import datetime, timezone

import polars as pl

from screener.engine.screen import KEY_FIELDS, ScreenResult, data_dates


def shown_fields(result: ScreenResult) -> list[str]:
    out = [f for f in result.screen.fields() if f not in ("symbol", "name", "themes", "exposure")]
    for f in KEY_FIELDS:
        if f not in out:
            out.append(f)
    return out


def watchlist_table(result: ScreenResult) -> pl.DataFrame:
    """The included rows, by rank: identity, score, normalised components, fields, notice."""
    inc = result.included
    comps = [pl.col(result.norm_col(i)).alias(f"score_{s.name}") for i, s in enumerate(result.screen.scores)]
    fields = [pl.col(f).cast(pl.String) if f == "esg_rating" else pl.col(f) for f in shown_fields(result)
              if f not in ("currency", "close")]
    cols = [pl.col("rank"), pl.col("symbol"), pl.col("name"), pl.col("name_en"), pl.col("themes"), pl.col("exposure"),
            pl.col("score"), *comps, *fields, pl.col("currency"), pl.col("close"), pl.lit(result.as_of).alias("as_of"),
            pl.col("price_as_of"), pl.col("consensus_as_of")]
    if result.snapshot.notice:
        cols.append(pl.lit(result.snapshot.notice).alias("data_notice"))
    return inc.select(cols)


class EncodedJSON(list):
    """JSON texts already encoded, one per element, which `dumps_payload` writes as they are."""


def result_payload(result: ScreenResult, generated_at: datetime | None = None, for_writing: bool = False) -> dict:
    """DESIGN.md's `run --json` shape: {"rule", "as_of", "rows": [...], "excluded": [...]} plus context.

    `for_writing=True` (the JSON writers) gives `excluded` as `EncodedJSON` made by polars: a
    whole-market screen has a million excluded members, and making a Python dict of each costs
    more than the screen. `dumps_payload` writes either form."""
    screen = result.screen
    rows = []
    fields = shown_fields(result)
    for r in result.included.iter_rows(named=True):
        row = {"rank": r["rank"], "symbol": r["symbol"], "name": r["name"], "name_en": r["name_en"],
               "themes": list(r["themes"]), "exposure": r["exposure"], "score": plain(r["score"]),
               "components": {s.name: plain(r[result.norm_col(i)]) for i, s in enumerate(screen.scores)},
               "raw": {s.name: plain(r[result.raw_col(i)]) for i, s in enumerate(screen.scores)}}
        for f in fields:
            row[f] = plain(r[f] if f != "esg_rating" or r[f] is None else str(r[f]))
        row.setdefault("close", plain(r["close"]))
        row.setdefault("currency", r["currency"])
        rows.append(row)
    return {
        "rule": screen.path,
        "rule_name": screen.name,
        "as_of": result.as_of.isoformat(),
        "generated_at": (generated_at or datetime.now(timezone.utc)).replace(microsecond=0).isoformat(),
        "universes": list(screen.universes),
        "data": {"folder": result.snapshot.folder.name, "fingerprint": result.snapshot.fingerprint,
                 "sample": result.snapshot.sample, "notice": result.snapshot.notice, **data_dates(result.frame)},
        "members": result.frame.height,
        "passed": int(result.frame["_passed"].sum()),
        "rows": rows,
        "excluded": excluded_json(result) if for_writing else excluded_entries(result),
        "warnings": list(result.warnings),
    }


def excluded_entries(result: ScreenResult) -> list[dict]:
    """Every member not in the watchlist, by symbol, with the filters it failed and why."""
    return (result.verdicts.filter(pl.col("included").not_())
            .select("symbol", "name", "failed", "missing", "reason").to_dicts())


def excluded_json(result: ScreenResult) -> EncodedJSON:
    """`excluded_entries` as JSON texts, one per member, encoded by polars."""
    entry = pl.struct("symbol", "name", "failed", "missing", "reason").struct.json_encode()
    texts = result.verdicts.filter(pl.col("included").not_()).select(entry.alias("j"))["j"]
    return EncodedJSON(texts.to_list())


def exclusion_counts(result: ScreenResult) -> dict[str, int]:
    """How many members each filter removed (a member failing two filters counts in both);
    "below top" for passers cut by `top`. In the rule's order, "unlisted" first, "below top" last."""
    out = result.verdicts.filter(pl.col("included").not_())
    reasons = (out.select(pl.when(pl.col("failed").list.len() > 0).then(pl.col("failed"))
                          .otherwise(pl.concat_list([pl.lit("below top")])).alias("r"))
               .explode("r")["r"].value_counts())
    counts = dict(zip(reasons["r"].to_list(), reasons["count"].to_list()))
    order = ["unlisted", *(f.name for f in result.screen.filters), "below top"]
    return {k: counts[k] for k in order if k in counts}


def dumps_payload(payload, level: int = 0) -> str:
    """JSON text for a payload (or a list of them): indented like `json.dumps(indent=2)`, except
    that each element of `rows` and `excluded` is one compact line. Same data, easier to scan,
    and written by json's C encoder: indenting a million excluded members in pure Python takes
    tens of seconds."""
    pad, inner = "  " * level, "  " * (level + 1)
    if isinstance(payload, list):
        if not payload:
            return "[]"
        return "[\n" + ",\n".join(inner + dumps_payload(p, level + 1) for p in payload) + "\n" + pad + "]"
    parts = []
    for key, value in payload.items():
        if key in ("rows", "excluded") and isinstance(value, list) and value:
            encode = str if isinstance(value, EncodedJSON) else (lambda v: json.dumps(v, ensure_ascii=False))
            lines = ",\n".join(inner + "  " + encode(v) for v in value)
            text = "[\n" + lines + "\n" + inner + "]"
        else:
            text = json.dumps(value, ensure_ascii=False, indent=2).replace("\n", "\n" + inner)
        parts.append(f"{inner}{json.dumps(key, ensure_ascii=False)}: {text}")
    return "{\n" + ",\n".join(parts) + "\n" + pad + "}"


def plain(v):
    """JSON-friendly value: floats rounded to 6 places, dates as ISO text, enums as text."""
    if isinstance(v, float):
        return round(v, 6)
    if hasattr(v, "isoformat"):
        return v.isoformat()
    if isinstance(v, list):
        return list(v)
    return v


def data_dates_text(result: ScreenResult) -> str:
    """"prices 2026-11-20 · consensus 2026-11-20 · ESG 2026-04-21": the newest data the result
    used, for the provenance of every export; "—" when it used none."""
    d = data_dates(result.frame)
    parts = [f"{name} {d[key]}" for name, key in (("prices", "prices_as_of"), ("consensus", "consensus_as_of"),
                                                  ("ESG", "esg_as_of")) if d[key]]
    return " · ".join(parts) or "—"


def format_number(value: float, column: str, currency: str | None = None) -> str:
    """A finite number the way an analyst reads `column`: score and components 3 decimals;
    growth and revision ratios as % with 1 decimal; P/E and PEG 1 decimal; EPS 3 decimals; close
    with 2 decimals and its currency (none when the currency is unknown); market cap in billions
    or millions; exposure score 2 decimals; counts as integers."""
    if column == "score" or column.startswith("score_"):
        return f"{value:.3f}"
    if column.startswith(("eps_growth_", "revision_")):
        return f"{value * 100:.1f}%"
    if column.startswith(("pe_", "peg_")) or column == "esg_score":
        return f"{value:.1f}"
    if column.startswith("eps_fy"):
        return f"{value:.3f}"
    if column == "close":
        return f"{value:,.2f} {currency}" if currency else f"{value:,.2f}"
    if column == "market_cap":
        return f"{value / 1e9:,.1f} bn" if abs(value) >= 1e9 else f"{value / 1e6:,.1f} m"
    if column == "exposure_score":
        return f"{value:.2f}"
    if column in ("rank", "analysts") or isinstance(value, int):
        return f"{value:.0f}"
    return f"{value:,.2f}"
