"""Markdown: a watchlist to paste into a note, a wiki page or a pull request.

Layout: a title (rule name, as_of), the sample-data notice as a blockquote, a GitHub-flavoured
table (rank, group rank with `per`, symbol, name, themes, score, the normalised components, the
rule's fields and key fields, and with pins or a buffer a `reason` column: "📌 pinned: ...",
"kept by the buffer (...)"), a line saying how many members each filter excluded, for a
buffered rule the previous watchlist it compared against, a "Changes since the previous run"
section when there are changes, and a footer naming the rule file, the data and the generation
time. A pinned row without a score shows "—" for its rank and score.

Everything that comes from data or from the rule (names, rule name, component and filter names,
reasons, the notice) goes through `escape`, so it can neither end its table cell nor inject HTML
or Markdown markup: `<script>` comes out as `\\<script>`, `a|b` as `a\\|b`. Only Markdown's own
backslash escapes are used, never HTML entities: this Markdown is also pasted into chat apps,
which show `&gt;` as it is, so "score 0.5 -> 0.6" stays "->".

With `lang = "zh"` the shown values of closed sets (market, listed ...), the reasons and the
changes are in Chinese (`labels.translate_value`, `labels.translate_reason`), money columns are
in 亿 or 万 with the unit in the header (`labels.amount_unit`), and a rank change carries ▲ (up)
or ▼ (down): Markdown has no colour.
"""

from __future__ import annotations

import math
import re
from datetime import date, datetime

from screener.outputs.labels import (
    AMOUNT_COLUMNS,
    amount_unit,
    in_unit,
    label,
    phrase,
    translate_note,
    translate_reason,
    translate_value,
    unit_header,
)
from screener.outputs.report import (
    data_dates_text,
    exclusion_counts,
    exclusion_label,
    format_number,
    previous_note,
    reason_shown,
    watchlist_table,
)

from screener.outputs.safe import printable

NULL = "—"
_MD_SPECIAL = re.compile(r"([\\`*_\[\]|~<])")
_ENTITY = re.compile(r"&(?=#?\w+;)")  # an `&` that would start an entity such as `&amp;`
_NEWLINES = re.compile(r"\r\n|\r|\n|\t")
_ORDERED = re.compile(r"^(\d+)([.)])")

# Columns of the watchlist table left out of the Markdown table (they are in the other exports;
# a pin and the buffer show in `reason`, P below the table).
_OMITTED = ("name_en", "exposure", "currency", "close", "as_of", "data_notice", "pinned", "pin_reason", "kept",
            "previous_watchlist")



text = phrase  # fixed phrases of the export in its language (screener.outputs.labels)


def escape(value: str) -> str:
    """Text made safe for a Markdown table cell and against inline HTML, with Markdown's own
    backslash escapes only (no HTML entities): backslash, backtick, `* _ [ ] | ~ <` and an `&`
    that would start an entity are backslash-escaped, so no tag, link or entity can form; `>`
    and other text stay as written ("a -> b"); line breaks and tabs become spaces. Empty text
    stays empty. Control characters are shown escaped first (`safe.printable`: ESC as `\\x1b`,
    whose backslash is then escaped like any other)."""
    value = printable(_NEWLINES.sub(" ", value))
    value = _MD_SPECIAL.sub(r"\\\1", value)
    return _ENTITY.sub(r"\\&", value)


def format_value(value, column: str, lang: str = "en", unit: tuple[float, str] | None = None) -> str:
    """A cell's text: null, NaN and inf -> "—"; score and components 3 decimals; growth and
    revision ratios as percentages; P/E and PEG 1 decimal; EPS 3 decimals; a money column in
    `unit` (亿/万, two decimals) when given; closed-set values and yes/no in `lang`; lists
    joined with "; "; text escaped."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return NULL
    value = translate_value(column, value, lang)
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (int, float)):
        return in_unit(value, unit) if unit else format_number(value, column)
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    if isinstance(value, (list, tuple)):
        return escape("; ".join(NULL if v is None else str(v) for v in value))
    return escape(str(value))




def paragraph(value: str) -> str:
    """`escape`d text that also cannot open a heading, list or quote when it starts a line."""
    out = escape(value)
    if out[:1] in ("#", "-", "+", "=", ">"):
        return "\\" + out
    return _ORDERED.sub(r"\1\\\2", out)


def table(headers: list[str], rows: list[list[str]], numeric: list[bool] | None = None) -> list[str]:
    """A GitHub-flavoured table from already escaped cells; `numeric` columns are right-aligned.
    No rows gives the header and the separator line only, which is still a valid (empty) table."""
    numeric = numeric or [False] * len(headers)
    out = ["| " + " | ".join(headers) + " |", "|" + "|".join("---:" if n else "---" for n in numeric) + "|"]
    out += ["| " + " | ".join(r) + " |" for r in rows]
    return out


def watchlist_lines(ctx) -> list[str]:
    """The ranked table; for an empty watchlist, the header and a line saying nothing passed."""
    frame = watchlist_table(ctx.result)
    lang = ctx.lang
    columns = [c for c in frame.columns if c not in _OMITTED]
    units = {c: amount_unit(frame[c].to_list(), lang) for c in columns if c in AMOUNT_COLUMNS}
    headers = [escape(unit_header(label(c, lang), units.get(c))) for c in columns]
    rows = [[escape(reason_shown(translate_reason(r[c], lang), r["pinned"])) if c == "reason"
             else format_value(r[c], c, lang, units.get(c)) for c in columns]
            for r in frame.iter_rows(named=True)]
    lines = table(headers, rows, [frame.schema[c].is_numeric() for c in columns])
    if not rows:
        lines += ["", text("No security passed every filter.", ctx.lang)]
    return lines


def excluded_line(ctx) -> str:
    """"Excluded: rated 10, growing 7 (22 members, 9 passed, 9 shown)"; "none" when nothing was."""
    result = ctx.result
    counts = exclusion_counts(result)
    lang = ctx.lang
    sep = "，" if lang == "zh" else ", "
    between = "：" if lang == "zh" else " "  # "未进前 3：5", not "未进前 3 5"
    parts = sep.join(f"{escape(exclusion_label(name, result.screen, lang))}{between}{n}" for name, n in counts.items()) \
        or text("none", lang)
    passed = int(result.frame["_passed"].sum())
    return (f"**{text('Excluded', ctx.lang)}:** {parts} ({result.frame.height} {text('members', ctx.lang)}, "
            f"{passed} {text('passed', ctx.lang)}, {result.included.height} {text('shown', ctx.lang)})")


def _rank_move(before, after) -> str:
    """"3 → 1 ▲", "4 → 6 ▼", "— → 2" (entered), "4 → —" (left): Markdown has no colour, so a
    rank that changed carries ▲ (up) or ▼ (down)."""
    arrow = ""
    if isinstance(before, int) and isinstance(after, int) and before != after:
        arrow = " ▲" if after < before else " ▼"
    return f"{NULL if before is None else before} → {NULL if after is None else after}{arrow}"


def changes_lines(ctx) -> list[str]:
    """The "Changes since the previous run" section, or [] when ctx.changes is None or empty."""
    changes = ctx.changes
    if changes is None or changes.empty:
        return []
    lang = ctx.lang
    def why(e) -> str:
        return escape(translate_reason(e.get("reason"), lang) or "")

    rows = [[text("entered", lang), escape(e["symbol"]), escape(e.get("name") or ""), _rank_move(None, e.get("rank")),
             why(e)] for e in changes.entered]
    rows += [[text("left", lang), escape(e["symbol"]), escape(e.get("name") or ""),
              _rank_move(e.get("from_rank"), e.get("rank")), why(e)] for e in changes.left]
    rows += [[text("moved", lang), escape(e["symbol"]), escape(e.get("name") or ""),
              _rank_move(e.get("from_rank"), e.get("to_rank")), why(e)] for e in changes.moved]
    headers = [text("change", lang), escape(label("symbol", lang)), escape(label("name", lang)),
               text("rank", lang), text("reason", lang)]
    lines = ["", f"## {text('Changes since the previous run', lang)}", ""]
    if changes.before is not None:
        lines += [f"{text('previous run', lang)}: #{changes.before.run_id}, {text('as of', lang)} "
                  f"{escape(str(changes.before.as_of))}", ""]
    return lines + table(headers, rows)


def footer_lines(ctx) -> list[str]:
    """Where the list comes from: rule file, data folder and fingerprint, generation time."""
    result = ctx.result
    lang = ctx.lang
    generated = ctx.generated_local.isoformat()
    return ["", "---", "",
            f"{text('Rule', lang)}: {escape(result.screen.path)} · {text('data', lang)}: "
            f"{escape(result.snapshot.folder.name)} ({text('fingerprint', lang)} {escape(result.snapshot.fingerprint)}) · "
            f"{text('generated', lang)}: {generated} · {text('data as of', lang)}: {escape(data_dates_text(result))}"]


def render(ctx) -> bytes:
    """The document as UTF-8 bytes, ending with a newline."""
    result = ctx.result
    lines = [f"# {escape(result.screen.name)} — {text('as of', ctx.lang)} {result.as_of.isoformat()}", ""]
    if result.screen.description:
        lines += [paragraph(result.screen.description), ""]
    if result.snapshot.notice:
        lines += [f"> {paragraph(result.snapshot.notice)}", ""]
    lines += watchlist_lines(ctx)
    lines += ["", excluded_line(ctx)]
    note = previous_note(result)
    if note:
        lines += ["", escape(translate_note(note, ctx.lang))]
    lines += changes_lines(ctx)
    lines += footer_lines(ctx)
    return ("\n".join(lines) + "\n").encode("utf-8")
