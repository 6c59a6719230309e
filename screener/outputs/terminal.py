"""Terminal output with rich: the ranked table, explanations, universes. Payload on stdout.

Tables fit the width they are given (`fit`): numbers, symbols and codes are never cut; when the
columns do not fit, headers fold first, then free text (names, notes, reasons) is cut with "…", then
whole columns are left out, least important first, and a footer line names them ("+4 columns (...):
--wide shows them"). The width is `COLUMNS` when set, else the terminal's; `--wide`, or a pipe that
gives no width, shows every column in full. A pipe or file gets plain text: no box drawing, no colour.

Nothing from input reaches the terminal raw: every table (`SafeTable`) and every line printed
(`SafeConsole`) shows control characters escaped (`safe.printable`: `ESC` as `\\x1b`, U+202E as
`\\u202e`; table cells on one line, newlines escaped too), and text is never read as rich markup,
so a name cannot retitle the window, clear the screen, open a hyperlink or reorder a line.
"""

from __future__ import annotations

import os
import re
from bisect import bisect_right
import shutil
import sys
from dataclasses import dataclass, field, replace

from rich import box
from rich.cells import cell_len
from rich.console import Console
from rich.table import Table
from rich.text import Span
from rich.text import Text as RichText

from screener.outputs.safe import has_control, printable


class Text(RichText):
    """rich's `Text` with control characters shown escaped first (`safe.printable`; newlines kept):
    rich itself drops BEL, BS, VT, FF and CR silently and passes ESC through."""

    def __init__(self, text: str = "", *args, **kwargs):
        super().__init__(printable(text), *args, **kwargs)


MAX_ROWS_SHOWN = 100  # a terminal is for reading; exports carry every row
_RATIO_FIELDS = {"eps_growth_fy1", "eps_growth_fy2", "revision_1m", "revision_3m", "return_1m", "return_3m",
                 "return_6m", "return_12m", "revenue_growth_fy1", "net_profit_growth_fy1"}
_AMOUNT_FIELDS = {"market_cap", "revenue_fy1", "net_profit_fy1", "amount_avg_1m"}
_PIPE_WIDTH = 240  # lines of free text (footers, notices) in a pipe that gave no width


def clean(x, one_line: bool = True):
    """A renderable with control characters shown escaped (`safe.printable`): text becomes a
    `Text` (never read as markup), a `Text` keeps its styles; anything else (a table) as it is."""
    if isinstance(x, RichText):
        return _clean_text(x, one_line)
    if isinstance(x, str):
        return RichText(printable(x, one_line))
    return x


def _clean_text(t: RichText, one_line: bool) -> RichText:
    """`t` with its control characters escaped, its styled spans moved to match."""
    plain = t.plain
    if not has_control(plain, one_line):
        return t
    starts, shifts, out, last, extra = [], [], [], 0, 0
    for i, ch in enumerate(plain):
        shown = printable(ch, one_line) if not (ch == "\r" and not one_line and plain[i + 1:i + 2] == "\n") else ch
        if shown != ch:
            out.append(plain[last:i] + shown)
            last = i + 1
            extra += len(shown) - 1
            starts.append(i + 1)
            shifts.append(extra)

    def moved(offset: int) -> int:
        k = bisect_right(starts, offset) - 1
        return offset + (shifts[k] if k >= 0 else 0)

    out.append(plain[last:])
    spans = [Span(moved(s.start), moved(s.end), s.style) for s in t.spans]
    return RichText("".join(out), style=t.style, justify=t.justify, overflow=t.overflow, no_wrap=t.no_wrap,
                    end=t.end, tab_size=t.tab_size, spans=spans)


class SafeConsole(Console):
    """A console that prints text as text: control characters escaped (`clean`, newlines kept),
    never rich markup or emoji codes."""

    def print(self, *objects, **kwargs):
        super().print(*(clean(o, one_line=False) for o in objects), **kwargs)


class SafeTable(Table):
    """A table whose title, headers and cells are `clean`: cells on one line, headers may fold."""

    def __init__(self, *headers, title=None, **kwargs):
        if isinstance(title, str):
            style = kwargs.get("title_style")
            title = Text(printable(title, one_line=True), style="table.title" if style is None else style)
        elif title is not None:
            title = clean(title)
        super().__init__(*(clean(h, one_line=False) for h in headers), title=title, **kwargs)

    def add_column(self, header="", *args, **kwargs):
        super().add_column(clean(header, one_line=False), *args, **kwargs)

    def add_row(self, *renderables, **kwargs):
        super().add_row(*(clean(r) for r in renderables), **kwargs)


def _tty() -> bool:
    return sys.stdout.isatty()


def _room(wide: bool = False) -> int | None:
    """The columns a table may take: `COLUMNS` when set, else the terminal's width; None (no limit)
    with --wide, or for a pipe or file that gave no width (it gets every column in full)."""
    if wide:
        return None
    cols = os.environ.get("COLUMNS", "").strip()
    if cols.isdigit() and int(cols) > 0:
        return int(cols)
    if _tty():
        return shutil.get_terminal_size().columns
    return None


def _console(width: int | None = None) -> Console:
    """One console policy: a terminal gets colour and its width; a pipe or file gets plain text
    (no colour codes, even under FORCE_COLOR) and `COLUMNS` or a wide page."""
    tty = _tty()
    width = width or _room() or _PIPE_WIDTH
    if tty:
        return SafeConsole(highlight=False, soft_wrap=False, width=width)
    return SafeConsole(highlight=False, soft_wrap=False, width=width, color_system=None, force_terminal=False)


def _table(**kw) -> Table:
    """A rich table: boxed in a terminal, plain aligned columns in a pipe."""
    if not _tty():
        kw.update(box=None, show_edge=False, pad_edge=False, title_style="")
    return SafeTable(**kw)


@dataclass
class Col:
    """One column of a table that fits: its cells as text, and how it may give way.

    `priority`: lower shows first; columns are left out from the highest priority (then the
    rightmost) down. `keep`: never left out. `free`: free text, cut with "…" down to `least` cells
    when room is short; any other cell (a number, a symbol, a code) is never cut."""

    header: str
    cells: list = field(default_factory=list)
    priority: int = 0
    justify: str = "left"
    free: bool = False
    least: int = 8
    keep: bool = False
    style: str | None = None
    name: str | None = None  # how the footer names it (default: the header)

    @property
    def label(self) -> str:
        return self.name or " ".join(self.header.split())


def _len(cell) -> int:
    return cell_len(cell.plain if isinstance(cell, RichText) else str(cell))


_WORD = re.compile(r"(\s*)([^\s_]*_|[^\s_]+)")


def _words(header: str) -> list[tuple[str, str]]:
    """A header in pieces that may start a new line: after a space (dropped) or an underscore (kept)."""
    return [(m.group(1), m.group(2)) for m in _WORD.finditer(header)]


def fold(header: str, width: int) -> str:
    """The header folded into lines of at most `width` cells, at spaces and after underscores; a
    piece longer than the width is split."""
    lines: list[str] = []
    line = ""
    for space, word in _words(header):
        while cell_len(word) > width:  # a piece too long for any line: split it
            if line:
                lines.append(line)
                line = ""
            cut = width
            while cell_len(word[:cut]) > width:
                cut -= 1
            lines.append(word[:cut])
            word = word[cut:]
        joined = line + (" " if space and line else "") + word
        if line and cell_len(joined) > width:
            lines.append(line)
            line = word
        else:
            line = joined
    if line:
        lines.append(line)
    return "\n".join(lines)


def _natural(c: Col) -> int:
    return max([cell_len(" ".join(c.header.split()))] + [_len(x) for x in c.cells])


def _least(c: Col) -> int:
    cells = max([_len(x) for x in c.cells], default=0)
    if c.free:
        cells = min(cells, c.least)
    return max([cells, 1] + [cell_len(w) for _, w in _words(c.header)])


def _chrome(n: int, boxed: bool) -> int:
    """Cells a table spends outside its columns: borders and padding (rich's HEAVY_HEAD box with
    padding 1, or plain columns two spaces apart)."""
    return 3 * n + 1 if boxed else max(0, 2 * (n - 1))


def fit(cols: list[Col], room: int | None, boxed: bool) -> tuple[list[tuple[Col, int]], list[Col]]:
    """Which columns to show and how wide, in table order, and which were left out.

    With no room limit every column has its natural width. Otherwise every column starts at its
    least width (its widest cell, or `least` for free text; its longest header piece); columns are
    left out, lowest priority first, until those fit; the room left goes back, highest priority
    first, to unfold headers and uncut free text."""
    if room is None:
        return [(c, _natural(c)) for c in cols], []
    order = sorted(range(len(cols)), key=lambda i: (cols[i].priority, i))
    shown = set(range(len(cols)))
    width = {i: _least(cols[i]) for i in shown}
    for i in reversed(order):
        if sum(width[j] for j in shown) + _chrome(len(shown), boxed) <= room:
            break
        if not cols[i].keep:
            shown.discard(i)
    spare = room - sum(width[j] for j in shown) - _chrome(len(shown), boxed)
    for i in order:
        if i in shown and spare > 0:
            grow = min(_natural(cols[i]) - width[i], spare)
            width[i] += grow
            spare -= grow
    return [(cols[i], width[i]) for i in range(len(cols)) if i in shown], [cols[i] for i in order if i not in shown]


def hidden_note(hidden: list[Col], shows: str = "--wide") -> str | None:
    """"+4 columns (pe_fy1, close, ...): --wide shows them", or None when nothing was left out;
    `shows` is the option of the command that shows them."""
    if not hidden:
        return None
    n = len(hidden)
    return (f"+{n} column{'s' if n > 1 else ''} ({', '.join(c.label for c in hidden)}): "
            f"{shows} shows {'them' if n > 1 else 'it'}")


def print_fitted(con: Console, cols: list[Col], *, wide: bool = False, boxed: bool | None = None,
                 title: str | None = None, shows: str = "--wide") -> list[Col]:
    """Print the columns as one table that fits the room (see `fit`); returns the columns left out,
    after printing the footer that names them."""
    boxed = _tty() if boxed is None else boxed
    # escaped before measuring, so widths are those of what is shown
    cols = [replace(c, header=printable(c.header, one_line=True), cells=[clean(x) for x in c.cells]) for c in cols]
    room = _room(wide)
    if room is not None:
        room = min(room, con.width)
    shown, hidden = fit(cols, room, boxed)
    if title:
        con.print(Text(title, style="bold"))
    table = SafeTable(box=box.HEAVY_HEAD if boxed else None, show_edge=boxed, pad_edge=boxed,
                      header_style="bold")
    for c, w in shown:
        table.add_column(fold(c.header, w), width=w, justify=c.justify, no_wrap=True, overflow="ellipsis",
                         style=c.style)
    for r in range(max((len(c.cells) for c in cols), default=0)):
        table.add_row(*[x if isinstance(x := c.cells[r], RichText) else Text(str(x)) for c, _ in shown])
    need = sum(w for _, w in shown) + _chrome(len(shown), boxed)
    out = con
    if need > con.width:  # --wide, or a pipe: a page as wide as the table
        out = SafeConsole(highlight=False, soft_wrap=False, width=need, color_system=con.color_system and "auto",
                          force_terminal=None if _tty() else False)
    out.print(table)
    note = hidden_note(hidden, shows)
    if note:
        con.print(Text(note))
    return hidden


def fmt(field: str, v) -> str:
    """A field value as an analyst reads it: ratios in %, money with separators, '—' for null."""
    if v is None:
        return "—"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, float):
        if field in _RATIO_FIELDS:
            return f"{v * 100:+.1f}%"
        if field in _AMOUNT_FIELDS:
            return _compact(v)
        if field.startswith(("pe_", "peg_", "ps_")):
            return f"{v:.1f}"
        if field.startswith("eps_"):
            return f"{v:.3f}"
        if field in ("analysts",):
            return f"{v:.0f}"
        return f"{v:.2f}" if abs(v) < 1e6 else _compact(v)
    if isinstance(v, list):
        return ", ".join(str(x) for x in v)
    return str(v)


def _rank(v) -> str:
    """A rank as text; "—" for a pinned row without one (never "0" or "None")."""
    return "—" if v is None else str(v)


def _num(v) -> str:
    return "—" if v is None else f"{v:.4g}"


def _compact(v: float) -> str:
    for div, unit in ((1e12, "T"), (1e9, "B"), (1e6, "M")):
        if abs(v) >= div:
            return f"{v / div:.2f}{unit}"
    return f"{v:,.0f}"


_NORM_LABEL = {"rank": "pct", "zscore": "z", "minmax": "0-1"}


def _cell(f: str, r: dict) -> str:
    v = r[f]
    if f == "esg_rating" and v is not None:
        return str(v)
    if f == "close" and v is not None:
        return f"{v:,.2f} {r['currency'] or ''}".strip()
    if f == "market_cap" and v is not None:
        return f"{_compact(v)} {r['currency'] or ''}".strip()
    return fmt(f, v)


def terminal_fields(result) -> list[str]:
    """Fields the filters read, then the rule's `[output] columns`, its `per` field, then the key
    fields, each once; score inputs show as components."""
    from screener.engine.screen import KEY_FIELDS

    screen = result.screen
    per = getattr(screen, "per", None)
    out = []
    for f in ([x for flt in screen.filters for x in flt.fields] + list(getattr(screen, "columns", ()))
              + ([per] if per else []) + list(KEY_FIELDS)):
        if f not in out and f not in ("symbol", "name", "themes"):
            out.append(f)
    return out


def _title(result, lang: str = "en") -> str:
    """"ESG compute leaders · as of 2026-11-26 · 10 of 22 members (top 10 of 19 passing, 1 pinned)";
    in Chinese with `lang = "zh"`."""
    screen = result.screen
    inc = result.included
    passed = result.passers
    pinned = int(inc["pinned"].sum())
    per = getattr(screen, "per", None)
    cut = screen.top is not None and passed > inc.height - pinned
    if lang == "zh":
        title = f"{screen.name} · 截至 {result.as_of} · {result.frame.height} 只成员中入选 {inc.height} 只"
        notes = ([f"{passed} 只通过筛选，{f'每个{per}' if per else ''}取前 {screen.top}"] if cut else []) + \
            ([f"人工纳入 {pinned} 只"] if pinned else [])
        return title + (f"（{'，'.join(notes)}）" if notes else "")
    title = f"{screen.name} · as of {result.as_of} · {inc.height} of {result.frame.height} members"
    notes = []
    if cut:
        notes.append(f"top {screen.top}{f' per {per}' if per else ''} of {passed} passing")
    if pinned:
        notes.append(f"{pinned} pinned")
    return title + (f" ({', '.join(notes)})" if notes else "")


def _field_groups(result) -> tuple[list[str], list[str]]:
    """`terminal_fields` split in two: the rule's own (what the filters read, `[output] columns`,
    `per`) and the rest (the key fields), which give way first when room is short."""
    from screener.engine.screen import KEY_FIELDS

    fields = terminal_fields(result)
    rest = [f for f in fields if f in KEY_FIELDS and not _rule_reads(result.screen, f)]
    return [f for f in fields if f not in rest], rest


def _rule_reads(screen, f: str) -> bool:
    per = getattr(screen, "per", None)
    return (any(f in flt.fields for flt in screen.filters) or f in getattr(screen, "columns", ()) or f == per)


def print_result(result, published=None, wide: bool = False, lang: str = "en") -> None:
    """The ranked watchlist as a table that fits the terminal (`fit`); `wide` shows every column.
    Priority when room is short: rank, symbol, name, score, the components, the rule's fields,
    then the rest (themes, reasons, key fields). `lang = "zh"`: Chinese headers, values of closed
    sets, reasons, and money columns in 亿/万 (the unit in the header)."""
    from screener.outputs.labels import AMOUNT_COLUMNS, amount_unit, in_unit, label, translate_note, \
        translate_reason, translate_value, unit_header

    from screener.outputs.report import exclusion_counts

    import polars as pl

    from screener.outputs.report import previous_note, reason_shown, shows_reason

    con = _console()
    screen = result.screen
    inc = result.included
    passed = result.passers
    per = getattr(screen, "per", None)
    reasons = {}
    if shows_reason(screen):
        why = result.verdicts.filter(pl.col("included"))
        reasons = dict(zip(why["symbol"].to_list(), why["reason"].to_list()))
    rows = list(inc.head(MAX_ROWS_SHOWN).iter_rows(named=True))
    own, rest = _field_groups(result)
    zh = lang == "zh"
    cols = [Col("#", [_rank(r["rank"]) for r in rows], 0, "right", keep=True)]
    if per:
        cols.append(Col(f"{label('group_rank', lang)}" if zh else f"# in {per}",
                        [_rank(r["group_rank"]) for r in rows], 1, "right"))
    cols.append(Col(label("symbol", lang), [r["symbol"] for r in rows], 0, keep=True))
    cols.append(Col(label("name", lang), [r["name"] or "" for r in rows], 3, free=True))
    if len(screen.universes) > 1:
        cols.append(Col(label("themes", lang), [", ".join(r["themes"]) for r in rows], 7, free=True))
    cols.append(Col(label("score", lang), ["—" if r["score"] is None else f"{r['score']:.3f}" for r in rows], 4,
                    "right"))
    for i, s in enumerate(screen.scores):  # components: name over how it was normalised
        col = result.norm_col(i)
        cols.append(Col(f"{s.name} ({_NORM_LABEL[s.normalize]})",
                        ["—" if r[col] is None else f"{r[col]:.2f}" for r in rows], 5, "right",
                        style="cyan"))
    for f in own + rest:
        unit = amount_unit([r[f] for r in rows], lang) if f in AMOUNT_COLUMNS else None
        if unit:
            cells = ["—" if r[f] is None else in_unit(r[f], unit) for r in rows]
        elif zh:
            cells = [_cell(f, {**r, f: translate_value(f, r[f], lang)}) for r in rows]
        else:
            cells = [_cell(f, r) for r in rows]
        cols.append(Col(unit_header(label(f, lang), unit), cells, 6 if f in own else 8, "right"))
    print_fitted(con, cols, wide=wide, title=_title(result, lang))
    # why a row is in when not plainly by rank (kept by the buffer, pinned): one line each, whole,
    # under the table, so no terminal width cuts it
    for r in rows:
        why = reasons.get(r["symbol"])
        if why:
            con.print(Text(f"  {r['symbol']} {r['name'] or ''}: {reason_shown(translate_reason(why, lang), r['pinned'])}"))
    if inc.height > MAX_ROWS_SHOWN:
        more = inc.height - MAX_ROWS_SHOWN
        con.print(Text(f"… 另有 {more} 只：导出文件包含全部行（设置 [output] top 可缩短名单）" if zh else
                       f"… and {more} more: the exports hold every row "
                       "(set [output] top to shorten the list)"))  # Text: "[output]" is not markup
    if inc.height == 0:
        con.print("没有证券通过全部筛选条件。`screener explain RULE SYMBOL` 可查看原因。" if zh else
                  "No security passed every filter. `screener explain RULE SYMBOL` shows why one is out.")
    counts = exclusion_counts(result)
    if counts and zh:
        from screener.outputs.report import exclusion_label

        con.print(Text("未入选：" + "，".join(f"{exclusion_label(k, screen, lang)}：{v}" for k, v in counts.items())
                       + "（screener explain RULE SYMBOL 查看原因）"))
    elif counts:
        con.print("Excluded: " + ", ".join(f"{k} {v}" for k, v in counts.items()) + "  (screener explain RULE SYMBOL for one)")
    if screen.scores and zh:
        weights = "，".join(f"{s.name} {w:.0%}" + (f"（组内：{s.within}）" if getattr(s, "within", None) else "")
                           for s, w in zip(screen.scores, screen.weights))
        con.print(Text(f"得分 = 各构成在 {passed} 只通过者中标准化后加权：{weights}"))
    elif screen.scores:
        weights = ", ".join(f"{s.name} {w:.0%}" + (f" (within {s.within})" if getattr(s, "within", None) else "")
                            for s, w in zip(screen.scores, screen.weights))
        con.print(f"Score = weighted components normalised over the {passed} passers: {weights}")
    note = translate_note(previous_note(result), lang)
    if note:
        con.print(f"{note} (keep {screen.keep})")
    if result.snapshot.notice:
        con.print(Text(f"⚠ {result.snapshot.notice}", style="bold yellow"))
    if published is None:
        return
    if published.changes is not None and not published.changes.empty:
        c = published.changes
        if zh:
            con.print(Text(f"较第 {c.before.run_id} 次运行（{c.before.as_of}）：新进 {len(c.entered)}，移出 "
                           f"{len(c.left)}，名次变动 {len(c.moved)}（screener history {result.screen.stem} --diff）"))
        else:
            con.print(f"Since run {c.before.run_id} ({c.before.as_of}): {len(c.entered)} entered, {len(c.left)} left, "
                      f"{len(c.moved)} moved  (screener history {result.screen.stem} --diff)")
    if published.run_id is not None:
        if zh:
            same = f"；输入与第 {published.identical_to} 次运行相同" if published.identical_to else ""
            con.print(Text(f"已记录为第 {published.run_id} 次运行{same}"))
        else:
            same = f"; identical inputs to run {published.identical_to}" if published.identical_to else ""
            con.print(f"recorded as run {published.run_id}{same}")
    for p in published.files:
        con.print(Text(f"已写入 {p}") if zh else f"wrote {p}")
    if getattr(published, "pruned", None) is not None:
        con.print(published.pruned.message())
    detail = getattr(published, "pruned_detail", None)
    if detail is not None and (detail.runs or detail.orphans or detail.errors):
        con.print(detail.message())


def _explained_previous(ex) -> str | None:
    """The previous-watchlist line of a buffered rule's explanation, in the words of every other
    output (`screener.outputs.export.previous_note`); None without `keep`."""
    from datetime import date
    from types import SimpleNamespace

    from screener.engine.screen import Previous
    from screener.outputs.report import previous_note

    keep = getattr(ex, "keep", None)
    if keep is None:
        return None
    p = ex.previous
    previous = None if p is None else Previous(date.fromisoformat(p["as_of"]), frozenset(), p["run_id"])
    return previous_note(SimpleNamespace(screen=SimpleNamespace(keep=keep), previous=previous))


def _component_options(c: dict) -> str:
    """"  [within industry · missing mean · winsorize 0.05]" for the options a component sets;
    `missing` shows when it is not the default "worst", or when this security's value is missing."""
    opts = []
    if c.get("within"):
        opts.append(f"within {c['within']}")
    missing = c.get("missing") or "worst"
    if missing != "worst" or (c.get("raw") is None and c.get("contribution") is not None):
        opts.append(f"missing {missing}")
    if c.get("winsorize") is not None:
        opts.append(f"winsorize {c['winsorize']:g}")
    return f"  [{' · '.join(opts)}]" if opts else ""


def print_explanation(ex) -> None:
    from screener.outputs.report import PIN_MARK

    con = _console()
    status = "IN" if ex.included else "OUT"
    if ex.pinned:
        status += f" ({PIN_MARK} pinned)"
    con.print(Text(f"{ex.symbol} {ex.name} · {ex.rule_name} · as of {ex.as_of}: {status}",
                   style="bold green" if ex.included else "bold red"))
    con.print(Text(f"  {ex.reason}"))
    con.print(Text(f"  themes: {', '.join(ex.themes)}"))
    per = getattr(ex, "per", None)
    if per:
        con.print(Text(f"  {per}: {getattr(ex, 'group', None) or '(none)'}"))
    previous = _explained_previous(ex)
    if previous:
        con.print(f"  {previous} (keep {ex.keep})")
    if ex.filters:
        t = _table(title="filters (all must pass; a missing value fails)", title_justify="left")
        for c in ("filter", "expression", "values", "verdict"):
            t.add_column(c)
        for f in ex.filters:
            values = ", ".join(f"{k} = {fmt(k, v)}" for k, v in f["values"].items())
            style = {"pass": "green", "fail": "red", "missing": "yellow"}[f["verdict"]]
            verdict = f["verdict"] + (f" ({', '.join(f['missing'])} missing)" if f["missing"] else "")
            t.add_row(Text(f["name"]), Text(f["expr"]), Text(values), Text(verdict, style=style))
        con.print(t)
    if ex.components:
        t = _table(title="score components (normalised over the securities that passed)", title_justify="left")
        for c in ("component", "expression", "raw", "normalised", "weight", "contribution"):
            t.add_column(c, justify="right" if c not in ("component", "expression") else "left")
        for c in ex.components:
            expr = c["expr"] + ("" if c["higher_is_better"] else "  (lower is better)") + \
                ("" if c["normalize"] == "rank" else f"  [{c['normalize']}]") + _component_options(c)
            t.add_row(Text(c["name"]), Text(expr), _num(c["raw"]), _num(c["normalized"]), f"{c['weight']:.1%}",
                      _num(c["contribution"]))
        con.print(t)
        if ex.score is not None:
            where = ""
            if per and ex.group_rank is not None:
                where = f"; {ex.group_rank} in {per} {getattr(ex, 'group', None) or '(none)'}"
            con.print(f"  score {ex.score:.4f}, rank {ex.rank} of {ex.passers} passing{where}")
        elif ex.pinned:
            con.print("  no score (it fails a filter): the pin lists it after the scored rows, without a rank")
    for n in ex.notes:
        con.print(f"  note: {n}")
    if ex.notice:
        con.print(Text(f"⚠ {ex.notice}", style="bold yellow"))


def print_universe_summary(rows: list[dict], wide: bool = False) -> None:
    cols = [Col("universe", [r["universe"] for r in rows], 0, keep=True),
            Col("members", [str(r["members"]) for r in rows], 1, "right"),
            Col("listed", [str(r["listed"]) for r in rows], 2, "right"),
            Col("unlisted", [str(r["unlisted"]) for r in rows], 3, "right"),
            Col("file", [r["file"] for r in rows], 4, free=True, least=12)]
    print_fitted(_console(), cols, wide=wide, title="universes")


def print_universe(name: str, table, wide: bool = False) -> None:
    """One universe's members; notes (and names when room is short) end with "…" when cut,
    symbols and codes never are; `wide` shows every note in full."""
    rows = list(table.iter_rows(named=True))
    cols = [Col("symbol", [r["symbol"] for r in rows], 0, keep=True),
            Col("name", [r["name"] or "" for r in rows], 1, free=True),
            Col("name_en", [r["name_en"] or "" for r in rows], 6, free=True),
            Col("exposure", [r["exposure"] or "" for r in rows], 2),
            Col("listed", ["yes" if r["listed"] else "no" for r in rows], 4),
            Col("esg_rating", [r["esg_rating"] or "—" for r in rows], 5),
            Col("note", [" ".join((r["note"] or "").split()) for r in rows], 3, free=True, least=10)]
    print_fitted(_console(), cols, wide=wide, title=f"{name} · {table.height} members")


def print_runs(rule: str, runs) -> None:
    con = _console()
    if not runs:
        con.print(f"no recorded runs of {rule} yet: `screener run {rule}` records one")
        return
    notes = [f"identical inputs to run {r.identical_to}" if r.identical_to else "" for r in runs]
    cols = [Col("run", [str(r.run_id) for r in runs], 0, "right", keep=True),
            Col("as_of", [r.as_of for r in runs], 1, keep=True),
            Col("generated_at", [r.generated_at for r in runs], 4),
            Col("rule sha256", [r.rule_sha256[:10] for r in runs], 5),
            Col("data", [r.data_fingerprint[:10] for r in runs], 6),
            Col("passed", [str(r.passed) for r in runs], 2, "right"),
            Col("included", [str(r.included) for r in runs], 3, "right"),
            Col("note", notes, 7, free=True, least=12)]
    print_fitted(con, cols, title=f"runs of {runs[-1].rule_name} ({rule})", shows="--json")  # history has no --wide


def rise_fall_styles(lang: str = "en") -> tuple[str, str]:
    """The colours of rising and falling: green and red, or in zh red and green (the convention of
    Chinese markets)."""
    return ("red", "green") if lang == "zh" else ("green", "red")


def print_changes(rule: str, changes, lang: str = "en", console: Console | None = None) -> None:
    """What entered, left and moved between two runs; rank changes are coloured rising/falling
    (`rise_fall_styles`: in zh rising is red and falling green)."""
    con = console or _console()
    up, down = rise_fall_styles(lang)
    if changes.after is None:
        con.print(f"no recorded runs of {rule} yet")
        return
    if changes.before is None:
        con.print(f"run {changes.after.run_id} is the first recorded run of {rule}: nothing to compare with")
        return
    con.print(f"run {changes.before.run_id} ({changes.before.as_of}) -> run {changes.after.run_id} ({changes.after.as_of})")
    if changes.empty:
        con.print("no change: the same securities in the same order")
    from screener.outputs.labels import label, phrase, translate_reason

    zh = lang == "zh"
    titles = {k: phrase(k, lang) for k in ("entered", "left", "moved")} if zh else {}
    for title, rows, style in (("entered", changes.entered, up), ("left", changes.left, down)):
        if rows:
            t = _table(title=titles.get(title, title), title_justify="left", title_style=style)
            for c in ("symbol", "name", "rank", "reason"):
                t.add_column(label(c, lang) if zh and c != "reason" else ("原因" if zh else c))
            for r in rows:
                rank = r.get("rank") if title == "entered" else r.get("from_rank")
                # a pinned entrant that fails a filter has no rank: "—"; reasons are the engine's
                # words and may quote a pin's reason, so they are plain text, never rich markup
                t.add_row(r["symbol"], Text(r["name"] or ""), _rank(rank), Text(translate_reason(r["reason"], lang) or ""))
            con.print(t)
    if changes.moved:
        t = _table(title=titles.get("moved", "moved"), title_justify="left")
        for c in (("symbol", "name", "from", "to", "score") if not zh else ("代码", "名称", "原排名", "现排名", "得分")):
            t.add_column(c)
        for r in changes.moved:
            arrow = "▲" if r["change"] > 0 else "▼"
            moved = Text(f"{r['to_rank']} ") + Text(f"{arrow}{abs(r['change'])}", style=up if r["change"] > 0 else down)
            t.add_row(r["symbol"], Text(r["name"] or ""), str(r["from_rank"]), moved,
                      f"{_num(r['from_score'])} -> {_num(r['to_score'])}")
        con.print(t)


def print_schedule(listing: list[dict], start) -> None:
    con = _console()
    if not listing:
        con.print("no [[jobs]] in the config")
        return
    for j in listing:
        where = f"{j['cron']} · {j['calendar'] or 'every day'} · {j['timezone']}"
        con.print(Text(f"{j['job']}  ({where})" + ("" if j["enabled"] else "  [disabled]"), style="bold"))
        if not j["next_runs"]:
            con.print("  no run ahead" if j["enabled"] else "  disabled: never runs")
        for r in j["next_runs"]:
            mark = "  (provisional: rule-based holiday calendar)" if r in j["provisional"] else ""
            con.print(f"  {r}{mark}")
    con.print(f"(from {start.isoformat()})")


def print_status(data: dict, path: str) -> None:
    con = _console()
    jobs = data.get("jobs", {})
    daemon = data.get("daemon", {})
    if not jobs and not daemon:
        con.print(f"no status yet ({path}): the daemon has not run")
        return
    if daemon:
        con.print(f"daemon pid {daemon.get('pid')} started {daemon.get('started_at')}, "
                  f"heartbeat {daemon.get('heartbeat', '—')}" + (f", stopped {daemon['stopped_at']}" if daemon.get("stopped_at") else ""))
    t = _table(title=f"jobs ({path})", title_justify="left")
    for c in ("job", "last run", "outcome", "rows", "last success", "next run", "last error"):
        t.add_column(c)
    for name, j in sorted(jobs.items()):
        t.add_row(name, j.get("last_slot") or "—", j.get("last_outcome") or "—", str(j.get("last_rows", "—")),
                  j.get("last_success") or "—", j.get("next_run") or "—", (j.get("last_error") or "")[:80])
    con.print(t)
    for name, j in sorted(jobs.items()):
        for w in j.get("last_warnings") or []:
            con.print(Text(f"{name}: warning: {w}"))
