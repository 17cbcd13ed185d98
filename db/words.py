"""Words as search sees them, computed in Python so that both stores are fed the same words.

Each store's full-text parser splits text its own way (PostgreSQL's keeps `sonymusic.com` or
`co-founder` whole, FTS5 splits them) and each stemmer reduces words its own way (FTS5's Porter
makes `us` of `used`, Snowball `use`); both index `terms` instead: the value's words,
casefolded, split on anything that is not a letter or digit (or an accent's mark: `_WORD`),
each reduced once here (`reduced`,
Snowball English), joined by spaces. A query's words are reduced by the same function and
neither store reduces them again (PostgreSQL's 'simple' configuration, FTS5's `unicode61`
tokenizer), so both match the same words by construction. Words are read in their Unicode
compatibility form (NFKC), so a query typed in full-width letters finds what ASCII finds.
Misspelt names are matched by trigrams of `fuzzy_text` (words folded to ASCII), whose
trigrams are pg_trgm's own on any database locale; SQLite stores the same trigrams
(`trigrams`) in a table of its own.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

import snowballstemmer

# A word: letters and digits, and the combining marks Latin, Greek and Cyrillic letters
# take (the three blocks of them), so a word written decomposed (`Mu\u0308nchen`, as macOS
# may write it) is one word, as composed it is. A mark that composes with no letter (`e`
# and U+030D) parts the word, as any other character does: FTS5's tokenizer parts words at
# many such marks, where PostgreSQL's parser keeps them, and both stores must be fed words
# neither parts again.
_LATIN_MARKS = "\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff"
_WORD = re.compile(rf"[^\W_](?:[^\W_]|[{_LATIN_MARKS}])*")
_MARK = re.compile(rf"[{_LATIN_MARKS}]")
_PLAIN_WORD = re.compile(r"[^\W_]+")  # a word's letters and digits, parted at its marks
_ASCII_WORD = re.compile(r"[a-z0-9]+")
_STEMMER = snowballstemmer.stemmer("english")

# Common words, not searched on their own (a phrase keeps those between its other words): the
# ones PostgreSQL's 'english' configuration drops (tsearch_data/english.stop).
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
    """The value's words in order: maximal runs of letters and digits (and Latin marks,
    `_WORD`), casefolded and in their compatibility form (NFKC: a word in full-width letters
    is the word, a ligature its letters, a decomposed `é` the letter), each with the span it
    has in `value` as written. A run whose compatibility form holds other characters is the
    words of that form (`½` is `1` and `2`), each spanning it."""
    found: list[Word] = []
    for written in _WORD.finditer(value):
        marked = not written.group().isascii() and _MARK.search(written.group())
        # (before casefolding, which may take a mark off its letter again: `İ`, `ǰ`)
        if marked and _MARK.search(unicodedata.normalize("NFKC", written.group())):
            found += _run_words(_PLAIN_WORD.finditer(value, written.start(), written.end()))
        else:
            found += _run_words((written,))
    return found


def _compatible(text: str) -> str:
    return unicodedata.normalize("NFKC", text.casefold()).casefold()


def _run_words(runs: Iterable[re.Match[str]]) -> list[Word]:
    """The words of runs of letters and digits (and marks that compose with their letters)."""
    found: list[Word] = []
    for match in runs:
        run = match.group().casefold()
        if not run.isascii():  # (an ASCII word, as good as every one is, is as it is)
            run = _compatible(run)
            # casefolding may leave a mark on its letter (`İ` is `i` and a dot above), which
            # stays in the word as it did before; other characters part words
            if not all(c.isalnum() or unicodedata.combining(c) for c in run):
                found += (Word(w, *match.span()) for w in _WORD.findall(run))
                continue
        found.append(Word(run, match.start(), match.end()))
    return found


@lru_cache(maxsize=1 << 16)  # bounded: queries bring words of their own
def reduced(word: str) -> str:
    """The form a casefolded word is indexed and searched by, on both stores: its Snowball
    English stem (`used` and `uses` are `use`; `us` stays `us`)."""
    return _STEMMER.stemWord(word) or word


def terms(value: str) -> str:
    """What the full-text index of both stores reads: the words reduced, separated by spaces."""
    return " ".join(reduced(word.text) for word in words(value))


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
