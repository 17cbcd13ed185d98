"""Where a hit's matched values hold what was asked: spans a client can mark.

The store says which values matched; the spans are found here, in the value itself, with the
word forms both stores' indexes hold (db/words.py `reduced`, the function that made them), so
a value matched by its words holds them and offsets are code points into the value as the
field serves it. A value matched only as a misspelt name marks its words that look like the
query's words (trigram similarity), or all of it when none does alone.
"""

from __future__ import annotations

from dataclasses import dataclass

from db.search import Matched, Phrase, SearchQuery
from db.words import ascii_words, reduced, similarity, trigrams, words

# A word of a misspelt name is marked when at least this similar to a word of the query.
WORD_SIMILARITY = 0.3


@dataclass(frozen=True)
class Span:
    field: str
    index: int | None
    text: str
    start: int
    end: int


def highlights(query: SearchQuery, matched: tuple[Matched, ...]) -> list[Span]:
    """The marked spans of every matched value, in field order, then by offset."""
    phrases = [p for a in query.alternatives for p in a.include]
    spans: list[Span] = []
    seen: set[tuple[str, int | None]] = set()
    for value in matched:
        place = (value.field, value.position)
        if place in seen:  # matched by its words and as a name: its words mark it
            continue
        seen.add(place)
        found = _by_words(value.text, phrases)
        if value.fuzzy:  # matched as a misspelt name
            found += _by_likeness(value.text, query.fuzzy)
            if not found:  # like the query as a whole, and no word of it alone
                found = [(0, len(value.text))]
        for start, end in _merged(found):
            spans.append(Span(value.field, value.position, value.text[start:end], start, end))
    return spans


def _by_words(text: str, phrases: list[Phrase]) -> list[tuple[int, int]]:
    """Spans where a phrase's words (reduced) follow each other, in any of their forms."""
    found = words(text)
    forms = [reduced(word.text) for word in found]
    spans = []
    for phrase in phrases:
        size = len(phrase.words)
        for first in range(len(found) - size + 1):
            if tuple(forms[first : first + size]) == phrase.words:
                spans.append((found[first].start, found[first + size - 1].end))
    return spans


def _by_likeness(text: str, fuzzy: str) -> list[tuple[int, int]]:
    asked = [trigrams(word) for word in fuzzy.split()]
    return [
        (word.start, word.end)
        for word in words(text)
        if any(
            similarity(trigrams(" ".join(ascii_words(word.text))), a) >= WORD_SIMILARITY
            for a in asked
        )
    ]


def _merged(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Overlapping spans as one, in order."""
    merged: list[tuple[int, int]] = []
    for start, end in sorted(set(spans)):
        if merged and start < merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged
