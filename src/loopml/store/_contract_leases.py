"""The store contract's leases: see :mod:`loopml.store._base` for the rules."""

from __future__ import annotations

import abc

from loopml.store._records import Lease


class LeaseStore(abc.ABC):
    """Leases: one holder at a time acts for a name (the loop controller of a
    workspace), until its lease runs out unrenewed.

    A lease is held while the store's clock is before its ``expires_at``. That clock
    is one for every caller: the database server's on PostgreSQL (callers on other
    hosts with clocks of their own agree on it), the clock of the host on SQLite
    (whose database file is opened on that host only), the process's in ``memory://``.
    A caller's own clock decides nothing: it renews well before ``expires_at`` (a
    third of the time to live is a common choice) and stops acting when a renewal
    fails.
    """

    @abc.abstractmethod
    def acquire_lease(self, name: str, holder: str, ttl_seconds: float) -> Lease | None:
        """Take the lease ``name`` for ``holder`` for ``ttl_seconds``, or renew it.

        When nobody holds it (never taken, released, or its holder's lease expired)
        ``holder`` takes it with the next ``token``; when ``holder`` holds it already
        it is renewed, keeping its token. None when another holder's lease stands; then
        nothing is written. Each call is one compare-and-set: of callers taking a free
        or expired lease at once, exactly one gets it.

        ``name`` is written as artifact names are; ``holder`` is any text of 1 to 255
        characters naming the caller (its host and process, say); ``ttl_seconds`` is a
        number of seconds above 0 and at most a year. Taking the lease moves
        :meth:`change_counter`; renewing it does not (see :meth:`renew_lease`).
        """

    @abc.abstractmethod
    def renew_lease(self, name: str, holder: str, ttl_seconds: float) -> Lease:
        """Extend ``holder``'s lease to ``ttl_seconds`` from now, keeping its token.

        :class:`~loopml.errors.Conflict`, writing nothing, when ``holder`` does not
        hold it: another took it, it was released, it was never taken, or it expired
        (even if nobody took it since: the holder cannot know that nobody acted in the
        meantime, so it takes the lease anew, with a new token, by
        :meth:`acquire_lease`).

        A renewal does not move :meth:`change_counter`: a holder renews every few
        seconds, and pollers of the counter would see a change at every renewal.
        """

    @abc.abstractmethod
    def release_lease(self, name: str, holder: str) -> bool:
        """End ``holder``'s lease now, so that another may take it at once; True when
        ``holder`` held it, False (writing nothing) when it did not, also when its
        lease had expired. Releasing moves :meth:`change_counter`. The token is kept:
        the next holder's is one more."""

    @abc.abstractmethod
    def lease(self, name: str) -> Lease | None:
        """The lease ``name`` as last taken or renewed, expired or not; None when it
        was never taken or was released. A name no lease can have is InvalidInput, as
        in the other calls."""
