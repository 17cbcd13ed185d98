"""Numbers as a text writes them: "450", "1,200", "$6.5 million", "sixty", "seventy-five".

A figure's value rests on a quote only where the quote writes that number, and its qualifier
("more than", "nearly") only where the words just before that number say so (seeds/basis.py).
Only what English prose about amounts uses is read: numerals (with thousands separators and
decimals), number words below a thousand, and a scale word after either ("million").
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal

from db.mapping import FigureQualifier

_UNITS = [
    "zero",
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "ten",
    "eleven",
    "twelve",
    "thirteen",
    "fourteen",
    "fifteen",
    "sixteen",
    "seventeen",
    "eighteen",
    "nineteen",
]
_TENS = ["twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"]
WORDS = {word: value for value, word in enumerate(_UNITS)} | {
    word: 20 + 10 * step for step, word in enumerate(_TENS)
}
SCALES = {"thousand": 10**3, "million": 10**6, "billion": 10**9, "trillion": 10**12}
# The words just before a number that qualify it (lower case, as they end the text before it).
QUALIFIERS = {
    FigureQualifier.MORE_THAN: ("more than", "over", "in excess of", "upwards of"),
    FigureQualifier.NEARLY: ("nearly", "almost", "close to", "just under"),
}

_unit = "|".join(sorted(_UNITS[1:10], key=len, reverse=True))
_below_hundred = (
    rf"(?:{'|'.join(_TENS)})(?:-(?:{_unit}))?|{'|'.join(sorted(_UNITS, key=len, reverse=True))}"
)
_words = rf"(?:(?:a|{_unit})\s+hundred(?:\s+(?:and\s+)?(?:{_below_hundred}))?|{_below_hundred})"
_numeral = r"\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?"
NUMBER = re.compile(
    rf"(?<![\w.,-])(?:(?P<numeral>{_numeral})|(?P<words>{_words}))"
    rf"(?:\s+(?P<scale>{'|'.join(SCALES)}))?(?![\w-]|[.,]\d)",
    re.IGNORECASE,
)
CURRENCY = "$€£¥"


@dataclass(frozen=True)
class Written:
    """A number a text writes, and how the words just before it qualify it (None: not)."""

    value: Decimal
    qualifier: FigureQualifier | None


def numbers_in(text: str) -> Iterator[Written]:
    """Every number `text` writes, in order."""
    for match in NUMBER.finditer(text):
        if match["numeral"] is not None:
            value = Decimal(match["numeral"].replace(",", ""))
        else:
            value = Decimal(_words_value(match["words"].lower()))
        if match["scale"] is not None:
            value *= SCALES[match["scale"].lower()]
        yield Written(value, _qualifier_before(text[: match.start()]))


def _words_value(words: str) -> int:
    """`seventy-five` is 75; `a hundred and six` 106."""
    hundreds, _, rest = words.rpartition("hundred")
    total = 0
    if _:
        total = 100 * (1 if hundreds.strip() == "a" else WORDS[hundreds.strip()])
    rest = rest.strip().removeprefix("and").strip()
    for part in rest.split("-") if rest else ():
        total += WORDS[part]
    return total


def _qualifier_before(text: str) -> FigureQualifier | None:
    before = " ".join(text.rstrip().rstrip(CURRENCY).lower().split())
    for qualifier, phrases in QUALIFIERS.items():
        if any(before == p or before.endswith(f" {p}") for p in phrases):
            return qualifier
    return None
