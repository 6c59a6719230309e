"""Shape a `ScreenResult` for people and programs: the watchlist table and the JSON payload.

Both show the same rows in output order (scored rows by composite, then pinned rows without a
score, by symbol); floats are rounded to 6 places in JSON. `fields` shown are the ones the rule
reads (filters, scores, the scores' `within` fields, `per`), then its `[output] columns`, then
the usual key fields (ESG grade, EPS, growth, P/E).

Beside the fields, every row says how it got in: `group_rank` (position within its `per` group)
when the rule has `per`; `pinned` and `pin_reason` always; `kept` (in by the `keep` buffer rather
than by rank) when the rule has `keep`; `reason` (the engine's words: "pinned: ...", "kept by the
buffer (rank 12, keep 15)", null when in by rank) when the rule has `keep` or pins. A buffered
rule's outputs name the previous watchlist it compared against (`previous_note`).
"""

from __future__ import annotations

import json
from datetime import datetime, timezone

import polars as pl

from screener.engine.values import plain
from screener.engine.screen import KEY_FIELDS, ScreenResult, data_dates


#: fields that are counts: the engine carries them as floats, every output shows them as integers
INTEGER_FIELDS = ("analysts",)

#: identity columns every watchlist row has anyway (never repeated as a shown field)
_IDENTITY = ("symbol", "name", "themes", "exposure")


def shown_fields(result: ScreenResult) -> list[str]:
    """The fields a watchlist shows, each once: the rule's own (`Screen.fields()`: filters,
    scores, the scores' `within` fields, `per`), then its `[output] columns` in order, then the
    usual key fields. Identity columns (symbol, name, themes, exposure) are shown anyway."""
    screen = result.screen
    out: list[str] = []
    per = getattr(screen, "per", None)
    for f in (*screen.fields(), *getattr(screen, "columns", ()), *((per,) if per else ()), *KEY_FIELDS):
        if f not in out and f not in _IDENTITY:
            out.append(f)
    return out


def has_pins(screen) -> bool:
    """Whether the rule declares any `[[pins]]` (expired or not: a rule's exports keep one shape)."""
    return bool(getattr(screen, "pins", ()))


def shows_reason(screen) -> bool:
    """Whether watchlist rows carry the engine's `reason` for being in (pins or a buffer)."""
    return getattr(screen, "keep", None) is not None or has_pins(screen)


def previous_note(result: ScreenResult) -> str | None:
    """"previous watchlist: run 7 as of 2026-11-20" or "no previous watchlist: plain top" for a
    rule with `keep`; None without one (`screener.outputs.export.previous_note`)."""
    from screener.outputs.export import previous_note as note

    return note(result)


#: the marker people see on a pinned row (terminal, HTML, Markdown)
PIN_MARK = "📌"


def reason_shown(reason: str | None, pinned: bool | None) -> str:
    """Why a row is in, as people read it: the engine's reason, a pinned row marked with
    `PIN_MARK` ("📌 pinned: core position"); "" for a row in by plain rank."""
    if not reason:
        return PIN_MARK if pinned else ""
    return f"{PIN_MARK} {reason}" if pinned else reason


def below_top_key(screen) -> str:
    """The `exclusion_counts` key of passers cut by `top`: "below top", or "below top per
    industry" when `top` counts within the groups of `per`."""
    per = getattr(screen, "per", None)
    return f"below top per {per}" if per else "below top"


def watchlist_table(result: ScreenResult) -> pl.DataFrame:
    """The included rows in output order: rank (null for a pinned row without a score),
    `group_rank` (with `per`), identity, score, normalised components, fields, how the row got
    in (`pinned`, `pin_reason`; `kept` with `keep`; `reason` with `keep` or pins), dates, the
    data notice and, for a buffered rule, `previous_watchlist` (which P it compared against).
    Counts (`rank`, `group_rank`, `INTEGER_FIELDS`) are Int64; other numbers stay Float64."""
    screen = result.screen
    inc = result.included
    comps = [pl.col(result.norm_col(i)).alias(f"score_{s.name}") for i, s in enumerate(screen.scores)]
    fields = [pl.col(f).cast(pl.String) if f == "esg_rating" else pl.col(f).cast(pl.Int64) if f in INTEGER_FIELDS
              else pl.col(f) for f in shown_fields(result) if f not in ("currency", "close")]
    ranks = [pl.col("rank")]
    if getattr(screen, "per", None):
        ranks.append(pl.col("group_rank"))
    status = [pl.col("pinned"), pl.col("pin_reason")]
    if getattr(screen, "keep", None) is not None:
        status.append(pl.col("_kept").alias("kept"))
    if shows_reason(screen):
        why = result.verdicts.filter(pl.col("included"))
        status.append(pl.col("symbol").replace_strict(why["symbol"], why["reason"], default=None,
                                                      return_dtype=pl.String).alias("reason"))
    cols = [*ranks, pl.col("symbol"), pl.col("name"), pl.col("name_en"), pl.col("themes"), pl.col("exposure"),
            pl.col("score"), *comps, *fields, pl.col("currency"), pl.col("close"), *status,
            pl.lit(result.as_of).alias("as_of"), pl.col("price_as_of"), pl.col("consensus_as_of")]
    if result.snapshot.notice:
        cols.append(pl.lit(result.snapshot.notice).alias("data_notice"))
    note = previous_note(result)
    if note:
        cols.append(pl.lit(note).alias("previous_watchlist"))
    return inc.select(cols)


class EncodedJSON:
    """JSON texts already encoded by polars, one per element (a string Series), which
    `dumps_payload` writes as they are, one per line, joined by polars too: at 200,000 excluded
    members, making 200,000 Python strings and joining them cost 0.4 s of a 1 s export."""

    def __init__(self, texts):
        self.texts = texts

    def __len__(self) -> int:
        return self.texts.len()

    def __iter__(self):
        return iter(self.texts.to_list())

    def lines(self, pad: str) -> bytes:
        """The texts, each after `pad`, joined by ",\n", as UTF-8 bytes (made by polars and never
        decoded into a Python str: at market scale that is tens of MB each way)."""
        import polars as pl

        return self.texts.to_frame("j").select((pl.lit(pad) + pl.col("j")).str.join(",\n").cast(pl.Binary)
                                                .alias("j"))["j"][0]


def result_payload(result: ScreenResult, generated_at: datetime | None = None, for_writing: bool = False,
                   with_excluded: bool = True) -> dict:
    """DESIGN.md's `run --json` shape: {"rule", "as_of", "rows": [...], "excluded": [...]} plus context.

    `for_writing=True` (the JSON writers) gives `excluded` as `EncodedJSON` made by polars: a
    whole-market screen has a million excluded members, and making a Python dict of each costs
    more than the screen. `dumps_payload` writes either form. `with_excluded=False` gives
    `"excluded": null` (the JSON export above `[export] json_excluded_max`)."""
    screen = result.screen
    rows = []
    fields = shown_fields(result)
    per = getattr(screen, "per", None)
    keep = getattr(screen, "keep", None)
    reasons = {}
    if shows_reason(screen):
        why = result.verdicts.filter(pl.col("included"))
        reasons = dict(zip(why["symbol"].to_list(), why["reason"].to_list()))
    for r in result.included.iter_rows(named=True):
        row = {"rank": r["rank"]}
        if per:
            row["group_rank"] = r["group_rank"]
        row.update({"symbol": r["symbol"], "name": r["name"], "name_en": r["name_en"],
                    "themes": list(r["themes"]), "exposure": r["exposure"], "score": plain(r["score"]),
                    "components": {s.name: plain(r[result.norm_col(i)]) for i, s in enumerate(screen.scores)},
                    "raw": {s.name: plain(r[result.raw_col(i)]) for i, s in enumerate(screen.scores)}})
        for f in fields:
            value = r[f]
            if value is not None and f == "esg_rating":
                value = str(value)
            elif value is not None and f in INTEGER_FIELDS:
                value = int(value)
            row[f] = plain(value)
        row.setdefault("close", plain(r["close"]))
        row.setdefault("currency", r["currency"])
        row["pinned"] = bool(r["pinned"])
        row["pin_reason"] = r["pin_reason"]
        if keep is not None:
            row["kept"] = bool(r["_kept"])
        if reasons:
            row["reason"] = reasons.get(r["symbol"])
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
        "excluded": (None if not with_excluded else excluded_json(result) if for_writing
                     else excluded_entries(result)),
        "warnings": list(result.warnings),
    }


def excluded_entries(result: ScreenResult) -> list[dict]:
    """Every member not in the watchlist, by symbol, with the filters it failed and why."""
    return (result.verdicts.filter(pl.col("included").not_())
            .select("symbol", "name", "failed", "missing", "reason").to_dicts())


def excluded_json(result: ScreenResult) -> EncodedJSON:
    """`excluded_entries` as JSON texts, one per member, encoded by polars."""
    from screener.outputs.safe import JSON_RAW_PATTERN, json_escapes

    entry = pl.struct("symbol", "name", "failed", "missing", "reason").struct.json_encode()
    texts = result.verdicts.filter(pl.col("included").not_()).select(entry.alias("j"))["j"]
    if texts.str.contains(JSON_RAW_PATTERN).any():  # DEL, C1, bidi controls: as \uXXXX (`safe.json_safe`)
        texts = texts.str.replace_many(*json_escapes())
    return EncodedJSON(texts)


def exclusion_counts(result: ScreenResult) -> dict[str, int]:
    """How many members each filter removed (a member failing two filters counts in both); an
    `exclude` pin counts as the filter "pin"; "below top" (or "below top per industry" with
    `per`, `below_top_key`) for passers cut by `top`. In the rule's order: "unlisted" first, then
    the filters, "pin", and the "below top" bucket last."""
    from screener.engine.verdicts import PIN_FILTER

    below = below_top_key(result.screen)
    out = result.verdicts.filter(pl.col("included").not_())
    reasons = (out.select(pl.when(pl.col("failed").list.len() > 0).then(pl.col("failed"))
                          .otherwise(pl.concat_list([pl.lit(below)])).alias("r"))
               .explode("r")["r"].value_counts())
    counts = dict(zip(reasons["r"].to_list(), reasons["count"].to_list()))
    order = ["unlisted", *(f.name for f in result.screen.filters), PIN_FILTER, below]
    return {k: counts[k] for k in order if k in counts}


def dumps_payload(payload, level: int = 0) -> str:
    """JSON text for a payload (or a list of them): indented like `json.dumps(indent=2)`, except
    that each element of `rows` and `excluded` is one compact line. Same data, easier to scan,
    and written by json's C encoder: indenting a million excluded members in pure Python takes
    tens of seconds. DEL, C1 and bidi controls are written as `\\uXXXX` (`safe.json_safe`; JSON
    escapes C0 itself), so the text has no raw byte a terminal would act on. The pieces are
    joined once at the end: a whole-market export is tens of MB, and every `+` would copy it."""
    return dumps_payload_bytes(payload, level).decode("utf-8")


def dumps_payload_bytes(payload, level: int = 0) -> bytes:
    """`dumps_payload` as UTF-8 bytes, for the JSON export: the excluded members' block, made by
    polars as bytes, is never decoded into a str and encoded back."""
    out: list = []
    _dump(payload, level, out)
    return b"".join(p if isinstance(p, bytes) else p.encode("utf-8") for p in out)


def _dump(payload, level: int, out: list) -> None:
    from screener.outputs.safe import json_safe

    pad, inner = "  " * level, "  " * (level + 1)
    if isinstance(payload, list):
        if not payload:
            out.append("[]")
            return
        out.append("[\n")
        for i, p in enumerate(payload):
            out.append(",\n" + inner if i else inner)
            _dump(p, level + 1, out)
        out.append("\n" + pad + "]")
        return
    out.append("{\n")
    for i, (key, value) in enumerate(payload.items()):
        out.append(f"{',' if i else ''}{chr(10) if i else ''}{inner}{json_safe(json.dumps(key, ensure_ascii=False))}: ")
        if isinstance(value, EncodedJSON):
            out.extend(("[\n", value.lines(inner + "  "), "\n" + inner + "]") if len(value) else ("[]",))
        elif key in ("rows", "excluded") and isinstance(value, list) and value:
            out.extend(("[\n", ",\n".join(inner + "  " + json_safe(json.dumps(v, ensure_ascii=False)) for v in value),
                        "\n" + inner + "]"))
        else:
            out.append(json_safe(json.dumps(value, ensure_ascii=False, indent=2)).replace("\n", "\n" + inner))
    out.append("\n" + pad + "}")


def data_dates_text(result: ScreenResult) -> str:
    """"prices 2026-11-20 · consensus 2026-11-20 · ESG 2026-04-21": the newest data the result
    used, for the provenance of every export; "—" when it used none."""
    d = data_dates(result.frame)
    parts = [f"{name} {d[key]}" for name, key in (("prices", "prices_as_of"), ("consensus", "consensus_as_of"),
                                                  ("ESG", "esg_as_of")) if d[key]]
    return " · ".join(parts) or "—"


#: money amounts shown in billions or millions
_AMOUNTS = ("market_cap", "revenue_fy1", "net_profit_fy1", "amount_avg_1m")


def format_number(value: float, column: str, currency: str | None = None) -> str:
    """A finite number the way an analyst reads `column`: score and components 3 decimals;
    growth, revision and return ratios as % with 1 decimal; P/E, PEG and P/S 1 decimal; EPS 3
    decimals; close with 2 decimals and its currency (none when the currency is unknown); market
    cap, revenue, net profit and amount traded in billions or millions; exposure score 2
    decimals; ranks and counts as integers."""
    if column == "score" or column.startswith("score_"):
        return f"{value:.3f}"
    if column.startswith(("eps_growth_", "revision_", "return_", "revenue_growth_", "net_profit_growth_")):
        return f"{value * 100:.1f}%"
    if column.startswith(("pe_", "peg_", "ps_")) or column == "esg_score":
        return f"{value:.1f}"
    if column.startswith("eps_fy"):
        return f"{value:.3f}"
    if column == "close":
        return f"{value:,.2f} {currency}" if currency else f"{value:,.2f}"
    if column in _AMOUNTS:
        return f"{value / 1e9:,.1f} bn" if abs(value) >= 1e9 else f"{value / 1e6:,.1f} m"
    if column == "exposure_score":
        return f"{value:.2f}"
    if column in ("rank", "group_rank", "analysts") or isinstance(value, int):
        return f"{value:.0f}"
    return f"{value:,.2f}"


def exclusion_label(name: str, screen, lang: str = "en") -> str:
    """An `exclusion_counts` key as shown: a filter's name as written; "unlisted", "pin" and the
    "below top" bucket in `lang` ("未上市", "人工排除", "未进前 3")."""
    from screener.outputs.labels import below_top, phrase

    if lang != "zh":
        return name
    if name == below_top_key(screen):
        return below_top(screen.top, getattr(screen, "per", None), lang)
    return phrase(name, lang) if name in ("unlisted", "pin") else name

