"""Words as search sees them, computed in Python so that both stores are fed the same words.

Each store's full-text parser splits text its own way (PostgreSQL's keeps `sonymusic.com` or
`co-founder` whole, FTS5 splits them); both index `terms` instead: the value's words, casefolded,
split on anything that is not a letter or digit, joined by spaces. Misspelt names are matched
by trigrams of `fuzzy_text` (words folded to ASCII), whose trigrams are pg_trgm's own on any
database locale; SQLite stores the same trigrams (`trigrams`) in a table of its own.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache

import snowballstemmer

_WORD = re.compile(r"[^\W_]+")
_ASCII_WORD = re.compile(r"[a-z0-9]+")

# PostgreSQL's 'english' configuration drops these (tsearch_data/english.stop); a query drops
# them too, on both stores, so that SQLite's FTS5 (which keeps every word) finds the same hits.
_ENGLISH_STOP = """
i me my myself we our ours ourselves you your yours yourself yourselves he him his
himself she her hers herself it its itself they them their theirs themselves what which
who whom this that these those am is are was were be been being have has had having do
does did doing a an the and but if or because as until while of at by for with about
against between into through during before after above below to from up down in out on
off over under again further then once here there when where why how all any both each
few more most other some such no nor not only own same so than too very s t can will
just don should now
"""
STOP_WORDS = frozenset(_ENGLISH_STOP.split())


@dataclass(frozen=True)
class Word:
    """A word of a value, casefolded, with its span (code-point offsets) in the value."""

    text: str
    start: int
    end: int


def words(value: str) -> list[Word]:
    """The value's words in order: maximal runs of letters and digits, casefolded."""
    return [Word(m.group().casefold(), m.start(), m.end()) for m in _WORD.finditer(value)]


def terms(value: str) -> str:
    """What the full-text index of both stores reads: the words, separated by spaces."""
    return " ".join(word.text for word in words(value))


def ascii_words(value: str) -> list[str]:
    """The value's words folded to ASCII (accents dropped); letters with no ASCII form, such
    as CJK, are left out (full-text search still finds those words)."""
    decomposed = unicodedata.normalize("NFKD", value.casefold())
    plain = "".join(c for c in decomposed if not unicodedata.combining(c))
    return _ASCII_WORD.findall(plain)


def fuzzy_text(value: str) -> str:
    """What misspellings are matched against: the ASCII words, separated by spaces."""
    return " ".join(ascii_words(value))


def trigrams(fuzzy: str) -> frozenset[str]:
    """pg_trgm's trigrams of a `fuzzy_text`: each word padded with two spaces before and one
    after, every three consecutive characters (`tests/test_search.py` checks them against
    `show_trgm` on PostgreSQL)."""
    found: set[str] = set()
    for word in fuzzy.split():
        padded = f"  {word} "
        found.update(padded[i : i + 3] for i in range(len(padded) - 2))
    return frozenset(found)


def similarity(left: frozenset[str], right: frozenset[str]) -> float:
    """pg_trgm's `similarity`: shared trigrams over all trigrams of both."""
    shared = len(left & right)
    union = len(left) + len(right) - shared
    return shared / union if union else 0.0


@cache
def stemmer(dialect: str) -> Callable[[str], str]:
    """The word forms each store's index reduces words to: PostgreSQL's 'english' is the
    Snowball English stemmer, FTS5's `porter` tokenizer the original Porter algorithm."""
    algorithm = "english" if dialect == "postgresql" else "porter"
    stem: Callable[[str], str] = snowballstemmer.stemmer(algorithm).stemWord
    return stem
