"""Floats as SQLite's SQL writes them as text, exactly.

SQLite's JSON functions write a float with 15 significant digits, and its printf with 17
(enough to read back exactly) misrounds the 17th digit of some floats from about 1e100 up
(SQLite 3.40 scales them by a double's 1e100, which is not exact). Such a float is written
divided by 2**SCALE_EXPONENT (exact: a power of two, and from SCALED_FROM up every quotient
is a normal float, which printf writes exactly) and marked; `read` multiplies it back.
PostgreSQL's float text is exact as it is.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Float, case, func, literal

SCALED_FROM = 1e90
SCALE_EXPONENT = 1000
SCALED_MARK = "p"


def written(column: Any) -> Any:
    """SQLite's text of a float column (NULL where it is NULL) that `read` reads exactly."""
    scaled = column * literal(2.0**-SCALE_EXPONENT, Float)  # (bound as a double: exact)
    return case(
        (
            func.abs(column) >= literal(SCALED_FROM, Float),
            func.printf("%!.17g", scaled) + SCALED_MARK,
        ),
        else_=func.printf("%!.17g", column),
    )


def read(text: str) -> float:
    """A float as `written` wrote it (or as any float's text)."""
    if text.endswith(SCALED_MARK):
        return float(text[: -len(SCALED_MARK)]) * 2.0**SCALE_EXPONENT
    return float(text)
