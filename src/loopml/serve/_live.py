"""What a server serves now: each deployment with its versions loaded, kept current.

A :class:`Watcher` reads the workspace's deployments, resolves every model ref of their
policies to the version it points at now (``churn@champion`` -> ``churn@v4``), loads
the versions not loaded yet and hands the server a new :class:`Live` map, which it
installs with one assignment: a request sees the old map or the new one, never a mix.
A thread polls the store's change counter (one cheap read) and does this again when it
moved: an alias moved, a deployment changed, a version was registered.

Loading happens before the switch, one version at a time, while the old versions keep
answering; the old ones are released when no map and no request holds them any more
(drained as the requests in flight finish). A version that fails to load (its bytes do
not match their digest, its code does not import, its file is corrupt) leaves the
deployment as it was, and is recorded as an alert once.

Nothing here runs on a request: the request path reads the map in memory.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from loopml._kinds import ArtifactKind
from loopml.errors import LoopmlError, NotFound
from loopml.serve._batching import Batcher
from loopml.serve._calling import VersionCall
from loopml.serve._policy import Policy
from loopml.serve._routing import Router

if TYPE_CHECKING:
    from loopml.registry import ModelVersion
    from loopml.store import Deployment, MetadataStore
    from loopml.workspace import Workspace

log = logging.getLogger("loopml.serve")

#: the most rows a shadow version may have waiting; past it, copies are dropped (counted)
SHADOW_QUEUE_ROWS = 1024
FALLBACK_ALIAS = "previous"


@dataclass(frozen=True, eq=False)
class Loaded:
    """One version of a model, loaded: its record and the way to call it."""

    ref: str  # name@vN
    copy: str
    version: ModelVersion
    call: VersionCall


@dataclass(frozen=True, eq=False)
class Served:
    """A loaded version as one deployment serves it, with that deployment's batching."""

    loaded: Loaded
    batcher: Batcher

    @property
    def ref(self) -> str:
        return self.loaded.ref

    @property
    def number(self) -> int:
        return self.loaded.version.version


@dataclass(frozen=True, eq=False)
class Live:
    """A deployment as it is served now."""

    name: str
    revision: int
    policy: Policy
    arms: tuple[Served, ...]
    router: Router
    shadows: tuple[Served, ...] = ()
    fallback: Served | None = None
    plan: tuple[str, ...] = field(default=(), repr=False)  # the refs resolved, for reuse

    def by_version(self, number: int) -> Served | None:
        """The served version numbered ``number`` (an arm's, a shadow's or the fallback's)."""
        found: Served | None = None
        for served in self.versions:
            if served.number == number:
                found = served
                break
        return found

    @property
    def versions(self) -> list[Served]:
        """Every version this deployment serves, each once, arms first."""
        seen: dict[str, Served] = {}
        for served in (*self.arms, *self.shadows, *((self.fallback,) if self.fallback else ())):
            seen.setdefault(served.ref, served)
        return list(seen.values())


@dataclass(frozen=True)
class Failure:
    """A deployment that could not be (re)loaded, and why: it keeps what it served."""

    deployment: str
    message: str


class Watcher:
    """Keeps the server's :class:`Live` map current; see the module docstring.

    ``install(live, failures)`` is called with every new map. ``on_batch(deployment,
    ref)`` gives each batcher its metrics callback.
    """

    def __init__(
        self,
        workspace: Workspace,
        install: Callable[[Mapping[str, Live], Mapping[str, Failure]], None],
        *,
        poll_seconds: float = 0.2,
        on_batch: Callable[[str, str], Callable[[int, int], None]] | None = None,
    ) -> None:
        self._ws = workspace
        self._install = install
        self._poll = poll_seconds
        self._on_batch = on_batch
        self._live: dict[str, Live] = {}
        self._loaded: dict[tuple[str, str], Loaded] = {}
        self._failed: dict[tuple[str, str, str], str] = {}  # (ref, copy, digest) -> why
        self._seen_counter: int | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.refreshes = 0

    @property
    def store(self) -> MetadataStore:
        return self._ws.store

    def refresh(self) -> None:
        """Read the deployments and install what they serve now (loading what is new)."""
        self._seen_counter = self.store.change_counter()
        wanted = {record.name: record for record in self.store.deployments()}
        live: dict[str, Live] = {}
        failures: dict[str, Failure] = {}
        for name, record in wanted.items():
            try:
                live[name] = self._live_of(record)
            except LoopmlError as error:
                failures[name] = Failure(name, str(error))
                if name in self._live:
                    live[name] = self._live[name]
        # What is no longer in the map is released by dropping it: a version's calling
        # thread ends once the requests still holding it are answered (see _batching).
        self._live = live
        # keyed as _load keys them: by the copy the policy asks for (None: the default)
        in_use = {
            (s.ref, each.policy.copy or "default") for each in live.values() for s in each.versions
        }
        self._loaded = {key: value for key, value in self._loaded.items() if key in in_use}
        self.refreshes += 1
        self._install(dict(live), failures)

    def start(self) -> None:
        """Poll for changes in a background thread, until :meth:`stop`."""
        self._thread = threading.Thread(target=self._run, name="loopml-watch", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def _run(self) -> None:
        while not self._stop.wait(self._poll):
            try:
                if self.store.change_counter() != self._seen_counter:
                    self.refresh()
            except Exception:  # the store is down or busy: keep serving, look again later
                log.exception("could not read the deployments; serving what was loaded")

    # -- one deployment ------------------------------------------------------------------

    def _live_of(self, record: Deployment) -> Live:
        policy = Policy.from_dict(record.policy)
        arms = tuple(self._resolve(ref) for ref in (arm.model for arm in policy.arms))
        shadows = tuple(self._resolve(ref) for ref in policy.shadows)
        fallback = self._fallback_of(policy)
        plan = (*arms, "|", *shadows, "|", fallback or "", str(record.revision))
        old = self._live.get(record.name)
        if old is not None and old.plan == plan:
            return old
        copy = policy.copy
        batched = {ref: self._served(record.name, ref, copy, policy) for ref in dict.fromkeys(arms)}
        for ref in shadows:
            batched[ref] = self._served(record.name, ref, copy, policy, shadow=True)
        fallback_served = None
        if fallback is not None:
            try:
                fallback_served = batched.get(fallback) or self._served(
                    record.name, fallback, copy, policy
                )
            except LoopmlError as error:  # the versions it routes to still answer
                self._alert(
                    fallback,
                    f"deployment {record.name!r} serves without its fallback: {error}",
                    error,
                )
        weights = [arm.weight for arm in policy.arms]
        stats = self._bandit_stats(record.name, policy, old)
        router = Router(
            list(arms),
            weights,
            routing=policy.routing,
            epsilon=policy.epsilon,
            salt=record.name,
            stats=stats,
        )
        return Live(
            name=record.name,
            revision=record.revision,
            policy=policy,
            arms=tuple(batched[ref] for ref in arms),
            router=router,
            shadows=tuple(batched[ref] for ref in shadows),
            fallback=fallback_served,
            plan=plan,
        )

    def _bandit_stats(self, name: str, policy: Policy, old: Live | None) -> Any:
        """What a bandit's new router starts from: the totals every server shared, after
        handing over what the router it replaces saw since it last shared (a restarted
        server goes on learning where the deployment was). None for fixed routing."""
        if policy.routing == "fixed":
            return None
        if old is not None and old.policy.routing != "fixed":
            unsent = old.router.take_delta()
            if unsent:
                self.store.add_arm_stats(name, unsent)
        return self.store.arm_stats(name)

    def _resolve(self, ref: str) -> str:
        from loopml.registry._versions import resolve_model

        return resolve_model(self.store, ref, field="model").ref

    def _fallback_of(self, policy: Policy) -> str | None:
        """The policy's fallback, else the first arm's model's ``previous`` version."""
        from loopml.refs import parse

        if policy.fallback is not None:
            return self._resolve(policy.fallback)
        name = parse(policy.arms[0].model).name
        try:
            found = self._resolve(f"{name}@{FALLBACK_ALIAS}")
        except NotFound:
            return None
        return None if found in {self._resolve(arm.model) for arm in policy.arms} else found

    def _served(
        self, deployment: str, ref: str, copy: str | None, policy: Policy, *, shadow: bool = False
    ) -> Served:
        loaded = self._load(ref, copy)
        on_batch = self._on_batch(deployment, ref) if self._on_batch is not None else None
        batcher = Batcher(
            loaded.call,
            max_rows=policy.max_batch_rows,
            max_wait_us=policy.max_wait_us,
            max_queued_rows=SHADOW_QUEUE_ROWS if shadow else None,
            on_batch=on_batch,
        )
        return Served(loaded, batcher)

    def _load(self, ref: str, copy: str | None) -> Loaded:
        from loopml.registry import load_served
        from loopml.registry._versions import resolve_model

        key = (ref, copy or "default")
        if key in self._loaded:
            return self._loaded[key]
        digest = resolve_model(self.store, ref).digest
        failed = self._failed.get((*key, digest))
        if failed is not None:
            raise LoopmlError(failed)
        try:
            version, predictor = load_served(ref, copy=copy, workspace=self._ws)
            loaded = Loaded(ref, predictor.copy, version, VersionCall(predictor))
        except Exception as error:
            why = f"{ref} could not be loaded ({type(error).__name__}: {error})"
            self._failed[(*key, digest)] = why
            self._alert(ref, f"{why}; a deployment keeps the version it served, if any", error)
            raise LoopmlError(why) from error
        self._loaded[key] = loaded
        return loaded

    def _alert(self, ref: str, why: str, error: BaseException) -> None:
        from loopml.registry._versions import resolve_model
        from loopml.store import Severity

        evidence: dict[str, Any] = {"ref": ref, "error": type(error).__name__}
        try:
            artifact_id = resolve_model(self.store, ref).id
            self.store.create_alert(
                kind=ArtifactKind.MODEL,
                severity=Severity.ERROR,
                message=why,
                evidence=evidence,
                artifact_id=artifact_id,
            )
        except Exception:
            log.exception("could not record the alert: %s", why)
        log.error("%s", why)
