"""Security symbols: one canonical spelling, and the spellings of every data vendor.

Canonical symbols (DESIGN.md, `schemas.SYMBOL_PATTERN`): `603019.SH`, `000977.SZ`, `920190.BJ`,
`0020.HK`, `IONQ.US`, `BRK-B.US`, `PRIVATE:brainco`.

`parse_symbol` reads what vendors and people write and returns a `Symbol`; `Symbol.render`
writes a symbol the way one vendor wants it. Anything that cannot be read raises `SymbolError`,
which names the value, says why, and (always, for parse errors) says what to write instead.

Input normalisation (in this order): ints are read as their decimal text; NFKC (full-width
`６０３０１９．ＳＨ` -> `603019.SH`), the ideographic full stop `。` -> `.`, BOM and zero-width
characters removed, surrounding whitespace trimmed, letters case-folded (`PRIVATE:` slugs to lower
case, everything else to upper case). Whitespace *inside* a symbol is an error.

Decisions (edge cases):

* Bare 6-digit codes go by board prefix. Shanghai 600 601 603 605 688 689 900; Shenzhen 000 001 002
  003 200 300 301 302 (302 is ChiNext's new prefix, e.g. 302132); Beijing 920, and the codes used
  before October 2025 (43xxxx, 83xxxx, 87xxxx) which become `920` + their last three digits
  (`872190` -> `920190.BJ`), whatever spelling they come in (`872190.BJ`, `bj830799`, `0.430047`).
  An explicit market that contradicts the board (`603019.SZ`, `0.603019`) is an error.
* Bare numbers of 1-5 digits are Hong Kong (`700` -> `0700.HK`), except a bare five-digit number
  that starts with 1-7 or 9 (`60301`): those are far more often an A-share code that lost a digit
  than an HK warrant, so they are an error unless written `60301.HK` or parsed with
  `market_hint="HK"`. Five-digit codes starting 0 or 8 (`00020`, `80737` RMB counters) are HK.
  HK codes are canonically at least four digits: `00020` / `20` -> `0020`, `80737` stays five.
  Note: a code whose zeros a spreadsheet dropped (`977` for `000977`) reads as HK unless the caller
  passes `market_hint="SZ"` (then short codes are zero-padded to six digits).
* US tickers: a letter then up to five letters/digits, plus an optional share class of one or two
  letters. The class is always canonically written with a hyphen (`BRK.B`, `BRK-B`, `BRK_B`,
  `BRK/B`, Sina `brk$b` -> `BRK-B.US`). A *bare* dotted class must be a single letter A-C
  (`BRK.B`, `BF.A`), so that foreign Yahoo spellings such as `VOD.L` or `SAP.DE` are errors rather
  than silently becoming US share classes. `.A` is therefore share class A, never Wind's NYSE
  American suffix. Codes that read as another market (`HK700`, `SH600000`) are not US tickers.
* Exchange suffixes: `.N` NYSE, `.O` / `.OQ` NASDAQ (Wind, iFinD, Choice, Reuters); East Money
  prefixes 105 NASDAQ, 106 NYSE, 107 NYSE American (AMEX). The exchange is kept on the Symbol but
  is not part of equality, hashing or ordering.
* `PRIVATE:slug`: the slug is lower-cased; it must be letters, digits and hyphens, starting with a
  letter or digit.
* `market_hint` (one of MARKETS, case-insensitive; `SS` means SH) is used only for *bare* codes,
  i.e. text that names no market itself; an explicit market in the text always wins. A bare code
  that cannot belong to the hinted market is an error (`IONQ` with hint HK).

Renderings (`Symbol.render(provider)`), A / BJ / HK / US:

=========  ==========  ==========  ==========  ===========================================
provider   603019.SH   920190.BJ   0020.HK     US (NYSE, NASDAQ, other/unknown exchange)
=========  ==========  ==========  ==========  ===========================================
canonical  603019.SH   920190.BJ   0020.HK     IONQ.US
wind       603019.SH   920190.BJ   0020.HK     IONQ.N, RGTI.O, else IONQ.US; class BRK_B.N
ifind      (as wind)
choice     (as wind)
akshare    603019      920190      00020       IONQ, BRK-B
sina       sh603019    bj920190    hk00020     gb_ionq, gb_brk$b
em         1.603019    0.920190    116.00020   106.IONQ, 105.RGTI, 107.X; class 106.BRK_B;
                                               unknown exchange -> SymbolError
yahoo      603019.SS   SymbolError 0020.HK     IONQ, BRK-B
=========  ==========  ==========  ==========  ===========================================

Wind/iFinD/Choice spell NYSE American `.A`, but `.A` reads back as share class A, so AMEX and
unknown-exchange US symbols render as canonical `X.US` there (it round-trips; the vendor may not
accept it). PRIVATE symbols render only as canonical; every other provider raises SymbolError.
Every rendering parses back to the same Symbol (tests/test_symbols.py checks this with
hypothesis), except that akshare's bare `60301`-style HK codes need `market_hint="HK"`.

Light module: standard library only.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field

__all__ = [
    "MARKETS", "PROVIDERS", "US_EXCHANGES", "Symbol", "SymbolError",
    "parse_symbol", "canonical", "try_parse",
]

MARKETS = ("SH", "SZ", "BJ", "HK", "US", "PRIVATE")
PROVIDERS = ("canonical", "wind", "ifind", "choice", "akshare", "sina", "em", "yahoo")
US_EXCHANGES = ("NYSE", "NASDAQ", "AMEX")

EXAMPLES = "`603019.SH`, `000977.SZ`, `920190.BJ`, `0020.HK`, `IONQ.US` or `PRIVATE:slug`"
_MARKET_NAMES = {"SH": "Shanghai", "SZ": "Shenzhen", "BJ": "Beijing", "HK": "Hong Kong", "US": "US",
                 "PRIVATE": "private"}

_BOARDS = {
    **dict.fromkeys(("600", "601", "603", "605", "688", "689", "900"), "SH"),
    **dict.fromkeys(("000", "001", "002", "003", "200", "300", "301", "302"), "SZ"),
    "920": "BJ",
}
_OLD_BJ = ("43", "83", "87")  # Beijing codes before October 2025: 920 + the last three digits
KNOWN_PREFIXES = tuple(sorted(_BOARDS)) + tuple(p + "xxxx" for p in _OLD_BJ)

# Market suffixes after a dot: (market, US exchange)
_SUFFIXES = {
    "SH": ("SH", None), "SS": ("SH", None), "XSHG": ("SH", None),
    "SZ": ("SZ", None), "XSHE": ("SZ", None),
    "BJ": ("BJ", None),
    "HK": ("HK", None), "XHKG": ("HK", None),
    "US": ("US", None), "N": ("US", "NYSE"), "O": ("US", "NASDAQ"), "OQ": ("US", "NASDAQ"),
}
# East Money market numbers (`1.603019`): 0 = Shenzhen or Beijing.
_EM = {"0": (("SZ", "BJ"), None), "1": (("SH",), None), "116": (("HK",), None),
       "105": (("US",), "NASDAQ"), "106": (("US",), "NYSE"), "107": (("US",), "AMEX")}
_EM_US = {"NASDAQ": "105", "NYSE": "106", "AMEX": "107"}
_WIND_US = {"NYSE": "N", "NASDAQ": "O"}

_US_RE = re.compile(r"([A-Z][A-Z0-9]{0,5})(?:([-._/$])([A-Z]{1,2}))?")
_US_CANON_RE = re.compile(r"[A-Z][A-Z0-9]{0,5}(?:-[A-Z]{1,2})?")
_OTHER_MARKET_RE = re.compile(r"(?:SH|SZ|BJ|HK)[0-9]+(?:-.*)?")
_SLUG_RE = re.compile(r"[a-z0-9][a-z0-9\-]*")
_DROP = dict.fromkeys(map(ord, "\ufeff\u200b\u200c\u200d\u2060"), None)


class SymbolError(ValueError):
    """A symbol that cannot be read or written. `str()` is `'value': reason`; `.hint` says what
    to write instead (None only when there is nothing better to say)."""

    def __init__(self, value: str, reason: str, hint: str | None = None):
        self.value, self.reason, self.hint = value, reason, hint
        super().__init__(f"{value!r}: {reason}")

    def __reduce__(self):
        return (type(self), (self.value, self.reason, self.hint))


@dataclass(frozen=True, order=True)
class Symbol:
    """A security: `code` in its canonical form for `market`.

    Construction validates: A-share codes are six digits on a board of that market (old Beijing
    codes are not canonical: parse them instead), HK codes are `0001`-`9999` or `10000`-`99999`,
    US codes are upper case with a hyphenated class, PRIVATE codes are lower-case slugs, and
    `exchange` is None or one of US_EXCHANGES and only for US. `exchange` takes no part in
    equality, hashing or ordering. Ordering is by (code, market).
    """

    code: str
    market: str
    exchange: str | None = field(default=None, compare=False)

    def __post_init__(self):
        code, market, exchange = self.code, self.market, self.exchange
        shown = f"{code}:{market}" if market == "PRIVATE" else f"{code}.{market}"
        if market not in MARKETS:
            raise SymbolError(shown, f"market `{market}` is not one of {', '.join(MARKETS)}",
                              f"write one of {', '.join(MARKETS)}")
        if exchange is not None and (market != "US" or exchange not in US_EXCHANGES):
            raise SymbolError(shown, f"exchange `{exchange}` is not valid for a {_MARKET_NAMES[market]} "
                              "symbol", f"exchange is one of {', '.join(US_EXCHANGES)}, for US symbols only")
        if not isinstance(code, str):
            raise SymbolError(str(code), "code must be text")
        if market in ("SH", "SZ", "BJ"):
            if not (len(code) == 6 and code.isascii() and code.isdigit()):
                raise SymbolError(shown, f"{_MARKET_NAMES[market]} codes are six digits", f"parse it: "
                                  f"parse_symbol({code!r}, market_hint={market!r})")
            new = _ashare_board(code, shown)  # raises for unknown boards
            if new != (code, market):
                raise SymbolError(shown, f"`{code}` is a {_MARKET_NAMES[new[1]]} code",
                                  f"write `{new[0]}.{new[1]}`")
        elif market == "HK":
            ok = code.isascii() and code.isdigit() and (
                (len(code) == 4 and code != "0000") or (len(code) == 5 and code[0] != "0"))
            if not ok:
                raise SymbolError(shown, "Hong Kong codes are four digits (zero-padded) or five",
                                  f"parse it: parse_symbol({code + '.HK'!r})")
        elif market == "US":
            if not _US_CANON_RE.fullmatch(code) or _OTHER_MARKET_RE.fullmatch(code):
                raise SymbolError(shown, "is not a canonical US ticker (a letter, up to five more letters or "
                                  "digits, optional share class after a hyphen)",
                                  f"parse it: parse_symbol({code + '.US'!r})")
        elif not _SLUG_RE.fullmatch(code):
            raise SymbolError(shown, "a PRIVATE slug is lower-case letters, digits and hyphens",
                              f"write `PRIVATE:{_slugify(code) or 'name'}`")

    def canonical(self) -> str:
        """`603019.SH`, `0020.HK`, `IONQ.US`, `BRK-B.US`, `PRIVATE:brainco`."""
        if self.market == "PRIVATE":
            return f"PRIVATE:{self.code}"
        return f"{self.code}.{self.market}"

    def render(self, provider: str) -> str:
        """This symbol as `provider` spells it; the table is in the module docstring.

        Unknown provider: ValueError listing PROVIDERS. A provider with no spelling for this
        symbol (PRIVATE anywhere but canonical, Beijing on Yahoo, a US symbol of unknown exchange
        for East Money): SymbolError.
        """
        p = provider.strip().lower() if isinstance(provider, str) else provider
        if p not in PROVIDERS:
            raise ValueError(f"unknown provider {provider!r}; providers: {', '.join(PROVIDERS)}")
        code, market = self.code, self.market
        if p == "canonical":
            return self.canonical()
        if market == "PRIVATE":
            raise SymbolError(self.canonical(), f"a private company has no {p} symbol",
                              "use the canonical `PRIVATE:slug` form")
        base, _, cls = code.partition("-")
        if p in ("wind", "ifind", "choice"):
            if market == "US":
                suffix = _WIND_US.get(self.exchange or "")
                return f"{base}_{cls}.{suffix}" if suffix and cls else (
                    f"{code}.{suffix}" if suffix else self.canonical())
            return self.canonical()
        if p == "akshare":
            return code.zfill(5) if market == "HK" else code
        if p == "sina":
            if market == "US":
                return "gb_" + (f"{base}${cls}" if cls else code).lower()
            return market.lower() + (code.zfill(5) if market == "HK" else code)
        if p == "em":
            if market == "US":
                if self.exchange is None:
                    raise SymbolError(self.canonical(), "East Money needs the US exchange, which is not known",
                                      "give the exchange (NYSE, NASDAQ or AMEX), e.g. parse `IONQ.N` or `105.RGTI`")
                return f"{_EM_US[self.exchange]}.{base}_{cls}" if cls else f"{_EM_US[self.exchange]}.{code}"
            if market == "HK":
                return f"116.{code.zfill(5)}"
            return f"{'1' if market == 'SH' else '0'}.{code}"
        # yahoo
        if market == "BJ":
            raise SymbolError(self.canonical(), "Yahoo Finance has no Beijing Stock Exchange symbols",
                              "take Beijing data from another provider (akshare, wind, em)")
        if market == "US":
            return code
        return f"{code}.{'SS' if market == 'SH' else market}"

    def __str__(self) -> str:
        return self.canonical()


def canonical(text: str) -> str:
    """`parse_symbol(text).canonical()`; raises SymbolError like parse_symbol."""
    return parse_symbol(text).canonical()


def try_parse(text: str) -> Symbol | None:
    """`parse_symbol(text)`, or None when it cannot be read (including None and non-text)."""
    try:
        return parse_symbol(text)
    except SymbolError:
        return None


def parse_symbol(text: str, market_hint: str | None = None) -> Symbol:
    """Read any known spelling of a symbol (see the module docstring for the rules).

    `market_hint` resolves bare codes only (`700` with "HK" -> `0700.HK`, `977` with "SZ" ->
    `000977.SZ`, `brainco` with "PRIVATE" -> `PRIVATE:brainco`). An unknown hint is a ValueError
    (a programming error, not bad data). Anything unreadable raises SymbolError naming the value,
    with a reason and a hint.
    """
    hint = _norm_hint(market_hint)
    if text is None:
        raise SymbolError("", "symbol is missing", f"write a symbol such as {EXAMPLES}")
    if isinstance(text, bool) or not isinstance(text, (str, int)):
        raise SymbolError(str(text), f"a symbol must be text, not {type(text).__name__}",
                          "read the column as text so leading zeros survive (`000977`, not 977.0)")
    raw = str(text)
    s = unicodedata.normalize("NFKC", raw).translate(_DROP).replace("。", ".").strip()
    if not s:
        raise SymbolError(raw, "symbol is empty", f"write a symbol such as {EXAMPLES}")
    if s[:8].upper() == "PRIVATE:":
        return _private(s[8:], raw)
    if any(ch.isspace() for ch in s):
        raise SymbolError(raw, "a symbol has no spaces inside it",
                          f"write `{''.join(s.split())}` if that is the symbol")
    u = s.upper()

    # Market first: sh603019, SH.603019, bj920190, hk00020, HK.00700, gb_ionq, US.AAPL
    m = re.fullmatch(r"(SH|SZ|BJ)\.?([0-9]+)", u)
    if m:
        return _ashare(m[2], raw, (m[1],))
    m = re.fullmatch(r"HK\.?([0-9]+)", u)
    if m:
        return _hk(m[1], raw)
    m = re.fullmatch(r"(?:GB_|US\.)(.+)", u)
    if m:
        return _us(m[1], raw, None, strict=False)

    # Market last: 603019.SH, 0020.HK, IONQ.N, BRK.B.US; then East Money 1.603019, 105.RGTI
    first: SymbolError | None = None
    m = re.fullmatch(r"(.+)\.([A-Z]+)", u)
    if m and m[2] in _SUFFIXES:
        market, exchange = _SUFFIXES[m[2]]
        try:
            return _with_market(m[1], raw, market, exchange)
        except SymbolError as e:
            first = e
    em = re.fullmatch(r"([0-9]{1,3})\.(.+)", u)
    if em and em[1] in _EM:
        markets, exchange = _EM[em[1]]
        try:
            if markets == ("US",):
                return _us(em[2], raw, exchange, strict=False)
            return _with_market(em[2], raw, markets, None)
        except SymbolError as e:
            raise first or e from None
    if first:
        raise first
    if m:
        body, suffix = m[1], m[2]
        if len(suffix) == 1 and suffix in "ABC" and re.fullmatch(r"[A-Z][A-Z0-9]{0,5}", body):
            return _us(u, raw, None, strict=False)  # BRK.B: share class
        raise SymbolError(raw, f"`.{suffix}` is not a known market suffix",
                          f"write {_example_for(body)}; known suffixes: "
                          + ", ".join(f"`.{k}`" for k in _SUFFIXES))
    if em:
        raise SymbolError(raw, f"`{em[1]}.` is not an East Money market number "
                          f"(known: {', '.join(_EM)})", f"write a symbol such as {EXAMPLES}")

    # Bare codes
    if hint == "PRIVATE":
        return _private(s, raw)
    if u.isascii() and u.isdigit():
        return _bare_number(u, raw, hint)
    if _US_RE.fullmatch(u):
        if hint not in (None, "US"):
            raise SymbolError(raw, f"`{u}` looks like a US ticker, not a {_MARKET_NAMES[hint]} code",
                              f"write the {_MARKET_NAMES[hint]} code, or `{u}.US` if it is a US stock")
        return _us(u, raw, None, strict=True)
    if any(unicodedata.name(ch, "").startswith("CJK") for ch in s):
        raise SymbolError(raw, "looks like a company name, not a symbol",
                          f"write its exchange code, e.g. {EXAMPLES}")
    raise SymbolError(raw, "is not a known symbol spelling", f"write a symbol such as {EXAMPLES}")


# --- helpers --------------------------------------------------------------------------------

def _norm_hint(hint):
    if hint is None:
        return None
    h = str(hint).strip().upper()
    h = "SH" if h == "SS" else h
    if h not in MARKETS:
        raise ValueError(f"unknown market_hint {hint!r}; use one of {', '.join(MARKETS)} or None")
    return h


def _slugify(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def _private(slug: str, raw: str) -> Symbol:
    slug = slug.strip().lower()
    if not slug:
        raise SymbolError(raw, "a PRIVATE symbol needs a slug after the colon",
                          "write e.g. `PRIVATE:brainco` (lower-case letters, digits, hyphens)")
    if not _SLUG_RE.fullmatch(slug):
        better = _slugify(slug)
        raise SymbolError(raw, "a PRIVATE slug is lower-case letters, digits and hyphens, starting with a "
                          "letter or digit", f"write `PRIVATE:{better}`" if better else
                          "write e.g. `PRIVATE:brainco`")
    return Symbol(slug, "PRIVATE")


def _example_for(body: str) -> str:
    if body.isascii() and body.isdigit():
        if len(body) == 6:
            try:
                return "`%s.%s`" % _ashare_board(body, body)
            except SymbolError:
                return f"a symbol such as {EXAMPLES}"
        return f"`{body}.HK` if it is Hong Kong" if len(body) <= 5 else f"a symbol such as {EXAMPLES}"
    return f"`{body}.US` if it is a US stock" if _US_RE.fullmatch(body) else f"a symbol such as {EXAMPLES}"


def _ashare_board(code: str, raw: str) -> tuple[str, str]:
    """(canonical code, market) of a six-digit A-share code by its board; old BJ codes -> 920."""
    market = _BOARDS.get(code[:3])
    if market:
        return code, market
    if code[:2] in _OLD_BJ:
        return "920" + code[3:], "BJ"
    raise SymbolError(raw, f"`{code}` starts with `{code[:3]}`, which is no known A-share board "
                      f"(known prefixes: {', '.join(KNOWN_PREFIXES)})",
                      "check the code; write Hong Kong codes as `0020.HK` and US tickers as `IONQ.US`")


def _ashare(digits: str, raw: str, markets: tuple[str, ...]) -> Symbol:
    """An A-share code said to be on one of `markets`."""
    names = " or ".join(_MARKET_NAMES[m] for m in markets)
    if len(digits) != 6:
        padded = digits.zfill(6)
        fix = None
        if len(digits) < 6:
            try:
                code, market = _ashare_board(padded, raw)
                if market in markets:
                    fix = f"`{code}.{market}` (if leading zeros were lost)"
            except SymbolError:
                pass
        raise SymbolError(raw, f"{names} codes have six digits, `{digits}` has {len(digits)}",
                          f"write {fix}" if fix else "check the code, e.g. `603019.SH`, `000977.SZ`, `920190.BJ`")
    code, market = _ashare_board(digits, raw)
    if market not in markets:
        raise SymbolError(raw, f"`{digits}` is a {_MARKET_NAMES[market]} code (board {digits[:3]}), "
                          f"not {names}", f"write `{code}.{market}`")
    return Symbol(code, market)


def _hk(digits: str, raw: str) -> Symbol:
    if not (digits.isascii() and digits.isdigit()):
        raise SymbolError(raw, "Hong Kong codes are digits", "write e.g. `0020.HK`")
    n = digits.lstrip("0")
    if not n:
        raise SymbolError(raw, "Hong Kong code 0 does not exist", "write e.g. `0020.HK`")
    if len(n) > 5:
        raise SymbolError(raw, f"Hong Kong codes have at most five digits, `{n}` has {len(n)}",
                          f"write an A-share code as `{n}.SH`/`.SZ`/`.BJ`" if len(n) == 6 else "write e.g. `0020.HK`")
    return Symbol(n.zfill(4), "HK")


def _us(body: str, raw: str, exchange: str | None, strict: bool) -> Symbol:
    m = _US_RE.fullmatch(body)
    if not m:
        raise SymbolError(raw, f"`{body}` is not a US ticker (a letter, up to five more letters or digits, "
                          "optional share class such as `-B`)", "write e.g. `IONQ.US` or `BRK-B.US`")
    base, sep, cls = m[1], m[2], m[3]
    if strict and sep == "." and not (len(cls) == 1 and cls in "ABC"):
        raise SymbolError(raw, f"`.{cls}` is not a known market suffix or US share class",
                          f"write `{base}-{cls}.US` if it is a US share class; a symbol such as {EXAMPLES}")
    code = f"{base}-{cls}" if cls else base
    if _OTHER_MARKET_RE.fullmatch(code):
        raise SymbolError(raw, f"`{code}` reads as a {_MARKET_NAMES[code[:2]]} code, not a US ticker",
                          f"write `{code[2:]}.{code[:2]}`" if code[:2] != "HK" else "write e.g. `0700.HK`")
    return Symbol(code, "US", exchange)


def _with_market(body: str, raw: str, market, exchange) -> Symbol:
    markets = market if isinstance(market, tuple) else (market,)
    if markets[0] in ("SH", "SZ", "BJ"):
        if not (body.isascii() and body.isdigit()):
            raise SymbolError(raw, f"`{body}` is not an A-share code (six digits)",
                              "write e.g. `603019.SH`, `000977.SZ`, `920190.BJ`")
        return _ashare(body, raw, markets)
    if markets[0] == "HK":
        return _hk(body, raw)
    return _us(body, raw, exchange, strict=False)


def _bare_number(digits: str, raw: str, hint: str | None) -> Symbol:
    if hint in ("SH", "SZ", "BJ"):
        if len(digits) > 6:
            raise SymbolError(raw, f"A-share codes have six digits, `{digits}` has {len(digits)}",
                              "write e.g. `603019.SH`")
        return _ashare(digits.zfill(6), raw, (hint,))
    if hint == "HK":
        return _hk(digits, raw)
    if hint == "US":
        raise SymbolError(raw, f"`{digits}` is a number, not a US ticker", "write e.g. `IONQ` or `IONQ.US`")
    if len(digits) == 6:
        code, market = _ashare_board(digits, raw)
        return Symbol(code, market)
    if len(digits) == 5 and digits[0] not in "08":
        raise SymbolError(raw, "a bare five-digit number is neither an A-share code (six digits) nor a usual "
                          "Hong Kong code", f"write `{digits}.HK` if it is Hong Kong; check the A-share code "
                          "if a digit is missing")
    if len(digits) <= 5:
        return _hk(digits, raw)
    raise SymbolError(raw, f"`{digits}` has {len(digits)} digits: A-share codes have six, Hong Kong at most five",
                      f"write a symbol such as {EXAMPLES}")
