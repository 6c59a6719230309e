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
or Markdown markup: `<script>` comes out as `&lt;script&gt;`, `a|b` as `a\\|b`.
"""

from __future__ import annotations

import math
import re
from datetime import date, datetime

from screener.outputs.labels import label, phrase
from screener.outputs.report import (
    data_dates_text,
    exclusion_counts,
    format_number,
    previous_note,
    reason_shown,
    watchlist_table,
)

NULL = "—"
_MD_SPECIAL = re.compile(r"([\\`*_\[\]|~])")
_NEWLINES = re.compile(r"\r\n|\r|\n|\t")
_ORDERED = re.compile(r"^(\d+)([.)])")

# Columns of the watchlist table left out of the Markdown table (they are in the other exports;
# a pin and the buffer show in `reason`, P below the table).
_OMITTED = ("name_en", "exposure", "currency", "close", "as_of", "data_notice", "pinned", "pin_reason", "kept",
            "previous_watchlist")



text = phrase  # fixed phrases of the export in its language (screener.outputs.labels)


def escape(value: str) -> str:
    """Text made safe for a Markdown table cell and for inline HTML: `& < >` become entities,
    Markdown punctuation (backslash, backtick, `* _ [ ] | ~`) is backslash-escaped, and line
    breaks and tabs become spaces. Empty text stays empty."""
    value = value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    value = _MD_SPECIAL.sub(r"\\\1", value)
    return _NEWLINES.sub(" ", value)


def format_value(value, column: str) -> str:
    """A cell's text: null, NaN and inf -> "—"; score and components 3 decimals; growth and
    revision ratios as percentages; P/E and PEG 1 decimal; EPS 3 decimals; market cap with
    thousands separators; lists joined with "; "; text escaped."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return NULL
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (int, float)):
        return format_number(value, column)
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    if isinstance(value, (list, tuple)):
        return escape("; ".join(NULL if v is None else str(v) for v in value))
    return escape(str(value))




def paragraph(value: str) -> str:
    """`escape`d text that also cannot open a heading, list or quote when it starts a line."""
    out = escape(value)
    if out[:1] in ("#", "-", "+", "="):
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
    columns = [c for c in frame.columns if c not in _OMITTED]
    headers = [escape(label(c, ctx.lang)) for c in columns]
    rows = [[escape(reason_shown(r[c], r["pinned"])) if c == "reason" else format_value(r[c], c) for c in columns]
            for r in frame.iter_rows(named=True)]
    lines = table(headers, rows, [frame.schema[c].is_numeric() for c in columns])
    if not rows:
        lines += ["", text("No security passed every filter.", ctx.lang)]
    return lines


def excluded_line(ctx) -> str:
    """"Excluded: rated 10, growing 7 (22 members, 9 passed, 9 shown)"; "none" when nothing was."""
    result = ctx.result
    counts = exclusion_counts(result)
    parts = ", ".join(f"{escape(name)} {n}" for name, n in counts.items()) or text("none", ctx.lang)
    passed = int(result.frame["_passed"].sum())
    return (f"**{text('Excluded', ctx.lang)}:** {parts} ({result.frame.height} {text('members', ctx.lang)}, "
            f"{passed} {text('passed', ctx.lang)}, {result.included.height} {text('shown', ctx.lang)})")


def _rank_move(before, after) -> str:
    """"3 → 1", "— → 2" (entered), "4 → —" (left)."""
    return f"{NULL if before is None else before} → {NULL if after is None else after}"


def changes_lines(ctx) -> list[str]:
    """The "Changes since the previous run" section, or [] when ctx.changes is None or empty."""
    changes = ctx.changes
    if changes is None or changes.empty:
        return []
    lang = ctx.lang
    rows = [[text("entered", lang), escape(e["symbol"]), escape(e.get("name") or ""), _rank_move(None, e.get("rank")),
             escape(e.get("reason") or "")] for e in changes.entered]
    rows += [[text("left", lang), escape(e["symbol"]), escape(e.get("name") or ""),
              _rank_move(e.get("from_rank"), e.get("rank")), escape(e.get("reason") or "")] for e in changes.left]
    rows += [[text("moved", lang), escape(e["symbol"]), escape(e.get("name") or ""),
              _rank_move(e.get("from_rank"), e.get("to_rank")), escape(e.get("reason") or "")] for e in changes.moved]
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
    generated = ctx.generated_at.replace(microsecond=0).isoformat()
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
        lines += ["", escape(note) if ctx.lang != "zh" else f"{text('previous watchlist', ctx.lang)}：{escape(note)}"]
    lines += changes_lines(ctx)
    lines += footer_lines(ctx)
    return ("\n".join(lines) + "\n").encode("utf-8")
