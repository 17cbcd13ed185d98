"""Numbers as a text writes them: "450", "1,200", "$6.5 million", "$1.5bn", "sixty",
"fifteen hundred", "a hundred and six".

A figure's value rests on a quote only where the quote writes that number, and its qualifier
("more than", "nearly") only where the words just before that number say so (seeds/basis.py).
Only what English prose about amounts uses is read: numerals (with thousands separators and
decimals) and number words, each with a scale after it ("million", or "m", "bn", "k" joined
to a numeral). What it cannot read as one number it reads as none (a figure then says what
its value rests on), never as another: "30 million-strong" is 30,000,000, never 30.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal

from db.mapping import FigureQualifier

_UNITS = "zero one two three four five six seven eight nine ten eleven twelve thirteen"
_UNITS += " fourteen fifteen sixteen seventeen eighteen nineteen"
_TENS = "twenty thirty forty fifty sixty seventy eighty ninety"
WORDS = dict(zip(_UNITS.split(), range(20), strict=True)) | {
    word: 20 + 10 * step for step, word in enumerate(_TENS.split())
}
SCALES = {"thousand": 10**3, "million": 10**6, "billion": 10**9, "trillion": 10**12}
# a scale joined to a numeral: "$30m", "$1.5bn", "2.5M", "30k"
SHORT_SCALES = {"k": 10**3, "m": 10**6, "mn": 10**6, "bn": 10**9}
# What the words just before a number say of it (lower case, as they end the text before
# it). Phrases that bound it otherwise ("fewer than", "about") qualify it too: a figure given
# as exact, or "more than", does not rest on them.
QUALIFIERS: dict[FigureQualifier | str, tuple[str, ...]] = {
    FigureQualifier.MORE_THAN: ("more than", "over", "in excess of", "upwards of", "above"),
    FigureQualifier.NEARLY: ("nearly", "almost", "close to", "just under", "just shy of"),
    "otherwise": (
        "no more than",
        "not more than",
        "no fewer than",
        "not less than",
        "fewer than",
        "less than",
        "under",
        "below",
        "up to",
        "at least",
        "at most",
        "about",
        "around",
        "approximately",
        "roughly",
        "some",
        "an estimated",
        "more or less",
    ),
}
_PHRASES = sorted(
    ((phrase, meaning) for meaning, phrases in QUALIFIERS.items() for phrase in phrases),
    key=lambda pair: -len(pair[0]),  # "no more than" before "more than"
)
# a currency between a qualifier and its number: "over $30", "almost US$60", "more than USD 30"
_CURRENCY = re.compile(r"(?:(?<![a-z])[a-z]{0,3}[$€£¥]|(?<![a-z])(?:usd|eur|gbp|jpy))\s*$")

_word = "|".join(sorted([*WORDS, "hundred", *SCALES], key=len, reverse=True))
_scale = "|".join(SCALES)
_short = "|".join(sorted(SHORT_SCALES, key=len, reverse=True))  # "mn" before "m"
_numeral = r"\d{1,3}(?:[,\u2009\u202f]\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?"
NUMBER = re.compile(
    rf"(?<![\w.,\-\u2212])(?:"
    rf"(?P<numeral>{_numeral})(?>(?:(?P<short>{_short})|\s+(?P<scale>{_scale}))?)"
    # after a bare numeral no hyphen or dash either: "5-10" is a range, "30-year" a compound
    r"(?(short)(?!\w)|(?(scale)(?!\w)|(?![\w\-\u2013]|[.,]\d)))"
    # "a million", but not "half a million" (read as nothing)
    rf"|(?>(?P<words>(?:(?<!half\s)a\s+(?=hundred|{_scale}))?(?:{_word})"
    rf"(?:(?:\s+|-)(?:and\s+)?(?:{_word}))*))(?!\w)"
    r")",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Written:
    """A number a text writes, and how the words just before it qualify it (None: not; a
    phrase of QUALIFIERS["otherwise"]: otherwise)."""

    value: Decimal
    qualifier: FigureQualifier | str | None


def numbers_in(text: str) -> Iterator[Written]:
    """Every number `text` writes, in order (those it cannot read as one number left out)."""
    for match in NUMBER.finditer(text):
        if match["numeral"] is not None:
            value = Decimal(re.sub(r"[,\u2009\u202f]", "", match["numeral"]))
            scale = match["short"] or match["scale"]
            if scale is not None:
                value *= SHORT_SCALES.get(scale.lower()) or SCALES[scale.lower()]
        else:
            read = _words_value(match["words"].lower())
            if read is None:
                continue
            value = Decimal(read)
        yield Written(value, _qualifier_before(text[: match.start()]))


def _words_value(words: str) -> int | None:
    """`seventy-five` is 75, `fifteen hundred` 1,500, `a hundred and six` 106, `one thousand
    two hundred` 1,200; None for words that are not one number (`one two`, `hundred`)."""
    total, group, last, scale_before = 0, 0, "", 10**15
    for word in re.split(r"\s+|-", words):
        if word == "and":
            continue
        if word == "a":
            group, last = 1, "units"
        elif word == "hundred":
            if last not in ("units", "teens") or group >= 100:
                return None
            group, last = group * 100, "hundred"
        elif word in SCALES:  # each smaller than the one before: "a thousand million" is not
            if last in ("", "scale") or SCALES[word] >= scale_before:
                return None
            total, group, last = total + group * SCALES[word], 0, "scale"
            scale_before = SCALES[word]
        else:
            value = WORDS[word]
            kind = "tens" if value >= 20 else "teens" if value >= 10 else "units"
            # after tens only units ("seventy-five"); after a hundred or a scale, any
            if last in ("units", "teens") or (last == "tens" and kind != "units"):
                return None
            group, last = group + value, kind
    return total + group


def _qualifier_before(text: str) -> FigureQualifier | str | None:
    before = " ".join(text.lower().split())
    before = _CURRENCY.sub("", before).rstrip()
    for phrase, meaning in _PHRASES:
        if before.endswith(phrase) and not before[: -len(phrase)][-1:].isalnum():
            return meaning if isinstance(meaning, FigureQualifier) else phrase
    return None
