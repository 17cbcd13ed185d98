"""A query's text as graphql-core's `Source`, but told by line and column in logarithmic time.

graphql-core locates every error it makes (parse, validation, each field error) by scanning
the text from its start to the error's position. A 20,000-character query of many line
breaks whose fields fail on every item of a list (1,150 field errors) held the event loop
8-10 s that way. Here the line breaks are found once, at the first error, and each position
is looked up among them: the same lines and columns, as graphql-core counts them.
"""

from __future__ import annotations

import re
from array import array
from bisect import bisect_left

from graphql import Source, SourceLocation

LINE_BREAK = re.compile(r"\r\n|[\n\r]")  # as graphql-core's lexer and `Source` count them


class LinedSource(Source):
    """A `Source` whose `get_location` bisects its line breaks, found at the first call.

    graphql-core asks it for an error of one place; an error of several (a response key
    selected twice) it locates with a scan of its own, which the bound on line breaks
    (operation/prepare.py) keeps short."""

    def __init__(self, body: str) -> None:
        super().__init__(body)
        self._breaks: tuple[array[int], array[int]] | None = None  # each break's start, end

    def get_location(self, position: int) -> SourceLocation:
        if self._breaks is None:
            found = list(LINE_BREAK.finditer(self.body))
            self._breaks = (
                array("q", (m.start() for m in found)),
                array("q", (m.end() for m in found)),
            )
        starts, ends = self._breaks
        before = bisect_left(starts, position)  # the breaks that start before the position
        line_start = ends[before - 1] if before else 0
        return SourceLocation(before + 1, position + 1 - line_start)
