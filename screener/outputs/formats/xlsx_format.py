"""Excel workbook: the watchlist as a formatted table, what produced it, and what changed.

Sheets:

- `watchlist`: one row per included security in rank order (the columns of
  `report.watchlist_table`), bold filled header (English or Chinese, `labels.label`), frozen
  header row, autofilter, number formats per column, real Excel dates, a 3-colour scale on the
  score. Below the table: the sample-data notice when the snapshot has one, and a line saying
  no security passed when the watchlist is empty.
  Rows carry `pinned` (TRUE/FALSE) and `pin_reason`, `group_rank` with `per`, `kept` and the
  engine's `reason` with a buffer or pins; a pinned row without a score has empty rank and
  score cells.
- `about`: rule name and file, universes, as_of, generated_at, data folder and fingerprint, the
  notice, member counts, top, and for a rule that has them `per`, `keep` and the previous
  watchlist it compared against ("no previous watchlist: plain top"), pins, exclusions per
  filter (an exclude pin counts as "pin"), warnings, then the full rule text, one line per row.
- `changes` (only when `ctx.changes` has entries): entered, left and moved securities.

Chinese (`lang = "zh"`): headers, the shown values of closed sets (market, exposure ...), the
engine's reasons and the changes are in Chinese (`labels.translate_value`,
`labels.translate_reason`). Money columns (`labels.AMOUNT_COLUMNS`) keep their cells as numbers
in plain units (144670000000, so sums and sorting work); their number format shows them in 亿 or
万 (`labels.amount_unit`), the unit in each shown cell. Excel cannot divide by 1e8 in a number
format (each trailing comma divides by 1000), so the format divides by 1e6 with two commas and
puts a literal point before the last two digits: `0!.00,,"亿"` shows 144670000000 as "1446.70亿",
exactly 亿 with two decimals. For 万 the same trick with one comma (`0!.0,"万"`) gives one
decimal, the most a format can show exactly (two would need a division by 100).

Safety: every text cell goes through `safe.neutralise_formula` and `write_string` (control
characters shown escaped, `safe.printable`, by the `Printable` sheet), and the
workbook is opened with `strings_to_formulas/urls/numbers` off, so a name such as
`=HYPERLINK(...)` is stored as inert text. Numbers stay numbers; null, NaN and infinite values
are empty cells. The file is reproducible: its creation time is `ctx.generated_at`.
"""

from __future__ import annotations

import io
import math
import unicodedata
from datetime import date, datetime, timezone

from screener.outputs.labels import AMOUNT_COLUMNS, amount_unit, label, phrase, translate_reason, translate_value
from screener.outputs.labels import translate_note
from screener.outputs.report import data_dates_text, exclusion_counts, previous_note, watchlist_table
from screener.outputs.safe import neutralise_formula, printable
from screener.times import shown

HEADER_FILL = "#DDEBF7"
NOTICE_COLOUR = "#9C0006"
MAX_WIDTH = 60
MIN_WIDTH = 6

# Excel number format by column; `number_format` also matches prefixes (score_*, eps_growth_* ...)
_EXACT_FORMATS = {
    "rank": "0", "group_rank": "0", "score": "0.000", "close": "0.00", "market_cap": "#,##0", "analysts": "0",
    "esg_score": "0.0", "exposure_score": "0.00", "eps_fy0": "0.0000", "eps_fy1": "0.0000",
    "eps_fy2": "0.0000", "revenue_fy1": "#,##0", "net_profit_fy1": "#,##0", "amount_avg_1m": "#,##0",
    "from_rank": "0", "to_rank": "0", "from_score": "0.000", "to_score": "0.000",
}
_PREFIX_FORMATS = (
    ("score_", "0.000"), ("eps_growth_", "0.0%"), ("revision_", "0.0%"), ("return_", "0.0%"),
    ("revenue_growth_", "0.0%"), ("net_profit_growth_", "0.0%"), ("pe_", "0.0"), ("peg_", "0.0"), ("ps_", "0.0"),
)
DATE_FORMAT = "yyyy-mm-dd"

#: number formats of money columns shown in a Chinese unit (see the module docstring)
UNIT_FORMATS = {"亿": '0!.00,,"亿"', "万": '0!.0,"万"'}

# Fixed words of the about and changes sheets, in Chinese for `lang = "zh"`.


text = phrase  # fixed phrases of the export in its language (screener.outputs.labels)


def render(ctx) -> bytes:
    """The workbook as bytes. An empty watchlist still gives a valid file with the header row,
    the notice and the about sheet. Raises ImportError with a hint when xlsxwriter is missing."""
    try:
        import xlsxwriter
    except ImportError as e:  # pragma: no cover - a core dependency; a broken install
        raise ImportError("the xlsx export needs the xlsxwriter package: pip install xlsxwriter") from e

    buf = io.BytesIO()
    workbook = xlsxwriter.Workbook(buf, {"in_memory": True, "strings_to_formulas": False,
                                         "strings_to_urls": False, "strings_to_numbers": False})
    workbook.set_properties({"title": neutralise_formula(printable(ctx.result.screen.name)),
                             "created": naive_utc(ctx.generated_at)})
    styles = Styles(workbook)
    write_watchlist(Printable(workbook.add_worksheet("watchlist")), ctx, styles)
    write_about(Printable(workbook.add_worksheet("about")), ctx, styles)
    if ctx.changes is not None and not ctx.changes.empty:
        write_changes(Printable(workbook.add_worksheet("changes")), ctx, styles)
    workbook.close()
    return buf.getvalue()


class Printable:
    """A worksheet whose `write_string` shows control characters escaped (`safe.printable`:
    `\\x1b`; newlines and tabs kept), so no cell, header or line of the rule text carries one
    raw; everything else is the worksheet's own."""

    def __init__(self, sheet):
        self._sheet = sheet

    def write_string(self, row, col, string, *args):
        return self._sheet.write_string(row, col, printable(string), *args)

    def __getattr__(self, name):
        return getattr(self._sheet, name)


def naive_utc(moment: datetime) -> datetime:
    """`moment` as a naive UTC datetime (xlsxwriter rejects timezone-aware ones); a naive
    input is taken to be UTC already."""
    if moment.tzinfo is None:
        return moment
    return moment.astimezone(timezone.utc).replace(tzinfo=None)


class Styles:
    """The cell formats of one workbook, created once; number formats made on first use."""

    def __init__(self, workbook):
        self._workbook = workbook
        self._numbers: dict[str, object] = {}
        border = {"border": 1, "border_color": "#9BC2E6"}
        self.header = workbook.add_format({"bold": True, "bg_color": HEADER_FILL, "valign": "top", **border})
        self.notice = workbook.add_format({"bold": True, "font_color": NOTICE_COLOUR})
        self.key = workbook.add_format({"bold": True, "valign": "top"})
        self.code = workbook.add_format({"font_name": "Consolas"})
        self.date = workbook.add_format({"num_format": DATE_FORMAT})

    def number(self, column: str, fmt: str | None = None):
        """The format for numbers in `column` (None: Excel's General format), or for the
        number format `fmt` when given."""
        fmt = fmt or number_format(column)
        if fmt is None:
            return None
        if fmt not in self._numbers:
            self._numbers[fmt] = self._workbook.add_format({"num_format": fmt})
        return self._numbers[fmt]


def number_format(column: str) -> str | None:
    """The Excel number format of a numeric column, or None for Excel's General format."""
    if column in _EXACT_FORMATS:
        return _EXACT_FORMATS[column]
    for prefix, fmt in _PREFIX_FORMATS:
        if column.startswith(prefix):
            return fmt
    return None


def display_width(value: str) -> int:
    """How many character cells `value` takes on screen: wide (CJK) characters count double;
    the longest line counts for multi-line text; 0 for empty text."""
    lines = value.splitlines() or [""]
    return max(sum(2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1 for ch in line) for line in lines)


def shown_text(value, column: str) -> str:
    """Roughly what Excel shows for a cell, to size its column: '' for null, NaN and inf."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return ""
    if isinstance(value, bool):
        return "TRUE"
    if isinstance(value, (int, float)):
        fmt = number_format(column) or ""
        if fmt.endswith("%"):
            return f"{value * 100:.1f}%"
        decimals = fmt.split(".")[1].count("0") if "." in fmt else (0 if fmt else 6)
        return f"{value:,.{decimals}f}" if "," in fmt else f"{value:.{decimals}f}"
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    if isinstance(value, (list, tuple)):
        return "; ".join(str(v) for v in value)
    return str(value)


def column_width(header: str, values, column: str) -> int:
    """A width fitting the header and the widest value, between MIN_WIDTH and MAX_WIDTH; an
    empty column is as wide as its header."""
    widest = max([display_width(header), *(display_width(shown_text(v, column)) for v in values)])
    return max(MIN_WIDTH, min(MAX_WIDTH, widest + 2))


def write_cell(sheet, row: int, col: int, value, column: str, styles: Styles, fmt: str | None = None) -> None:
    """One cell by its Python type: null/NaN/inf -> nothing written (an empty cell); bool ->
    boolean; number -> number with the column's format (or `fmt`); date -> real Excel date;
    aware datetime -> ISO text; list -> items joined with "; "; anything else -> neutralised text."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return
    if isinstance(value, bool):
        sheet.write_boolean(row, col, value)
    elif isinstance(value, (int, float)):
        sheet.write_number(row, col, value, styles.number(column, fmt))
    elif isinstance(value, datetime) and value.tzinfo is not None:
        sheet.write_string(row, col, value.isoformat())
    elif isinstance(value, (date, datetime)):
        sheet.write_datetime(row, col, value, styles.date)
    elif isinstance(value, (list, tuple)):
        sheet.write_string(row, col, neutralise_formula("; ".join("" if v is None else str(v) for v in value)))
    else:
        sheet.write_string(row, col, neutralise_formula(str(value)))


def write_table(sheet, columns: list[str], rows: list[dict], ctx, styles: Styles) -> None:
    """A header row (labels in ctx.lang) and one row per dict, with frozen header, autofilter and
    fitted widths. No rows gives the header alone, still filterable. In Chinese, text values of
    closed sets and reasons are translated and money columns get a 亿/万 number format (cells stay
    plain numbers)."""
    lang = ctx.lang
    units = {c: amount_unit([r.get(c) for r in rows], lang) for c in columns if c in AMOUNT_COLUMNS}
    formats = {c: UNIT_FORMATS[u[1]] for c, u in units.items() if u}
    headers = [_header(c, lang) for c in columns]
    for j, h in enumerate(headers):
        sheet.write_string(0, j, neutralise_formula(h), styles.header)
    for i, r in enumerate(rows, start=1):
        for j, c in enumerate(columns):
            write_cell(sheet, i, j, shown_value(r.get(c), c, lang), c, styles, formats.get(c))
    for j, c in enumerate(columns):
        values = (f"{r.get(c) / units[c][0]:.2f}{units[c][1]}" if units.get(c) and isinstance(r.get(c), (int, float))
                  else shown_value(r.get(c), c, lang) for r in rows)
        sheet.set_column(j, j, column_width(headers[j], values, c))
    sheet.freeze_panes(1, 0)
    if columns:
        sheet.autofilter(0, 0, len(rows), len(columns) - 1)


def shown_value(value, column: str, lang: str):
    """A text value as the workbook shows it in `lang`: reasons translated by pattern, closed
    sets (market, exposure) translated; numbers, booleans and other text unchanged."""
    if lang != "zh" or not isinstance(value, str):
        return value
    if column == "reason":
        return translate_reason(value, lang)
    return translate_value(column, value, lang)


def _header(column: str, lang: str) -> str:
    """Column header: the export label, or a fixed word of this workbook (changes sheet)."""
    shown = label(column, lang)
    return text(column, lang) if shown == column else shown


def write_watchlist(sheet, ctx, styles: Styles) -> None:
    """The ranked table, a colour scale on the score, then (one blank row below) the line saying
    nothing passed when the table is empty, and the data notice when there is one."""
    table = watchlist_table(ctx.result)
    rows = table.to_dicts()
    write_table(sheet, table.columns, rows, ctx, styles)
    if rows and "score" in table.columns:
        j = table.columns.index("score")
        sheet.conditional_format(1, j, len(rows), j, {
            "type": "3_color_scale", "min_color": "#F8696B", "mid_color": "#FFEB84", "max_color": "#63BE7B"})
    below = len(rows) + 2
    if not rows:
        sheet.write_string(below, 0, text("No security passed every filter.", ctx.lang), styles.key)
        below += 1
    notice = ctx.result.snapshot.notice
    if notice:
        sheet.write_string(below, 0, neutralise_formula(notice), styles.notice)


def about_rows(ctx) -> list[tuple[str, object]]:
    """(key, value) pairs describing the run; values may be None (written as empty cells)."""
    result = ctx.result
    screen = result.screen
    snapshot = result.snapshot
    rows: list[tuple[str, object]] = [
        ("rule", screen.name),
        ("description", screen.description or None),
        ("rule file", screen.path),
        ("universes", ", ".join(screen.universes)),
        ("as_of", result.as_of),
        ("generated_at", ctx.generated_local.isoformat()),
        ("data folder", snapshot.folder.name),
        ("data fingerprint", snapshot.fingerprint),
        ("data as of", data_dates_text(result)),
        ("data notice", snapshot.notice),
        ("members", result.frame.height),
        ("passed", int(result.frame["_passed"].sum())),
        ("shown", result.included.height),
        ("top", screen.top),
    ]
    if getattr(screen, "per", None):
        rows.append(("per", screen.per))
    if getattr(screen, "keep", None) is not None:
        rows += [("keep", screen.keep), ("previous watchlist", translate_note(previous_note(result), ctx.lang))]
    pins = getattr(screen, "pins", ())
    if pins:
        rows += [("pinned", int(result.included["pinned"].sum()))]
        rows += [(f"pin: {p.symbol}", f"{p.action}: {p.reason}" + (f" (until {p.until.isoformat()})" if p.until else ""))
                 for p in pins]
    rows += [(f"{text('excluded', ctx.lang)}: {name}", n) for name, n in exclusion_counts(result).items()]
    rows += [("warning", w) for w in result.warnings]
    return rows


def write_about(sheet, ctx, styles: Styles) -> None:
    """Key/value rows (notice in the notice style), a blank row, then the rule text line by line
    (an empty line stays an empty row)."""
    sheet.write_string(0, 0, text("item", ctx.lang), styles.header)
    sheet.write_string(0, 1, text("value", ctx.lang), styles.header)
    row = 1
    for key, value in about_rows(ctx):
        sheet.write_string(row, 0, neutralise_formula(text(key, ctx.lang)), styles.key)
        if key == "data notice" and value:
            sheet.write_string(row, 1, neutralise_formula(value), styles.notice)
        else:
            write_cell(sheet, row, 1, value, key, styles)
        row += 1
    row += 1
    sheet.write_string(row, 0, text("rule text", ctx.lang), styles.header)
    for line in ctx.result.screen.text.splitlines():
        row += 1
        if line:
            sheet.write_string(row, 0, neutralise_formula(line), styles.code)
    sheet.set_column(0, 0, 22)
    sheet.set_column(1, 1, 80)
    sheet.freeze_panes(1, 0)


CHANGE_COLUMNS = ["change", "symbol", "name", "from_rank", "to_rank", "from_score", "to_score", "reason"]


def change_rows(changes, lang: str = "en") -> list[dict]:
    """Entered, left and moved entries as rows of CHANGE_COLUMNS. Missing ranks or scores (a
    security new to the list has no previous rank) stay None."""
    out = []
    for e in changes.entered:
        out.append({"change": text("entered", lang), "symbol": e.get("symbol"), "name": e.get("name"),
                    "to_rank": e.get("rank"), "to_score": e.get("score"), "reason": e.get("reason")})
    for e in changes.left:
        out.append({"change": text("left", lang), "symbol": e.get("symbol"), "name": e.get("name"),
                    "from_rank": e.get("from_rank"), "to_rank": e.get("rank"), "reason": e.get("reason")})
    for e in changes.moved:
        out.append({"change": text("moved", lang), "symbol": e.get("symbol"), "name": e.get("name"),
                    "from_rank": e.get("from_rank"), "to_rank": e.get("to_rank"),
                    "from_score": e.get("from_score"), "to_score": e.get("to_score"), "reason": e.get("reason")})
    return out


def write_changes(sheet, ctx, styles: Styles) -> None:
    """The changes table, then which runs were compared (when known)."""
    rows = change_rows(ctx.changes, ctx.lang)
    write_table(sheet, CHANGE_COLUMNS, rows, ctx, styles)
    row = len(rows) + 2
    for key, run in (("previous run", ctx.changes.before), ("this run", ctx.changes.after)):
        if run is not None:
            sheet.write_string(row, 0, text(key, ctx.lang), styles.key)
            sheet.write_string(row, 1, f"#{run.run_id} as of {run.as_of}, generated {shown(run.generated_at, ctx.tz)}")
            row += 1
