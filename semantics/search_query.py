"""Reading a client's search text: web-search syntax, checked before any store sees it.

`refugee agency` finds values holding every word (in any form: `refugees` finds `refugee`,
both reduced to one form by db/words.py); `"social justice"` the words together, in order;
`-word` or `-"a phrase"` leaves out values holding them; `or` between parts finds either side.
Anything else (punctuation, `*`, `^`, `NEAR(`, `name:x`) is not syntax: words are the runs of
letters and digits (and their accents' marks: db/words.py), so no text can reach a store as
its own query syntax. Common words (`the`,
`of`) are not searched on their own; inside a phrase they must be there as they are. A plain
query of words also finds names it misspells. A text with nothing to search (no words, only
common ones, only `-word`s: what a search box holds while its user types) finds nothing.
What a keyboard types in full-width letters (U+FF01-U+FF5E, and its wide space) reads as the
same text in ASCII, syntax included.
"""

from __future__ import annotations

import re

from core.errors import BadUserInput
from db.mapping import MAX_SEARCH_LENGTH
from db.search import Alternative, Phrase, SearchQuery
from db.words import STOP_WORDS, fuzzy_text, reduced, words

# full-width forms of ASCII, and the ideographic space
FULL_WIDTH = {0xFF01 + n: 0x21 + n for n in range(0x5E)} | {0x3000: 0x20}
# A part: an optional minus, then a quoted phrase (the closing quote may be missing) or a run
# of anything but blanks and quotes.
_PART = re.compile(r'(-?)(?:"([^"]*)"?|([^\s"]+))')


def _phrase(raw: str) -> Phrase | None:
    """The words of a part, reduced, without the common words at its ends (inside a phrase
    they must be there); None when none is left."""
    found = [word.text for word in words(raw)]
    while found and found[0] in STOP_WORDS:
        found.pop(0)
    while found and found[-1] in STOP_WORDS:
        found.pop()
    return Phrase(tuple(map(reduced, found))) if found else None


def parse_search(text: str) -> SearchQuery:
    """The query a search text asks (none that finds anything where it asks for nothing that
    could be found); BAD_USER_INPUT when it is too long or holds control characters."""
    if len(text) > MAX_SEARCH_LENGTH:
        raise BadUserInput(
            f"`query` is longer than {MAX_SEARCH_LENGTH} characters", argument="query"
        )
    if any(ord(character) < 0x20 or ord(character) == 0x7F for character in text):
        raise BadUserInput(
            "`query` must not contain control characters such as NUL", argument="query"
        )
    # what a keyboard types in full-width letters is ASCII (a minus, `or`, quotes are syntax);
    # the rest is left to `words`, which reads each word as the index does
    text = text.translate(FULL_WIDTH)
    alternatives: list[Alternative] = []
    include: list[Phrase] = []
    exclude: list[Phrase] = []
    plain = True
    for match in _PART.finditer(text):
        minus, quoted, bare = match.groups()
        if quoted is None and bare.casefold() == "or" and not minus:
            alternatives.append(_alternative(include, exclude))
            include, exclude, plain = [], [], False
            continue
        plain = plain and quoted is None and not minus
        phrase = _phrase(quoted if quoted is not None else bare)
        if phrase is not None:
            (exclude if minus else include).append(phrase)
    alternatives.append(_alternative(include, exclude))
    # an alternative of no words to find (only `-word`s) finds nothing
    asked = tuple(a for a in alternatives if a.include)
    return SearchQuery(asked, fuzzy_text(text) if plain and len(asked) == 1 else "")


def _alternative(include: list[Phrase], exclude: list[Phrase]) -> Alternative:
    return Alternative(tuple(include), tuple(exclude))
