"""Symbol parsing and rendering: every vendor spelling, the errors, and a round-trip property."""

from __future__ import annotations

import pickle
import re
import subprocess
import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from screener.data.schemas import SYMBOL_PATTERN
from screener.data.symbols import (
    MARKETS, PROVIDERS, Symbol, SymbolError, canonical, parse_symbol, try_parse,
)

SPELLINGS = [
    # Shanghai
    ("603019", "603019.SH"), ("sh603019", "603019.SH"), ("SH603019", "603019.SH"),
    ("603019.SH", "603019.SH"), ("603019.SS", "603019.SH"), ("603019.XSHG", "603019.SH"),
    ("1.603019", "603019.SH"), ("sh.603019", "603019.SH"), ("688981", "688981.SH"),
    ("600000.sh", "600000.SH"), ("900901", "900901.SH"), ("689009.SH", "689009.SH"),
    # Shenzhen
    ("000977", "000977.SZ"), ("sz000977", "000977.SZ"), ("000977.SZ", "000977.SZ"),
    ("000977.XSHE", "000977.SZ"), ("0.000977", "000977.SZ"), ("300750", "300750.SZ"),
    ("002230", "002230.SZ"), ("301269", "301269.SZ"), ("302132", "302132.SZ"), ("200725", "200725.SZ"),
    # Beijing, new and pre-October-2025 codes
    ("920190", "920190.BJ"), ("920190.BJ", "920190.BJ"), ("bj920190", "920190.BJ"),
    ("872190", "920190.BJ"), ("872190.BJ", "920190.BJ"), ("830799", "920799.BJ"),
    ("430047", "920047.BJ"), ("bj830799", "920799.BJ"), ("0.920190", "920190.BJ"),
    ("0.872190", "920190.BJ"),
    # Hong Kong
    ("00020", "0020.HK"), ("0020.HK", "0020.HK"), ("20.HK", "0020.HK"), ("00020.HK", "0020.HK"),
    ("hk00020", "0020.HK"), ("80737.HK", "80737.HK"), ("700", "0700.HK"), ("1772.HK", "1772.HK"),
    ("116.00020", "0020.HK"), ("HK.00700", "0700.HK"), ("1.HK", "0001.HK"), ("0700.XHKG", "0700.HK"),
    ("80737", "80737.HK"), ("hk80737", "80737.HK"),
    # US
    ("IONQ", "IONQ.US"), ("IONQ.US", "IONQ.US"), ("IONQ.N", "IONQ.US"), ("RGTI.O", "RGTI.US"),
    ("RGTI.OQ", "RGTI.US"), ("105.RGTI", "RGTI.US"), ("106.IONQ", "IONQ.US"), ("107.UAMY", "UAMY.US"),
    ("gb_ionq", "IONQ.US"), ("ionq", "IONQ.US"), ("BRK.B", "BRK-B.US"), ("BRK-B", "BRK-B.US"),
    ("BRK_B.N", "BRK-B.US"), ("106.BRK_B", "BRK-B.US"), ("gb_brk$b", "BRK-B.US"),
    ("gb_brk.b", "BRK-B.US"), ("BRK.B.US", "BRK-B.US"), ("brk-b.us", "BRK-B.US"), ("BF/A", "BF-A.US"),
    ("US.AAPL", "AAPL.US"), ("A", "A.US"), ("106.N", "N.US"), ("105.SH", "SH.US"),
    # Private
    ("PRIVATE:brainco", "PRIVATE:brainco"), ("private:BrainCo", "PRIVATE:brainco"),
    ("PRIVATE:unitree-robotics", "PRIVATE:unitree-robotics"),
    # Normalisation: whitespace, full width, BOM, ideographic full stop
    ("  603019.SH\t", "603019.SH"), ("６０３０１９", "603019.SH"), ("６０３０１９．ＳＨ", "603019.SH"),
    ("603019。SH", "603019.SH"), ("\ufeff603019", "603019.SH"), ("\u3000IONQ\u3000", "IONQ.US"),
    ("ＩＯＮＱ．ｕｓ", "IONQ.US"),
]


@pytest.mark.parametrize(("text", "expected"), SPELLINGS)
def test_spellings(text, expected):
    sym = parse_symbol(text)
    assert sym.canonical() == expected
    assert str(sym) == expected
    assert canonical(text) == expected
    assert try_parse(text) == sym
    assert re.fullmatch(SYMBOL_PATTERN, expected)


@pytest.mark.parametrize(("text", "exchange"), [
    ("IONQ.N", "NYSE"), ("RGTI.O", "NASDAQ"), ("RGTI.OQ", "NASDAQ"), ("105.RGTI", "NASDAQ"),
    ("106.IONQ", "NYSE"), ("107.UAMY", "AMEX"), ("IONQ", None), ("IONQ.US", None), ("gb_ionq", None),
])
def test_us_exchange_is_kept(text, exchange):
    assert parse_symbol(text).exchange == exchange


def test_int_input_and_canonical_is_idempotent():
    assert parse_symbol(603019) == Symbol("603019", "SH")
    for _, expected in SPELLINGS:
        assert canonical(expected) == expected


BAD = [
    ("60301", "five-digit", "60301.HK"),
    ("603019.XX", "`.XX` is not a known market suffix", "603019.SH"),
    ("ABC.DEF", "`.DEF` is not a known market suffix", "ABC.US"),
    ("", "empty", "603019.SH"),
    ("   ", "empty", "603019.SH"),
    ("PRIVATE:", "needs a slug", "PRIVATE:brainco"),
    ("PRIVATE:brain_co", "lower-case letters", "PRIVATE:brain-co"),
    ("PRIVATE:-x", "lower-case letters", "PRIVATE:x"),
    ("PRIVATE:Brain Co", "lower-case letters", "PRIVATE:brain-co"),
    ("123456", "no known A-share board", "0020.HK"),
    ("700001", "known prefixes: 000, 001", None),
    ("603019.SZ", "is a Shanghai code", "603019.SH"),
    ("sz603019", "is a Shanghai code", "603019.SH"),
    ("0.603019", "is a Shanghai code", "603019.SH"),
    ("1.000977", "is a Shenzhen code", "000977.SZ"),
    ("872190.SH", "is a Beijing code", "920190.BJ"),
    ("977.SZ", "six digits", "000977.SZ"),
    ("60301.SH", "six digits", None),
    ("1234567", "7 digits", "603019.SH"),
    ("1234567.HK", "at most five digits", "0020.HK"),
    ("0.HK", "does not exist", "0020.HK"),
    ("2.603019", "not an East Money market number", "603019.SH"),
    ("VOD.L", "`.L` is not a known market suffix", None),
    ("SAP.DE", "`.DE` is not a known market suffix", None),
    ("ABCDEFGH", "not a known symbol spelling", "IONQ.US"),
    ("603019 SH", "no spaces", "603019SH"),
    ("中科曙光", "company name", "603019.SH"),
    ("603019.N", "not a US ticker", "IONQ.US"),
    ("IONQ.SH", "not an A-share code", "603019.SH"),
    ("HK700.US", "reads as a Hong Kong code", "0700.HK"),
    ("sh60301", "six digits", None),
]


@pytest.mark.parametrize(("text", "reason", "hint"), BAD)
def test_errors_name_the_value_and_say_what_to_write(text, reason, hint):
    with pytest.raises(SymbolError) as info:
        parse_symbol(text)
    err = info.value
    assert err.value == text
    assert str(err).startswith(repr(text) + ": ")
    assert reason in err.reason
    assert err.hint  # every parse error says what to write instead
    if hint:
        assert hint in err.hint
    assert try_parse(text) is None
    assert isinstance(err, ValueError)


def test_non_text():
    for value in (None, 603019.0, True, ["603019"]):
        with pytest.raises(SymbolError):
            parse_symbol(value)
        assert try_parse(value) is None
    with pytest.raises(SymbolError) as info:
        parse_symbol(977.0)
    assert "leading zeros" in info.value.hint


def test_symbol_error_pickles():
    err = SymbolError("x", "bad", "write y")
    back = pickle.loads(pickle.dumps(err))
    assert (back.value, back.reason, back.hint, str(back)) == ("x", "bad", "write y", "'x': bad")


@pytest.mark.parametrize(("text", "hint", "expected"), [
    ("700", "HK", "0700.HK"), ("00700", "hk", "0700.HK"), ("60301", "HK", "60301.HK"),
    ("977", "SZ", "000977.SZ"), ("603019", "SH", "603019.SH"), ("872190", "BJ", "920190.BJ"),
    ("IONQ", "US", "IONQ.US"), ("brainco", "PRIVATE", "PRIVATE:brainco"),
    ("Brain Co", "PRIVATE", None),  # spaces are still an error (the hint gives the slug)
    ("603019.SH", "HK", "603019.SH"),  # an explicit market wins over the hint
    ("603019", "SS", "603019.SH"), ("700", None, "0700.HK"),
])
def test_market_hint(text, hint, expected):
    if expected is None:
        with pytest.raises(SymbolError):
            parse_symbol(text, market_hint=hint)
    else:
        assert parse_symbol(text, market_hint=hint).canonical() == expected


@pytest.mark.parametrize(("text", "hint", "reason"), [
    ("IONQ", "HK", "looks like a US ticker"), ("700", "US", "not a US ticker"),
    ("603019", "HK", "at most five digits"), ("000977", "SH", "is a Shenzhen code"),
    ("1234567", "SZ", "six digits"),
])
def test_market_hint_conflicts(text, hint, reason):
    with pytest.raises(SymbolError) as info:
        parse_symbol(text, market_hint=hint)
    assert reason in info.value.reason and info.value.hint


def test_unknown_market_hint_is_a_value_error():
    with pytest.raises(ValueError, match="SH, SZ, BJ, HK, US, PRIVATE"):
        parse_symbol("700", market_hint="港股")


RENDER = {
    "603019.SH": {"canonical": "603019.SH", "wind": "603019.SH", "ifind": "603019.SH", "choice": "603019.SH",
                  "akshare": "603019", "sina": "sh603019", "em": "1.603019", "yahoo": "603019.SS"},
    "000977.SZ": {"canonical": "000977.SZ", "wind": "000977.SZ", "ifind": "000977.SZ", "choice": "000977.SZ",
                  "akshare": "000977", "sina": "sz000977", "em": "0.000977", "yahoo": "000977.SZ"},
    "920190.BJ": {"canonical": "920190.BJ", "wind": "920190.BJ", "ifind": "920190.BJ", "choice": "920190.BJ",
                  "akshare": "920190", "sina": "bj920190", "em": "0.920190", "yahoo": None},
    "0020.HK": {"canonical": "0020.HK", "wind": "0020.HK", "ifind": "0020.HK", "choice": "0020.HK",
                "akshare": "00020", "sina": "hk00020", "em": "116.00020", "yahoo": "0020.HK"},
    "80737.HK": {"wind": "80737.HK", "akshare": "80737", "sina": "hk80737", "em": "116.80737",
                 "yahoo": "80737.HK"},
    "IONQ.N": {"canonical": "IONQ.US", "wind": "IONQ.N", "ifind": "IONQ.N", "choice": "IONQ.N",
               "akshare": "IONQ", "sina": "gb_ionq", "em": "106.IONQ", "yahoo": "IONQ"},
    "RGTI.O": {"wind": "RGTI.O", "ifind": "RGTI.O", "choice": "RGTI.O", "em": "105.RGTI", "yahoo": "RGTI"},
    "IONQ.US": {"wind": "IONQ.US", "ifind": "IONQ.US", "choice": "IONQ.US", "akshare": "IONQ", "em": None},
    "107.UAMY": {"wind": "UAMY.US", "em": "107.UAMY", "sina": "gb_uamy"},
    "BRK_B.N": {"canonical": "BRK-B.US", "wind": "BRK_B.N", "em": "106.BRK_B", "sina": "gb_brk$b",
                "yahoo": "BRK-B", "akshare": "BRK-B"},
    "BRK.B": {"wind": "BRK-B.US", "em": None},
    "PRIVATE:brainco": {"canonical": "PRIVATE:brainco", **{p: None for p in PROVIDERS if p != "canonical"}},
}


@pytest.mark.parametrize(("text", "provider", "expected"),
                         [(t, p, e) for t, table in RENDER.items() for p, e in table.items()])
def test_render(text, provider, expected):
    sym = parse_symbol(text)
    if expected is None:
        with pytest.raises(SymbolError) as info:
            sym.render(provider)
        assert info.value.hint
    else:
        assert sym.render(provider) == expected
        assert sym.render(provider.upper()) == expected


def test_unknown_provider_lists_providers():
    with pytest.raises(ValueError, match="wind, ifind, choice, akshare, sina, em, yahoo") as info:
        Symbol("603019", "SH").render("bloomberg")
    assert not isinstance(info.value, SymbolError)


def test_symbol_value_semantics():
    a, b = Symbol("IONQ", "US", "NYSE"), Symbol("IONQ", "US")
    assert a == b and hash(a) == hash(b) and len({a, b}) == 1
    assert sorted([Symbol("603019", "SH"), Symbol("000977", "SZ")])[0].code == "000977"
    with pytest.raises(Exception):
        a.code = "X"


@pytest.mark.parametrize(("code", "market", "exchange"), [
    ("60301", "SH", None), ("603019", "SZ", None), ("872190", "BJ", None), ("123456", "SH", None),
    ("20", "HK", None), ("00020", "HK", None), ("0000", "HK", None), ("ionq", "US", None),
    ("BRK.B", "US", None), ("HK700", "US", None), ("IONQ", "US", "LSE"), ("0020", "HK", "NYSE"),
    ("Brain_Co", "PRIVATE", None), ("X", "CN", None),
])
def test_symbol_constructor_validates(code, market, exchange):
    with pytest.raises(SymbolError) as info:
        Symbol(code, market, exchange)
    assert info.value.hint


def test_module_is_light():
    code = "import sys, screener.data.symbols; print(any(m in sys.modules for m in ('polars', 'pandas', 'pandera')))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


# --- round trip -----------------------------------------------------------------------------

_A_PREFIXES = {"SH": ["600", "601", "603", "605", "688", "689", "900"],
               "SZ": ["000", "001", "002", "003", "200", "300", "301", "302"], "BJ": ["920"]}
_letters = st.text("ABCDEFGHIJKLMNOPQRSTUVWXYZ", min_size=1, max_size=2)


@st.composite
def symbols(draw):
    market = draw(st.sampled_from(MARKETS))
    if market in _A_PREFIXES:
        code = draw(st.sampled_from(_A_PREFIXES[market])) + draw(st.from_regex(r"[0-9]{3}", fullmatch=True))
        return Symbol(code, market)
    if market == "HK":
        n = draw(st.integers(1, 99999))
        return Symbol(str(n).zfill(4), "HK")
    if market == "PRIVATE":
        return Symbol(draw(st.from_regex(r"[a-z0-9][a-z0-9\-]{0,20}", fullmatch=True)), "PRIVATE")
    base = draw(st.from_regex(r"[A-Z][A-Z0-9]{0,5}", fullmatch=True))
    if re.fullmatch(r"(SH|SZ|BJ|HK)[0-9]+", base):
        base = "Q" + base[1:]
    cls = draw(st.none() | _letters)
    exchange = draw(st.sampled_from([None, *("NYSE", "NASDAQ", "AMEX")]))
    return Symbol(f"{base}-{cls}" if cls else base, "US", exchange)


def _renderable(sym: Symbol, provider: str) -> bool:
    if provider == "canonical":
        return True
    if sym.market == "PRIVATE":
        return False
    if provider == "yahoo" and sym.market == "BJ":
        return False
    return not (provider == "em" and sym.market == "US" and sym.exchange is None)


@settings(max_examples=400, deadline=None)
@given(symbols())
def test_round_trip(sym):
    assert re.fullmatch(SYMBOL_PATTERN, sym.canonical())
    for provider in PROVIDERS:
        if not _renderable(sym, provider):
            with pytest.raises(SymbolError):
                sym.render(provider)
            continue
        text = sym.render(provider)
        # akshare HK codes are bare; bare 5-digit numbers starting 1-7/9 need the hint (module docs).
        # East Money `105.HK` reads as Hong Kong 0105, so a US ticker "HK" cannot round-trip there.
        if provider == "akshare" and sym.market == "HK" and len(sym.code) == 5 and sym.code[0] not in "08":
            back = parse_symbol(text, market_hint="HK")
        elif provider == "em" and sym.code == "HK":
            continue
        else:
            back = parse_symbol(text)
        assert back == sym, (provider, text)
        if provider in ("wind", "ifind", "choice") and sym.exchange in ("NYSE", "NASDAQ"):
            assert back.exchange == sym.exchange
        if provider == "em":
            assert back.exchange == sym.exchange
        assert parse_symbol(sym.canonical()) == sym
