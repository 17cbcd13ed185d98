"""Rows of a large store shaped like the seed graph, the same for the same seed number and size.

Ids are assigned here (1..n per table) so links can refer to rows without a round trip, and
`sort_key` / `search_text` come from db/keys.py by the map's name and search fields, exactly as
seeds/write.py computes them. Fan-out is skewed as in real data: a few companies run many
thousands of programs, most programs have a couple of partners and some have tens, partners
have a few locations, and locations are countries with their cities.
"""

from __future__ import annotations

import random
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from sqlmodel import SQLModel

from db.keys import derived_columns
from db.mapping import TYPES, NodeType
from db.models import SLUG_PATTERN

Row = dict[str, Any]

GENERATOR_VERSION = 3  # bump when the rows change, so cached stores are rebuilt (3: store_state)
DOMINANT_KIND = "PROGRAM"  # the kind the paging benchmark filters on (~88% of programs)
_OTHER_KINDS = ("FUND", "BENEFIT", "ARTIST_SUPPORT", "PHILANTHROPY", "CAMPAIGN", "FRAMEWORK")
_SLUG = re.compile(SLUG_PATTERN)

_SYLLABLES = [
    "ka",
    "la",
    "mo",
    "ri",
    "ta",
    "ne",
    "su",
    "vo",
    "del",
    "mar",
    "sol",
    "bra",
    "ven",
    "tor",
    "lin",
    "qua",
    "zan",
    "fel",
    "ora",
    "ist",
    "ber",
    "gan",
    "hol",
    "mir",
    "pet",
    "rav",
    "sen",
    "tul",
    "ul",
    "yor",
]
_THEMES = [
    "Music",
    "Education",
    "Arts",
    "Youth",
    "Climate",
    "Health",
    "Literacy",
    "Access",
    "Justice",
    "Equity",
    "Heritage",
    "Songwriting",
    "Wellbeing",
    "Community",
    "Mentoring",
    "Inclusion",
    "Scholarship",
    "Recovery",
    "Voices",
    "Futures",
]
_PROGRAM_WORDS = ("Fund", "Initiative", "Program", "Fellowship", "Grant", "Academy", "Project")
_ORG_WORDS = ("Foundation", "Alliance", "Trust", "Collective", "Network", "Institute", "Society")
_LABEL_WORDS = ("Records", "Music", "Sound", "Audio", "Entertainment", "Media")


@dataclass(frozen=True)
class Size:
    """Row counts; everything scales with the number of programs."""

    programs: int = 640_000

    @property
    def companies(self) -> int:
        return max(2, self.programs // 4_000)

    @property
    def partners(self) -> int:
        return max(5, self.programs // 12)

    @property
    def countries(self) -> int:
        return 200

    @property
    def cities_per_country(self) -> int:
        return 25


@dataclass
class Tables:
    """Generated rows per table name, in insertion order (parents before children)."""

    rows: dict[str, list[Row]]

    def total(self) -> int:
        return sum(len(rows) for rows in self.rows.values())


def _word(rng: random.Random) -> str:
    return "".join(rng.choice(_SYLLABLES) for _ in range(rng.randint(2, 3))).capitalize()


def slug_of(name: str, row_id: int) -> str:
    """A valid, unique slug: the name's words, then the row id (names repeat, ids do not)."""
    words = re.findall(r"[a-z0-9]+", name.casefold())
    slug = "-".join([*words[:6], str(row_id)])
    if not _SLUG.match(slug):
        raise ValueError(f"generated an invalid slug {slug!r}")
    return slug


def _keyed(entity: NodeType, row: Row) -> Row:
    assert entity.name_field is not None
    keys = derived_columns(row, name_field=entity.name_field, search_fields=entity.search_fields)
    return {**row, **keys}


def _locations(rng: random.Random, size: Size) -> tuple[list[Row], list[int], list[int]]:
    rows: list[Row] = []
    codes: list[str] = []
    letters = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    all_codes = [a + b for a in letters for b in letters]
    rng.shuffle(all_codes)
    country_ids: list[int] = []
    for code in all_codes[: size.countries]:
        name = f"{_word(rng)}{rng.choice(['', 'ia', 'land', 'stan', 'a'])}"
        row_id = len(rows) + 1
        rows.append({"id": row_id, "name": name, "kind": "COUNTRY", "country_code": code})
        codes.append(code)
        country_ids.append(row_id)
    city_ids: list[int] = []
    for country_id, code in zip(country_ids, codes, strict=True):
        for _ in range(size.cities_per_country):
            row_id = len(rows) + 1
            name = f"{rng.choice(['', 'New ', 'San ', 'Port ', 'Saint '])}{_word(rng)}"
            rows.append(
                {
                    "id": row_id,
                    "name": name,
                    "kind": "CITY",
                    "country_code": code,
                    "parent_id": country_id,
                }
            )
            city_ids.append(row_id)
    for row in rows:
        row["slug"] = slug_of(row["name"], row["id"])
    return [_keyed(TYPES["Location"], row) for row in rows], country_ids, city_ids


def _companies(rng: random.Random, size: Size, city_ids: list[int]) -> list[Row]:
    rows = []
    for row_id in range(1, size.companies + 1):
        name = f"{_word(rng)} {rng.choice(_LABEL_WORDS)}"
        rows.append(
            {
                "id": row_id,
                "slug": slug_of(name, row_id),
                "name": name,
                "description": f"{name} is a music company.",
                "founded_year": rng.randint(1890, 2020),
                "founded_in_id": rng.choice(city_ids),
            }
        )
    return [_keyed(TYPES["Company"], row) for row in rows]


def _company_weights(rng: random.Random, count: int) -> list[float]:
    """Zipf-like: the largest company runs tens of times more programs than the smallest."""
    weights = [1 / (rank**0.8) for rank in range(1, count + 1)]
    rng.shuffle(weights)
    return weights


def _programs(rng: random.Random, size: Size) -> list[Row]:
    companies = list(range(1, size.companies + 1))
    owners = rng.choices(companies, weights=_company_weights(rng, size.companies), k=size.programs)
    by_company: dict[int, list[int]] = {}
    rows = []
    for row_id, company_id in enumerate(owners, start=1):
        theme = rng.choice(_THEMES)
        name = f"{_word(rng)} {theme} {rng.choice(_PROGRAM_WORDS)}"
        siblings = by_company.setdefault(company_id, [])
        parent = rng.choice(siblings) if siblings and rng.random() < 0.03 else None
        siblings.append(row_id)
        rows.append(
            {
                "id": row_id,
                "slug": slug_of(name, row_id),
                "name": name,
                "kind": DOMINANT_KIND if rng.random() < 0.88 else rng.choice(_OTHER_KINDS),
                "description": (
                    f"Supports {theme.casefold()} work with partners."
                    if rng.random() < 0.4
                    else None
                ),
                "company_id": company_id,
                "parent_id": parent,
                "launched_year": rng.randint(1990, 2025) if rng.random() < 0.7 else None,
            }
        )
    return [_keyed(TYPES["Program"], row) for row in rows]


def _partners(rng: random.Random, size: Size) -> list[Row]:
    rows = []
    for row_id in range(1, size.partners + 1):
        name = f"{_word(rng)} {rng.choice(_THEMES)} {rng.choice(_ORG_WORDS)}"
        short = "".join(word[0] for word in name.split()) if rng.random() < 0.3 else None
        rows.append(
            {"id": row_id, "slug": slug_of(name, row_id), "name": name, "short_name": short}
        )
    return [_keyed(TYPES["Partner"], row) for row in rows]


def _links(
    rng: random.Random, left: int, right: int, counts: Iterator[int], names: tuple[str, str]
) -> list[Row]:
    """Link rows: for each left id, `next(counts)` distinct right ids."""
    rows: list[Row] = []
    for left_id in range(1, left + 1):
        for right_id in sorted(rng.sample(range(1, right + 1), min(right, next(counts)))):
            rows.append({"id": len(rows) + 1, names[0]: left_id, names[1]: right_id})
    return rows


def _partner_counts(rng: random.Random) -> Iterator[int]:
    """Most programs have one to three partners; one in twelve has tens."""
    while True:
        yield rng.randint(10, 40) if rng.random() < 1 / 12 else rng.randint(1, 3)


def _uniform_counts(rng: random.Random, low: int, high: int) -> Iterator[int]:
    while True:
        yield rng.randint(low, high)


def _documents() -> list[Row]:
    """One document, so that `impact-graph serve` sees a seeded store and never seeds over it."""
    title = "Generated benchmark graph"
    row = {
        "id": 1,
        "slug": "generated-benchmark-graph",
        "title": title,
        "publisher": "bench/generate.py",
        "source_file": "generated.txt",
        "text": "Rows generated for benchmarks; they cite nothing.",
    }
    return [_keyed(TYPES["Document"], row)]


def generate(seed: int, size: Size) -> Tables:
    """Every table's rows for `seed` and `size`; the same arguments give the same rows."""
    rng = random.Random(seed)  # noqa: S311 (reproducible data, not secrets)
    locations, _countries, cities = _locations(rng, size)
    companies = _companies(rng, size, cities)
    programs = _programs(rng, size)
    partners = _partners(rng, size)
    location_count = len(locations)
    return Tables(
        {
            "documents": _documents(),
            "locations": locations,
            "companies": companies,
            "programs": programs,
            "partners": partners,
            "program_partners": _links(
                rng,
                size.programs,
                size.partners,
                _partner_counts(rng),
                ("program_id", "partner_id"),
            ),
            "program_locations": _links(
                rng,
                size.programs,
                location_count,
                _uniform_counts(rng, 0, 2),
                ("program_id", "location_id"),
            ),
            "partner_locations": _links(
                rng,
                size.partners,
                location_count,
                _uniform_counts(rng, 1, 4),
                ("partner_id", "location_id"),
            ),
        }
    )


def columns(table: str, rows: Sequence[Row]) -> list[str]:
    """The table's columns the generated rows give, in the models' order; the rest take
    their defaults (a row's provenance is stated, its alternative names none)."""
    given = {key for row in rows for key in row}
    return [c.name for c in SQLModel.metadata.tables[table].columns if c.name in given]
