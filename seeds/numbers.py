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
# a scale abbreviated after a numeral: "$30m", "$1.5bn", "2.5M", "30k", "$30 bln", "30 mn"
# ("m" alone only after a currency: "a 30m wall" is metres)
SHORT_SCALES = {"k": 10**3, "m": 10**6, "mn": 10**6, "mln": 10**6, "bn": 10**9, "bln": 10**9}
SPACED_SCALES = ("mn", "mln", "bn", "bln")
# What the words just before a number say of it (lower case, as they end the text before
# it). Phrases that bound it otherwise ("fewer than", "about") qualify it too: a figure given
# as exact, or "more than", does not rest on them.
QUALIFIERS: dict[FigureQualifier | str, tuple[str, ...]] = {
    FigureQualifier.MORE_THAN: ("more than", "over", "in excess of", "upwards of", "above"),
    FigureQualifier.NEARLY: ("nearly", "almost", "close to", "just under", "just shy of"),
    "otherwise": (
        "between",
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
_SIGN = "[$€£¥]"  # a currency's sign
_SEPARATOR = "[,\u00a0\u2009\u202f]"  # between thousands: a comma, or a no-break or thin space
# a currency between a qualifier and its number: "over $30", "almost US$60", "more than USD 30"
# (a sign may follow a word at once, "over$30"; a sign's prefix must begin a word:
# "overa$30" is not "over A$30")
_CURRENCY = re.compile(
    rf"(?:(?:(?<![a-z])(?:us|a|c|au|ca|hk|nz|sg))?{_SIGN}|(?<![a-z])(?:us \$|usd|eur|gbp|jpy))\s*$"
)
NEGATED = ("not", "never", "no")  # "not over 30" bounds it otherwise
# after a number: a bound of another kind ("30 or more", "30+")
BOUNDS_AFTER = re.compile(r"\s*(\+|or more|or so|or fewer|or less|plus\b)", re.IGNORECASE)
# around a number, words that make it part of another: a range ("5 to 10 million", "between
# 30 and 40"), a fraction ("1 1/2 million", "six and a half million", "a quarter of a million")
PART_AFTER = re.compile(
    rf"\s*(?:(?:to|-|\u2013|and|or)\s*{_SIGN}?\s*\d|\d*/\d|and\s+a\s+(?:half|quarter))"
    r"|\s+(?:m\b|halves\b|half\b|quarters?\b|thirds?\b)",
    re.IGNORECASE,
)
_ends = "|".join([*SCALES, *SHORT_SCALES])  # a number's end: a digit or a scale
PART_BEFORE = re.compile(
    rf"(?:(?:\d|\b(?:{_ends}))\s*(?:to|-|\u2013|and|or)\s*{_SIGN}?|\d/)\s*$", re.IGNORECASE
)
# "1 200": thousands parted by an ordinary space (as French prose writes them), or two
# numbers; a space is too common between two numbers to read it as a separator, so neither
# is read. (A bare numeral of one to three digits, a space or a line break, three digits.)
SPACED_AFTER = re.compile(r"[ \n]\d{3}(?!\d)")
SPACED_BEFORE = re.compile(r"(?<![\w.,/\-\u2212])\d{1,3}[ \n]$")
A_PART_BEFORE = re.compile(r"(?:half|quarters?|thirds?|of)\s+$", re.IGNORECASE)  # "of a million"
CONTEXT = 60  # characters either side of a number read for its qualifier or its parts

_word = "|".join(sorted([*WORDS, "hundred", *SCALES], key=len, reverse=True))
_scale = "|".join(SCALES)
_short = "|".join(sorted(SHORT_SCALES, key=len, reverse=True))  # "mn" before "m"
_numeral = rf"\d{{1,3}}(?:{_SEPARATOR}\d{{3}})+(?:\.\d+)?|\d+(?:\.\d+)?"
NUMBER = re.compile(
    rf"(?<![\w.,/\-\u2212])(?:"
    rf"(?P<numeral>{_numeral})"
    rf"(?>(?:(?P<short>{_short})|\s+(?P<scale>{_scale}|{'|'.join(SPACED_SCALES)}))?)"
    # after a bare numeral no hyphen or dash either: "5-10" is a range, "30-year" a compound
    r"(?(short)(?!\w)|(?(scale)(?!\w)|(?![\w/\-\u2013]|[.,]\d)))"
    rf"|(?>(?P<words>(?:a\s+(?=hundred|{_scale}))?(?:{_word})"
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
        before = text[max(0, match.start() - CONTEXT) : match.start()]
        after = text[match.end() : match.end() + CONTEXT]
        a_part = (match["words"] or "").lower().startswith("a ") and A_PART_BEFORE.search(before)
        if a_part or PART_BEFORE.search(before) or PART_AFTER.match(after):
            continue  # a range or a fraction: not this number
        if _spaced_thousands(match, before, after):
            continue
        value = _value(match, before)
        if value is not None:
            bound = BOUNDS_AFTER.match(after)
            qualifier = bound[1].lower() if bound else _qualifier_before(before)
            yield Written(value, qualifier)


def _spaced_thousands(match: re.Match[str], before: str, after: str) -> bool:
    """Whether the number is a group of spaced thousands: one to three digits before another
    group, or a group of three (whatever decimals or scale follow it) after one."""
    numeral = match["numeral"]
    if numeral is None:
        return False
    bare = numeral.isdigit() and len(numeral) <= 3 and not (match["short"] or match["scale"])
    if bare and SPACED_AFTER.match(after):
        return True
    return (
        re.match(r"\d{3}(?!\d)", numeral) is not None and SPACED_BEFORE.search(before) is not None
    )


def _value(match: re.Match[str], before: str) -> Decimal | None:
    if match["numeral"] is None:
        read = _words_value(match["words"].lower())
        return None if read is None else Decimal(read)
    value = Decimal(re.sub(_SEPARATOR, "", match["numeral"]))
    scale = match["short"] or match["scale"]
    if scale is None:
        return value
    if scale == "m" and not _CURRENCY.search(before.lower()):
        return None  # "30m" after no currency: metres, or minutes ("2.5M" is millions)
    # (None: a dotless i matched case-insensitively, "30 m\u0131llion": read as nothing)
    multiplier = SHORT_SCALES.get(scale.lower()) or SCALES.get(scale.lower())
    return None if multiplier is None else value * multiplier


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
        elif word in WORDS:
            value = WORDS[word]
            kind = "tens" if value >= 20 else "teens" if value >= 10 else "units"
            # after tens only units ("seventy-five"); after a hundred or a scale, any
            if last in ("units", "teens") or (last == "tens" and kind != "units"):
                return None
            group, last = group + value, kind
        else:  # (a long s matches `s` case-insensitively: not a word of WORDS)
            return None
    return total + group


def _qualifier_before(text: str) -> FigureQualifier | str | None:
    before = " ".join(text.lower().split())
    before = _CURRENCY.sub("", before).rstrip()
    for phrase, meaning in _PHRASES:
        if before.endswith(phrase) and not before[: -len(phrase)][-1:].isalnum():
            negation = before[: -len(phrase)].split()[-1:]
            if negation and negation[0] in NEGATED:  # "not over 30": bounded otherwise
                return f"{negation[0]} {phrase}"
            return meaning if isinstance(meaning, FigureQualifier) else phrase
    return None
