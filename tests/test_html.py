"""The HTML report: one self-contained page (no network, no scripts), every text escaped, Chinese
headers on request, the sample-data notice, the charts, what changed, provenance; and the page
as a real browser (Debian's headless Chromium) renders it."""

from __future__ import annotations

import dataclasses
import os
import re
import shutil
import subprocess
import tomllib
from datetime import date, datetime, timezone
from html.parser import HTMLParser
from pathlib import Path

import pytest

from screener import api
from screener.config import load_config
from screener.outputs.export import ExportContext
from screener.outputs.export import render as export_render
from screener.outputs.formats import html_format
from screener.outputs.history import Changes, Run, compare, rows_of
from screener.outputs.labels import label
from screener.outputs.report import exclusion_counts, result_payload

from .conftest import REPO, write

AS_OF = date(2026, 11, 26)
EARLIER = date(2026, 10, 30)
GENERATED = datetime(2026, 11, 26, 8, 30, tzinfo=timezone.utc)
CHROMIUM = Path("/usr/bin/chromium")
HOSTILE = "<script>alert(1)</script>"
FORMULA = '=HYPERLINK("x")'


# -- helpers ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    """The repository's sample project, copied once for this module (read-only use)."""
    root = tmp_path_factory.mktemp("html-sample")
    for name in ("rules", "universes"):
        shutil.copytree(REPO / name, root / name)
    shutil.copytree(REPO / "data" / "sample", root / "data" / "sample")
    shutil.copy(REPO / "config.toml", root / "config.toml")
    return root


def run_rule(root: Path, rule: str, as_of: date = AS_OF):
    """Run one rule of a project through the library, as the CLI does."""
    config = load_config(root / "config.toml")
    (result,) = api.run(config, api.load_screens(config, [str(root / "rules" / rule)]), as_of)
    return result


def page(result, lang: str = "en", changes=None) -> str:
    ctx = ExportContext(result, generated_at=GENERATED, lang=lang, changes=changes)
    return html_format.render(ctx).decode("utf-8")


VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}


class Node:
    def __init__(self, tag: str, attrs: dict, parent: Node | None):
        self.tag, self.attrs, self.parent, self.children = tag, attrs, parent, []

    @property
    def classes(self) -> list[str]:
        return (self.attrs.get("class") or "").split()

    def text(self) -> str:
        return "".join(c if isinstance(c, str) else c.text() for c in self.children)

    def find_all(self, tag: str | None = None, id: str | None = None, cls: str | None = None) -> list[Node]:
        out = []
        for c in self.children:
            if isinstance(c, Node):
                if (tag is None or c.tag == tag) and (id is None or c.attrs.get("id") == id) \
                        and (cls is None or cls in c.classes):
                    out.append(c)
                out.extend(c.find_all(tag, id, cls))
        return out

    def one(self, tag: str | None = None, id: str | None = None, cls: str | None = None) -> Node:
        found = self.find_all(tag, id, cls)
        assert len(found) == 1, f"expected one {tag}#{id}.{cls}, found {len(found)}"
        return found[0]


class Tree(HTMLParser):
    """A DOM from the standard library's parser; `errors` lists end tags that close nothing open
    (the page's tags must balance)."""

    def __init__(self, markup: str):
        super().__init__(convert_charrefs=True)
        self.root = Node("#document", {}, None)
        self.cur = self.root
        self.errors: list[str] = []
        self.feed(markup)
        self.close()
        if self.cur is not self.root:
            self.errors.append(f"unclosed <{self.cur.tag}>")

    def handle_starttag(self, tag, attrs):
        node = Node(tag, dict(attrs), self.cur)
        self.cur.children.append(node)
        if tag not in VOID:
            self.cur = node

    def handle_startendtag(self, tag, attrs):
        self.cur.children.append(Node(tag, dict(attrs), self.cur))

    def handle_endtag(self, tag):
        if tag in VOID:
            return
        if self.cur.tag != tag:
            self.errors.append(f"</{tag}> closes <{self.cur.tag}>")
            node = self.cur
            while node is not None and node.tag != tag:
                node = node.parent
            if node is None:
                return
            self.cur = node
        self.cur = self.cur.parent

    def handle_data(self, data):
        self.cur.children.append(data)


def dom(markup: str) -> Node:
    tree = Tree(markup)
    assert not tree.errors, tree.errors[:5]
    return tree.root


def body_rows(doc: Node) -> list[Node]:
    table = doc.one("table", id="watchlist")
    return [tr for tbody in table.find_all("tbody") for tr in tbody.find_all("tr")]


def plottable(row: dict) -> bool:
    return row["eps_growth_fy1"] is not None and row["pe_fy1"] is not None


# -- a self-contained, valid page ------------------------------------------------------


def test_page_is_self_contained_small_and_balanced(project):
    result = run_rule(project, "esg_compute_leaders.toml")
    html = page(result)
    assert html.startswith("<!DOCTYPE html>") and html.rstrip().endswith("</html>")
    assert len(html.encode("utf-8")) < 100_000
    doc = dom(html)  # every tag closed
    lowered = html.lower()
    assert "<script" not in lowered  # no JavaScript at all, inline or not
    assert "<link" not in lowered and "<iframe" not in lowered and "<img" not in lowered
    assert "@import" not in lowered and "url(" not in lowered  # no fonts or images from CSS
    for node in doc.find_all():
        for name in ("src", "href", "srcset", "action", "xlink:href", "poster", "data"):
            value = node.attrs.get(name)
            assert value is None or value.startswith("#"), f"<{node.tag} {name}={value!r}> reaches outside"
    assert not re.search(r"""(src|href)\s*=\s*["']?\s*(https?:)?//""", html, re.I)
    # the order of the page
    ids = [n.attrs["id"] for n in doc.find_all() if n.attrs.get("id") in (
        "sample-notice", "watchlist", "components-chart", "valuation-chart", "filters", "changes", "provenance")]
    assert ids == ["sample-notice", "watchlist", "components-chart", "valuation-chart", "filters", "changes",
                   "provenance"]


def test_the_export_registry_renders_this_module(project):
    result = run_rule(project, "esg_compute_leaders.toml")
    ctx = ExportContext(result, generated_at=GENERATED)
    assert export_render("html", ctx) == html_format.render(ctx)


def test_the_template_ships_as_package_data():
    from importlib.resources import files

    assert files("screener.outputs").joinpath("templates", html_format.TEMPLATE).is_file()
    meta = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    assert "outputs/templates/*.html" in meta["tool"]["setuptools"]["package-data"]["screener"]


# -- escaping --------------------------------------------------------------------------


def test_text_from_data_and_rules_is_escaped(tiny):
    write(tiny / "universes" / "tiny.csv", f"""
        symbol,name,exposure,listed,name_en,exchange,source,note
        603001.SH,"{HOSTILE}",core,true,"{FORMULA.replace('"', '""')}",SSE,test,
        603002.SH,乙公司,pure,true,"<u>Beta</u>",SSE,test,
        """)
    write(tiny / "rules" / "hostile.toml", """
        name = "<script>alert(1)</script>"
        description = '=HYPERLINK("x") & <i>more</i>'
        universe = ["tiny"]

        [filters]
        "<img src=x onerror=alert(1)>" = "eps_fy1 > 0 and name != '</pre><script>alert(2)</script>'"

        [scores]
        "<svg onload=alert(3)>" = { expr = "eps_growth_fy1", weight = 1 }
        """)
    result = run_rule(tiny, "hostile.toml", date(2026, 6, 30))
    # a universe is named by a file stem, which cannot hold "/": put hostile names in directly
    result = dataclasses.replace(result, screen=dataclasses.replace(result.screen, universes=(HOSTILE, FORMULA)))
    assert result.included.height == 2
    html = page(result)
    lowered = html.lower()
    for raw in ("<script", "<img", "<svg onload", "<u>", "<i>", "</pre><script"):
        assert raw not in lowered, raw
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "=HYPERLINK(&#34;x&#34;)" in html and FORMULA not in html
    doc = dom(html)
    assert not doc.find_all("script") and not doc.find_all("img") and not doc.find_all("u")
    # the browser shows the text as written
    assert [c.text() for c in doc.find_all("span", cls="chip")] == [HOSTILE, FORMULA]
    assert doc.find_all("title")[0].text().startswith(HOSTILE)  # the page's title, before the charts' tooltips
    assert doc.one("h1").text() == HOSTILE
    names = [tr.one("td", cls="c-name").text() for tr in body_rows(doc)]
    assert f"{HOSTILE}{FORMULA}" in names  # name, then the English name below it
    filters = doc.one("section", id="filters").text()
    assert "<img src=x onerror=alert(1)>" in filters and "</pre><script>alert(2)</script>" in filters
    assert "<svg onload=alert(3)>" in doc.one("section", id="components").text()
    assert doc.one("pre").text() == result.screen.text  # the rule file, verbatim


# -- language, notice ------------------------------------------------------------------


def header_texts(doc: Node) -> list[str]:
    return [th.text() for th in doc.one("table", id="watchlist").find_all("th")]


def test_chinese_headers_and_language(project):
    result = run_rule(project, "esg_compute_leaders.toml")
    zh = dom(page(result, "zh"))
    assert zh.one("html").attrs["lang"] == "zh"
    headers = header_texts(zh)
    assert headers[:5] == ["排名", "代码", "名称", "主题", "综合得分"]
    for column in ("score_earnings", "esg_rating", "eps_fy1", "eps_growth_fy1", "pe_fy1", "close"):
        assert label(column, "zh") != column and label(column, "zh") in headers
    assert "rank" not in headers and "score" not in headers
    assert "观察名单" in zh.one("section", id="watchlist-section").text()
    en = dom(page(result, "en"))
    assert en.one("html").attrs["lang"] == "en"
    assert header_texts(en)[:5] == ["rank", "symbol", "name", "themes", "score"]
    assert "score_earnings" in header_texts(en)


def test_sample_notice_only_for_sample_data(project, tiny):
    sample = run_rule(project, "esg_compute_leaders.toml")
    assert sample.snapshot.notice
    notice = dom(page(sample)).one("div", id="sample-notice").text()
    assert sample.snapshot.notice in notice
    plain = run_rule(tiny, "small.toml", date(2026, 6, 30))
    assert not plain.snapshot.notice
    html = page(plain)
    assert 'id="sample-notice"' not in html and "SAMPLE DATA" not in html
    assert dom(html).one("section", id="provenance").find_all("dd")[2].text() == "no"


# -- table, formats, charts ------------------------------------------------------------


def test_table_rows_follow_the_payload_with_formatted_numbers(project):
    result = run_rule(project, "ai_compute_garp.toml")
    payload = result_payload(result, GENERATED)
    doc = dom(page(result))
    rows = body_rows(doc)
    assert [tr.attrs["data-symbol"] for tr in rows] == [r["symbol"] for r in payload["rows"]]
    nulls = 0
    for tr, row in zip(rows, payload["rows"]):
        cell = {td.attrs["class"].split()[0][2:]: td.text() for td in tr.find_all("td")}
        assert cell["rank"] == str(row["rank"]) and cell["symbol"] == row["symbol"]
        english = row["name_en"] if row["name_en"] != row["name"] else None
        assert cell["name"] == row["name"] + (english or "")
        assert cell["themes"] == ", ".join(row["themes"])
        assert cell["score"] == f"{row['score']:.3f}"
        for name, value in row["components"].items():
            assert cell[f"score_{name}"] == f"{value:.3f}"
        assert cell["pe_fy1"] == f"{row['pe_fy1']:.1f}"
        assert cell["eps_fy1"] == f"{row['eps_fy1']:.3f}"
        assert cell["eps_growth_fy1"] == f"{row['eps_growth_fy1'] * 100:.1f}%"
        assert cell["close"] == f"{row['close']:,.2f} {row['currency']}"
        if row["esg_rating"] is None:
            assert cell["esg_rating"] == "—"
            nulls += 1
    assert nulls, "the GARP screen has unrated names: a null must show as —"
    # numbers are right-aligned and use tabular figures
    assert all("num" in td.classes for tr in rows for td in tr.find_all("td", cls="c-score"))
    assert re.search(r"\.num\s*{[^}]*text-align:\s*right[^}]*tabular-nums", page(result))


def chart_rows(doc: Node) -> list[Node]:
    return doc.one("svg", id="components-chart").find_all("g", cls="row")


def test_component_bars_are_weight_times_normalised_value(project):
    """ai_compute_garp has a z-score component: negative contributions lie left of zero."""
    result = run_rule(project, "ai_compute_garp.toml")
    doc = dom(page(result))
    svg = doc.one("svg", id="components-chart")
    zero = float(svg.one("line", cls="zero").attrs["x1"])
    weights = result.screen.weights
    rows = chart_rows(doc)
    assert [g.attrs["data-symbol"] for g in rows] == result.included["symbol"].to_list()
    scale = None
    negatives = 0
    for g, r in zip(rows, result.included.iter_rows(named=True)):
        bars = g.find_all("rect", cls="bar")
        assert [b.attrs["data-component"] for b in bars] == [s.name for s in result.screen.scores]
        for i, b in enumerate(bars):
            value = weights[i] * (r[result.norm_col(i)] or 0.0)
            x, width = float(b.attrs["x"]), float(b.attrs["width"])
            if value < 0:
                negatives += 1
                assert x + width <= zero + 0.01
            else:
                assert x >= zero - 0.01
            if abs(value) > 1e-6:
                k = width / abs(value)
                scale = scale or k
                assert abs(k - scale) < 0.05 * scale + 0.02
    assert negatives, "the z-score momentum component is negative for some names"
    legend = [li.text() for li in doc.one("section", id="components").one("ul", cls="legend").find_all("li")]
    assert [t.split()[0] for t in legend] == [s.name for s in result.screen.scores]
    assert "zscore" in legend[2]


def test_valuation_chart_plots_what_it_can_and_lists_the_rest(tiny):
    write(tiny / "rules" / "everyone.toml", """
        universe = ["tiny"]
        [scores]
        size = { expr = "coalesce(market_cap, 0)", weight = 1 }
        """)
    result = run_rule(tiny, "everyone.toml", date(2026, 6, 30))
    payload = result_payload(result, GENERATED)
    doc = dom(page(result))
    dots = doc.one("svg", id="valuation-chart").find_all("g", cls="dot")
    assert sorted(d.attrs["data-symbol"] for d in dots) == sorted(r["symbol"] for r in payload["rows"] if plottable(r))
    for d in dots:
        assert d.one("text").text() == d.attrs["data-symbol"]
    skipped = [r["symbol"] for r in payload["rows"] if not plottable(r)]
    assert skipped == ["IONQ.US"]  # losses: no growth, no P/E
    note = doc.one("p", id="not-plotted").text()
    assert note.startswith("not plotted") and "IONQ.US" in note and "pe_fy1" in note


def test_filters_section_counts_what_each_filter_removed(project):
    result = run_rule(project, "ai_compute_garp.toml")
    counts = exclusion_counts(result)
    section = dom(page(result)).one("section", id="filters")
    rows = {tr.find_all("td")[0].text(): tr.find_all("td") for tr in section.one("tbody").find_all("tr")}
    for f in result.screen.filters:
        assert rows[f.name][1].text() == f.source
        assert rows[f.name][2].text() == str(counts.get(f.name, 0))
    assert rows["unlisted"][2].text() == str(counts.get("unlisted", 0)) != "0"
    assert rows[f"below top {result.screen.top}"][2].text() == str(counts.get("below top", 0))


# -- what changed, provenance, the empty watchlist -------------------------------------


def run_record(run_id: int, result, generated_at: datetime) -> Run:
    return Run(run_id, result.screen.stem, result.screen.name, result.screen.sha256, result.snapshot.fingerprint,
               result.as_of.isoformat(), generated_at.isoformat(), None, result.frame.height,
               int(result.frame["_passed"].sum()), result.included.height, result.screen.top)


def test_changes_since_the_previous_run(project):
    old = run_rule(project, "esg_compute_leaders.toml", EARLIER)
    new = run_rule(project, "esg_compute_leaders.toml")
    before = run_record(1, old, datetime(2026, 10, 30, 8, 30, tzinfo=timezone.utc))
    after = run_record(2, new, GENERATED)
    changes = compare(rows_of(old), rows_of(new), before, after)
    assert changes.left and changes.moved, "the sample data moves between these dates"
    section = dom(page(new, changes=changes)).one("section", id="changes")
    text = section.text()
    assert "previous run #1" in text and "as of 2026-10-30" in text
    for kind, entries in (("entered", changes.entered), ("left", changes.left), ("moved", changes.moved)):
        tables = section.find_all("table", cls=kind)
        if not entries:
            assert not tables
            continue
        cells = [[td.text() for td in tr.find_all("td")] for tr in tables[0].one("tbody").find_all("tr")]
        assert [c[-3] for c in cells] == [e["symbol"] for e in entries]
        assert [c[-1] for c in cells] == [e["reason"] for e in entries]
        if kind == "moved":
            assert [(c[0], c[1].split()[0]) for c in cells] == [(str(e["from_rank"]), str(e["to_rank"]))
                                                                for e in entries]
        if kind == "left":
            assert [c[0] for c in cells] == [str(e["from_rank"]) for e in entries]


@pytest.mark.parametrize("changes", [None, Changes()], ids=["no-history", "no-previous-run"])
def test_a_first_run_says_so(project, changes):
    result = run_rule(project, "esg_compute_leaders.toml")
    text = dom(page(result, changes=changes)).one("section", id="changes").text()
    assert "First recorded run" in text


def test_no_change_since_the_previous_run(project):
    result = run_rule(project, "esg_compute_leaders.toml")
    run = run_record(1, result, GENERATED)
    changes = compare(rows_of(result), rows_of(result), run, run)
    assert changes.empty
    text = dom(page(result, changes=changes)).one("section", id="changes").text()
    assert "No security entered, left or moved." in text and "First recorded run" not in text


def test_provenance(project):
    result = run_rule(project, "esg_compute_leaders.toml")
    section = dom(page(result)).one("section", id="provenance")
    facts = dict(zip([dt.text() for dt in section.find_all("dt")], [dd.text() for dd in section.find_all("dd")]))
    assert facts["data folder"] == "sample"
    assert facts["fingerprint"] == result.snapshot.fingerprint != ""
    assert facts["as of"] == "2026-11-26"
    assert facts["generated"] == "2026-11-26T08:30:00+00:00"
    assert facts["rule file"] == result.screen.path and facts["rule file"].endswith("esg_compute_leaders.toml")
    assert facts["rule sha256"] == result.screen.sha256
    assert section.one("pre").text() == result.screen.text


def test_an_empty_watchlist_still_makes_a_page(tiny):
    write(tiny / "rules" / "nothing.toml", """
        name = "Nothing passes"
        universe = ["tiny"]
        [filters]
        impossible = "eps_fy1 > 1000"
        [scores]
        growth = { expr = "eps_growth_fy1", weight = 1 }
        """)
    result = run_rule(tiny, "nothing.toml", date(2026, 6, 30))
    assert result.included.height == 0
    for lang in ("en", "zh"):
        html = page(result, lang)
        doc = dom(html)
        assert body_rows(doc) == []
        assert doc.one("p", id="empty-watchlist").text() in ("No security passed every filter.",
                                                              "没有证券通过全部筛选条件。")
        assert not doc.find_all("svg")
        for section in ("filters", "changes", "provenance"):
            doc.one("section", id=section)
    filters = dom(page(result)).one("section", id="filters")
    assert filters.one("tbody").find_all("tr")[0].find_all("td")[2].text() == "4"  # 4 listed members fail it


# -- a real browser --------------------------------------------------------------------


def chromium(profile: Path, *args: str) -> subprocess.CompletedProcess:
    """Run Debian's headless Chromium once, offline-minded, with a fresh profile; 60 s at most."""
    if not CHROMIUM.exists():
        if os.environ.get("CI"):
            pytest.fail(f"{CHROMIUM} is missing: CI installs Debian's chromium for this test")
        pytest.skip(f"{CHROMIUM} is missing (apt-get install chromium): the page is not checked in a browser")
    cmd = [str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
           "--disable-background-networking", "--disable-component-update", "--disable-sync",
           "--disable-dev-shm-usage", f"--user-data-dir={profile}", *args]
    return subprocess.run(cmd, capture_output=True, timeout=60, check=True)


def test_a_browser_renders_the_table_and_charts(project, tmp_path):
    result = run_rule(project, "esg_compute_leaders.toml")
    payload = result_payload(result, GENERATED)
    path = tmp_path / "report.html"
    path.write_text(page(result), encoding="utf-8")

    out = chromium(tmp_path / "profile-dom", "--dump-dom", path.as_uri())
    doc = Tree(out.stdout.decode("utf-8")).root  # the browser's serialisation, parsed again
    rows = body_rows(doc)
    assert len(rows) == len(payload["rows"]) > 0
    assert [tr.attrs["data-symbol"] for tr in rows] == [r["symbol"] for r in payload["rows"]]
    bars = doc.one("svg", id="components-chart")
    assert len(bars.find_all("g", cls="row")) == len(payload["rows"])
    assert len(bars.find_all("rect", cls="bar")) == len(payload["rows"]) * len(result.screen.scores)
    dots = doc.one("svg", id="valuation-chart").find_all("g", cls="dot")
    assert len(dots) == sum(plottable(r) for r in payload["rows"])
    for id in ("filters", "changes", "provenance"):
        doc.one("section", id=id)
    assert result.snapshot.notice in doc.one("div", id="sample-notice").text()

    png = tmp_path / "report.png"
    chromium(tmp_path / "profile-png", "--hide-scrollbars", f"--screenshot={png}", "--window-size=1280,1800",
             path.as_uri())
    data = png.read_bytes()
    assert data.startswith(b"\x89PNG\r\n\x1a\n")
    assert len(data) > 10_000
    width, height = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    assert (width, height) == (1280, 1800)
