"""The controller's lease: one controller per workspace acts at a time.

A controller takes the store's lease ``loop-controller`` before a pass, renews it in
the background every third of its length while it works (a retraining may take longer
than the lease) and once more before each decision it records; a decision records the
lease's token (which grows each time the lease changes hands), so a controller that
stalled past its lease and came back can be told from the one that took over. A
controller that cannot renew (its lease ran out, another took it) stops at once, before
recording anything more; one killed leaves its lease to run out, and the next one goes
on from the records.
"""

from __future__ import annotations

import os
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from loopml._ids import new_id
from loopml.errors import Conflict

if TYPE_CHECKING:
    from loopml.store import Lease
    from loopml.workspace import Workspace

NAME = "loop-controller"
TTL_SECONDS = 900.0  # a retraining between two renewals may take this long


class ControllerLease:
    """The lease of the controller in this process, on ``ws``'s store."""

    def __init__(self, ws: Workspace, ttl_seconds: float = TTL_SECONDS) -> None:
        self.ws = ws
        self.ttl_seconds = ttl_seconds
        self.holder = f"{socket.gethostname()}:{os.getpid()}:{new_id()[-8:]}"  # random part
        self.held: Lease | None = None
        self._lost = False
        self._stop = threading.Event()

    def acquire(self) -> bool:
        """Take (or renew) the lease; False when another controller holds it."""
        self.held = self.ws.store.acquire_lease(NAME, self.holder, self.ttl_seconds)
        if self.held is not None:
            self._lost = False
        return self.held is not None

    @contextmanager
    def kept(self) -> Iterator[None]:
        """Renew the lease in the background while the block runs (it must be held)."""
        self._stop.clear()
        beat = threading.Thread(target=self._beat, name="loopml-lease", daemon=True)
        beat.start()
        try:
            yield
        finally:
            self._stop.set()
            beat.join()

    def _beat(self) -> None:
        while not self._stop.wait(self.ttl_seconds / 3):
            try:
                self.held = self.ws.store.renew_lease(NAME, self.holder, self.ttl_seconds)
            except Conflict:
                self._lost = True
                return

    def renew(self) -> int:
        """Renew the lease before acting; its token. Conflict when it was lost."""
        try:
            if self._lost:
                raise Conflict("lost in the background")
            self.held = self.ws.store.renew_lease(NAME, self.holder, self.ttl_seconds)
        except Conflict:
            self.held = None
            raise Conflict(
                f"this controller ({self.holder}) lost the workspace's lease: it ran out or "
                "another controller took it; it stopped before recording anything more"
            ) from None
        return self.held.token

    def release(self) -> None:
        if self.held is not None:
            self.ws.store.release_lease(NAME, self.holder)
            self.held = None

    def refusal(self) -> Conflict:
        """The error a controller that could not take the lease raises."""
        current = self.ws.store.lease(NAME)
        who = "another controller" if current is None else f"controller {current.holder}"
        until = "" if current is None else f" until {current.expires_at:%Y-%m-%d %H:%M:%S} UTC"
        return Conflict(
            f"{who} holds this workspace's loop lease{until}: only one controller acts at a "
            "time; stop it, or wait for its lease to run out"
        )
