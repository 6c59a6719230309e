"""Vendor exports (Wind, iFinD, Choice, or any CSV/Excel described in `config.toml`) -> snapshot files.

`import_file(path, source=, kind=, as_of=, into=, config=)` turns one export of consensus
forecasts, prices or ESG ratings into rows of `<into>/<kind>.csv` (the snapshot format of
`screener.data.schemas.SPECS[kind]`), merges them with what the file already holds, checks the
result with the pandera schemas and writes it atomically. Rows it cannot use go to
`<into>/<kind>.rejected.csv`. Nothing else is touched. It returns an `ImportReport`.

The modules, in the order the data goes through them (each imports only those above it, and its
docstring says what it does with nulls, ties and empty input):

| module | job |
| --- | --- |
| `units` | a cell or unit word -> a value: missing markers, `[单位]` multipliers, numbers, currencies |
| `headers` | a column header -> `Header`: the name aliases match, plus unit, FY index, year, currency, date |
| `profiles` | per source and kind, which header aliases give which field; the `generic` mapping from the config |
| `files` | a CSV/TSV (encoding and delimiter detected) or `.xlsx` file -> rows of text cells |
| `layout` | the header row -> which column gives which field, for which fiscal year (FY1..FY3), in which unit |
| `report` | `ImportReport`, `Rejection`, the rejects CSV |
| `records` | data rows -> one record per snapshot row (wide -> long), rejections, duplicates settled |
| `merge` | records -> the snapshot file: merged by key, validated, written atomically; the rejects report |
| `pipeline` | `import_file`: the steps in order |

Only the names below are public; the modules' own names are for each other and the tests.
"""

from __future__ import annotations

from screener.data.imports.headers import normalise_header
from screener.data.imports.pipeline import import_file
from screener.data.imports.profiles import KINDS, SOURCES
from screener.data.imports.report import ImportReport, Rejection
from screener.data.imports.units import parse_number, parse_unit

__all__ = ["SOURCES", "KINDS", "Rejection", "ImportReport", "import_file", "normalise_header", "parse_number",
           "parse_unit"]
