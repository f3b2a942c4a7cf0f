"""Sharing the arm statistics of a server's routers through the metadata store, in the
background, so that the bandits of every worker and replica learn from all traffic.

Every interval (1 s by default) a daemon thread, for each deployment: takes what its
router saw since the last round (:meth:`Router.take_delta`), adds it to the store's
totals (:meth:`~loopml.store.MetadataStore.add_arm_stats`, increments the database
makes, so workers adding at once lose nothing), reads the totals back and hands them
to the router (:meth:`Router.merge`). A router is never more than about one interval
behind the other workers.

Requests never wait on this: a failing store is counted (:attr:`ArmSharing.errors`),
logged, and tried again next round with what was not added kept for it. What is lost:
a round's additions when a worker dies between two rounds, and (rarely) a round added
twice when the database committed it but the connection broke before saying so.

>>> from loopml.store import open_store
>>> from loopml.serve import ArmSharing, Router
>>> store = open_store("memory://doctest-arms", create=True)
>>> _ = store.set_deployment("churn", {"model": "churn@v1"})
>>> router = Router(["churn@v1", "churn@v2"], [1, 1], routing="ucb1", seed=0)
>>> router.reward(router.choose()[0], 1.0)
>>> sharing = ArmSharing(store, lambda: {"churn": router})
>>> sharing.share()
>>> sum(stats.pulls for stats in store.arm_stats("churn").values())
1
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping

from loopml.errors import InvalidInput, NotFound
from loopml.serve._routing import Router
from loopml.store import ArmStats, MetadataStore

__all__ = ["ArmSharing"]

_log = logging.getLogger("loopml.serve")

INTERVAL_BOUNDS = (0.01, 60.0)  # seconds


class ArmSharing:
    """A background thread that shares the statistics of ``routers()`` (the routers
    of this worker, by deployment name; called every round, so deployments may come
    and go) through ``store`` every ``interval`` seconds.

    Start it with :meth:`start` (or ``with``); :meth:`stop` ends it after a last round,
    so that what the routers saw is not left behind on a clean shutdown.
    """

    def __init__(
        self,
        store: MetadataStore,
        routers: Callable[[], Mapping[str, Router]],
        *,
        interval: float = 1.0,
    ) -> None:
        low, high = INTERVAL_BOUNDS
        if isinstance(interval, bool) or not isinstance(interval, int | float):
            interval = -1.0
        if not low <= interval <= high:
            raise InvalidInput(
                f"arm statistics interval {interval!r} must be from {low} to {high} "
                "seconds; 1 second is the default",
                field="interval",
            )
        self.store = store
        self.interval = float(interval)
        self._routers = routers
        self._pending: dict[str, dict[str, ArmStats]] = {}  # not yet added, by deployment
        self._round_lock = threading.Lock()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self.rounds = 0
        self.errors = 0
        self.last_error: BaseException | None = None

    def start(self) -> ArmSharing:
        """Start the thread (once)."""
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._run, name="loopml-arm-sharing", daemon=True
            )
            self._thread.start()
        return self

    def stop(self, timeout: float = 10.0) -> None:
        """End the thread, then share once more what the routers saw since."""
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout)
        self.share()

    def __enter__(self) -> ArmSharing:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def share(self) -> None:
        """One round now, for every router; never raises (errors are counted)."""
        with self._round_lock:
            try:
                routers = dict(self._routers())
            except Exception as error:
                self._failed("listing the routers", error)
                return
            for deployment, router in routers.items():
                self._share_one(deployment, router)
            for deployment in [d for d in self._pending if d not in routers]:
                self._add(deployment, self._pending.pop(deployment))  # a router gone since
            self.rounds += 1

    def _share_one(self, deployment: str, router: Router) -> None:
        try:
            delta = _summed(self._pending.pop(deployment, {}), router.take_delta())
        except Exception as error:  # a broken router must not stop the others
            self._failed(f"taking the statistics of deployment {deployment!r}", error)
            return
        if delta and not self._add(deployment, delta):
            return
        try:
            router.merge(self.store.arm_stats(deployment))
        except Exception as error:
            self._failed(f"reading the statistics of deployment {deployment!r}", error)

    def _add(self, deployment: str, delta: dict[str, ArmStats]) -> bool:
        """Add ``delta`` to the store's totals; if that fails, keep it for the next
        round (unless the deployment is gone, and its statistics with it)."""
        try:
            self.store.add_arm_stats(deployment, delta)
        except NotFound as error:
            self._failed(f"adding to deployment {deployment!r}", error)
            return False
        except Exception as error:
            self._pending[deployment] = delta
            self._failed(f"adding to deployment {deployment!r}", error)
            return False
        return True

    def _failed(self, doing: str, error: Exception) -> None:
        self.errors += 1
        first = self.last_error is None or type(self.last_error) is not type(error)
        self.last_error = error
        # the first of a run of like errors as a warning, the rest for debugging
        _log.log(
            logging.WARNING if first else logging.DEBUG,
            "arm statistics: %s failed (%d errors so far; tried again in %.3g s): %s",
            doing,
            self.errors,
            self.interval,
            error,
        )

    def _run(self) -> None:
        while not self._stopping.wait(self.interval):
            self.share()


def _summed(first: Mapping[str, ArmStats], second: Mapping[str, ArmStats]) -> dict[str, ArmStats]:
    summed = dict(first)
    for arm, stats in second.items():
        summed[arm] = summed.get(arm, ArmStats()) + stats
    return summed
