"""ESG letter grades: one ordered scale, rater suffixes removed, a 0..100 score.

The scale is the union of the letter scales Chinese and global raters publish
(绿发信评 AAA..C with +/- steps, 华证's nine grades, MSCI's seven), highest first:
`AAA > AA+ > AA > AA- > A+ > A > A- > BBB+ > ... > B- > CCC > CC > C`.
A rater suffix such as `pi` (绿发信评's "public information" mark) is dropped: `AA+pi` is `AA+`.
Data files may carry any lower-case suffix (`parse_grade`); a grade written in a rule must be on
the scale with at most a known suffix (`parse_grade_literal`, `RATER_SUFFIXES`).
"""

from __future__ import annotations

import re

GRADES_HIGH_TO_LOW: tuple[str, ...] = (
    "AAA", "AA+", "AA", "AA-", "A+", "A", "A-",
    "BBB+", "BBB", "BBB-", "BB+", "BB", "BB-", "B+", "B", "B-",
    "CCC", "CC", "C",
)
GRADES_LOW_TO_HIGH: tuple[str, ...] = tuple(reversed(GRADES_HIGH_TO_LOW))

_GRADE_RE = re.compile(r"^\s*(AAA|AA|A|BBB|BB|B|CCC|CC|C)([+-]?)\s*([a-z]*)\s*$")

#: a grade with an optional lower-case rater suffix; group 1 is the grade on the scale
GRADE_REGEX = (
    r"^\s*(" + "|".join(re.escape(g) for g in sorted(GRADES_HIGH_TO_LOW, key=len, reverse=True)) + r")\s*[a-z]*\s*$"
)


def parse_grade(raw: str | None) -> str | None:
    """`'AA+pi'` -> `'AA+'`; None for anything that is not a grade on the scale.

    Suffixes must be lower case letters (`pi`); the letter part is case sensitive, as raters
    publish it, so `'aa'` is not a grade.
    """
    if raw is None:
        return None
    m = _GRADE_RE.match(raw)
    if not m:
        return None
    grade = m.group(1) + m.group(2)
    return grade if grade in GRADES_HIGH_TO_LOW else None


#: Rater suffixes a grade may carry in a rule expression: 绿发信评's `pi` ("public information",
#: the report's `AA+pi` ... `A-pi`). Data files accept any lower-case suffix (`parse_grade`); a
#: rule's literal is checked strictly (`parse_grade_literal`), so a typo such as 'AA-x' is an error
#: instead of silently meaning AA-.
RATER_SUFFIXES: tuple[str, ...] = ("pi",)

_LITERAL_RE = re.compile(
    r"^(" + "|".join(re.escape(g) for g in sorted(GRADES_HIGH_TO_LOW, key=len, reverse=True)) + r")"
    r"(" + "|".join(re.escape(s) for s in RATER_SUFFIXES) + r")?$"
)


def parse_grade_literal(raw: str) -> str | None:
    """A grade written in a rule: `'AA+pi'` -> `'AA+'`; None for anything else.

    Stricter than `parse_grade`: a grade on the scale, exactly as published (upper case, no
    blanks), optionally followed by one of RATER_SUFFIXES. `'AA-x'`, `'AA-pix'`, `' AA'` are None.
    """
    m = _LITERAL_RE.match(raw)
    return m.group(1) if m else None


def grade_literals() -> tuple[str, ...]:
    """Every text `parse_grade_literal` accepts, highest grade first (for did-you-mean)."""
    return GRADES_HIGH_TO_LOW + tuple(g + s for s in RATER_SUFFIXES for g in GRADES_HIGH_TO_LOW)


#: a rating as some raters publish it: a 0-100 score with the grade in brackets, "85.98(AAA)"
SCORED_GRADE_REGEX = (
    r"^\s*(\d+(?:\.\d+)?)\s*\(\s*(" + "|".join(re.escape(g) for g in sorted(GRADES_HIGH_TO_LOW, key=len, reverse=True))
    + r")\s*[a-z]*\s*\)\s*$"
)

#: Each rater's own scale, highest first. esg_score puts a grade evenly on 0..100 *within its
#: rater's scale* (a 华证 "AAA" and a 绿发信评 "AAA" both score 100; a 华证 "C" scores 0).
#: Raters that publish a 0-100 score with the grade ("85.98(AAA)", 秩鼎) keep their own score.
#: A rater not listed here uses the full scale above.
RATER_SCALES: dict[str, tuple[str, ...]] = {
    "绿发信评": GRADES_HIGH_TO_LOW,
    "华证": ("AAA", "AA", "A", "BBB", "BB", "B", "CCC", "CC", "C"),
    "MSCI": ("AAA", "AA", "A", "BBB", "BB", "B", "CCC"),
}


def rater_score(rater: str | None, grade: str | None) -> float | None:
    """`grade` on 0..100 within `rater`'s scale (see RATER_SCALES); None for None or off-scale."""
    if grade is None:
        return None
    scale = RATER_SCALES.get(rater or "", GRADES_HIGH_TO_LOW)
    if grade not in scale:
        return grade_score(grade) if scale is not GRADES_HIGH_TO_LOW else None
    if len(scale) == 1:
        return 100.0
    return round(100.0 * (len(scale) - 1 - scale.index(grade)) / (len(scale) - 1), 4)


def grade_score(grade: str | None) -> float | None:
    """Map a grade onto 0..100 evenly by rank: AAA = 100, C = 0; None stays None."""
    if grade is None or grade not in GRADES_LOW_TO_HIGH:
        return None
    return round(100.0 * GRADES_LOW_TO_HIGH.index(grade) / (len(GRADES_LOW_TO_HIGH) - 1), 4)


def grade_dtype():
    """The polars Enum whose level order is the grade order (comparisons follow rank)."""
    import polars as pl

    return pl.Enum(list(GRADES_LOW_TO_HIGH))
