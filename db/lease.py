"""Version leases: how a server on PostgreSQL serves cached answers without a read per request,
and stays exact.

A cached answer may be served under a data version only if no seed committed another between
the request's arrival and its answer. On SQLite the wal-index says so without a statement
(db/local.py). On PostgreSQL, reading the version per request costs a round trip, most of a
cached answer's price. Instead, each read of the version grants its server a lease: for
`LEASE_SECONDS` from the moment the read was sent, that version may be served without asking
again, unless the read found a seed announced.

A seed that changes rows announces itself first (a `seeding` row in `store_state`, committed on
its own), and commits no sooner than `seed_wait_seconds()` after the announcement. Any lease was
granted by a read that either saw the announcement (no lease) or was sent before it, and so
lapses before the seed commits. The seed's own commit deletes the announcement with the rest of
the state (db/state.py `record`).

What it relies on:
- the clocks of the servers and the seeder run at the same rate to within `CLOCK_RATE_ERROR`
  (a server measures its lease on CLOCK_BOOTTIME, which keeps counting while its machine
  sleeps);
- every seed of the store runs this code (an older seeder neither announces nor waits);
- the server reads the primary: a replica may replay an announcement and the commit after it
  closer together than a lease lasts, so a server reading one (`DATABASE_READ_URL`, or any
  standby) grants no lease.
One seed of a store (a schema) at a time holds the seed lock, so an announcement is never
another live seed's to take away.
"""

from __future__ import annotations

import logging
import secrets
import time
from typing import Any

from sqlalchemy import Select, delete, exists, func, insert, literal, select, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from sqlmodel import col

from db.mapping import table_of
from db.models import StoreState
from db.state import DATA_VERSION, SEEDING

logger = logging.getLogger("impact_graph.db")

LEASE_SECONDS = 0.25
RENEW_AFTER_SECONDS = LEASE_SECONDS / 2  # under load, read again while the lease still holds
CLOCK_RATE_ERROR = 0.01  # NTP slews a clock by at most 0.05%
SEED_MARGIN_SECONDS = 0.01  # more than the seeder's sleep can wake early by (it wakes late)
WITHDRAW_WAIT = "5s"  # for a seed's transaction that its client could not roll back
SEED_LOCK = 0x1A9_5EED  # the first key of each seed's advisory lock, the store's schema the other
# Linux: a clock that also counts while the machine sleeps (elsewhere, the monotonic clock)
_LEASE_CLOCK = getattr(time, "CLOCK_BOOTTIME", time.CLOCK_MONOTONIC)


def seed_wait_seconds() -> float:
    """How long after its announcement a seed may commit: every lease sent before it lapsed."""
    return LEASE_SECONDS * (1 + CLOCK_RATE_ERROR) + SEED_MARGIN_SECONDS


def lease_clock() -> float:
    """Seconds on a clock that also counts while the machine sleeps: a lease held across a
    suspend has lapsed when the machine wakes."""
    return time.clock_gettime(_LEASE_CLOCK)


def lease_query() -> Select[Any]:
    """The data version, whether a seed is announced, and whether this is a standby (no row
    in a store never seeded: no lease)."""
    state = table_of(StoreState)
    seeding = state.alias("seeding")
    announced = exists().where(seeding.c.key == SEEDING)
    return select(state.c.value, announced, func.pg_is_in_recovery()).where(
        state.c.key == DATA_VERSION
    )


async def take_seed_lock(connection: AsyncConnection) -> None:
    """Wait for any other seed of this store (its schema) to end; held until this transaction
    ends."""
    keys = (literal(SEED_LOCK), func.hashtext(func.coalesce(func.current_schema(), "")))
    if await connection.scalar(select(func.pg_try_advisory_xact_lock(*keys))):
        return
    logger.info("waiting for another seed of this store to end")
    await connection.execute(select(func.pg_advisory_xact_lock(*keys)))


def new_token() -> int:
    """What tells this seed's announcement apart from any other's."""
    return secrets.randbits(62)


async def announce(engine: AsyncEngine, token: int) -> None:
    """Commit the announcement of a seed (replacing one a dead seed left)."""
    async with engine.begin() as connection:
        await connection.execute(delete(StoreState).where(col(StoreState.key) == SEEDING))
        await connection.execute(insert(StoreState).values(key=SEEDING, value=token))


async def withdraw(engine: AsyncEngine, token: int) -> None:
    """Take back this seed's announcement after it rolled back (leases resume at once). Where
    that fails, servers read the version per request until the next seed commits."""
    mine = (col(StoreState.key) == SEEDING, col(StoreState.value) == token)
    try:
        async with engine.begin() as connection:
            # behind the seed's own transaction, if it still holds the row: once it ends,
            # committed (the row is gone) or not (the row goes)
            await connection.execute(text(f"SET LOCAL lock_timeout = '{WITHDRAW_WAIT}'"))
            await connection.execute(delete(StoreState).where(*mine))
    except Exception:
        logger.warning("a seed's announcement could not be withdrawn", exc_info=True)
