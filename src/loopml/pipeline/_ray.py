"""The ``ray`` runner: each step a Ray task, on a cluster at ``address`` or on a local Ray
started for the run and stopped after it.

A local Ray is bound to 127.0.0.1: by default Ray listens on every interface and
advertises the machine's outside address, which opens its ports (a dozen servers) to
the network for a run that never leaves this machine.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from loopml.errors import InvalidInput

# Read by Ray when it is imported; off, a local Ray picks the loopback address.
_LOOPBACK_ONLY = "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"


@contextmanager
def ray_pool(
    address: str | None,
    workers: int,
    *,
    echo: bool,
    function: Callable[[Any], Any],
    name_of: Callable[[Any], str],
) -> Iterator[Callable[[Any], Future[Any]]]:
    """Submit calls of ``function`` as Ray tasks, named by ``name_of(argument)``; a Ray
    started here (when no one has) is shut down after."""
    ray = _import_ray(
        loopback=address is None or _is_loopback(address), connecting=address is not None
    )
    started = not ray.is_initialized()
    if started:
        _connect(ray, address, workers, echo=echo)
    # max_calls=1: a fresh worker per task. A long-lived cluster's reused worker would
    # keep modules the pipeline imports as they were at its first task, so an edited
    # helper would run old code under a new fingerprint.
    remote = ray.remote(max_calls=1, num_cpus=1)(function)
    try:
        yield lambda argument: _unwrapped(
            remote.options(name=name_of(argument)).remote(argument).future(), ray
        )
    finally:
        if started:
            ray.shutdown()


def check_ray(address: str | None) -> None:
    """Before anything runs: Ray is installed, and a cluster answers at ``address``."""
    import importlib.util

    if importlib.util.find_spec("ray") is None:
        raise InvalidInput(_NOT_INSTALLED)
    if address is not None:
        _check_reachable(address)


_NOT_INSTALLED = "runner 'ray' needs Ray, which is not installed: pip install 'loopml[ray]'"


def _import_ray(*, loopback: bool, connecting: bool) -> Any:
    if loopback:
        os.environ.setdefault(_LOOPBACK_ONLY, "0")
    if connecting and "RAY_AUTH_MODE" not in os.environ and _token_available():
        # A cluster started with token authentication (Ray's default) refuses a driver
        # that does not send the token; Ray reads this once, when it is imported.
        os.environ["RAY_AUTH_MODE"] = "token"
    try:
        import ray
    except ImportError:
        raise InvalidInput(_NOT_INSTALLED) from None
    if loopback and os.environ[_LOOPBACK_ONLY] == "0":
        # Ray was imported before the variable was set (the pipeline file imports it):
        # the constant it read must say the same.
        from ray._private import ray_constants

        ray_constants.ENABLE_RAY_CLUSTER = False
    return ray


def _token_available() -> bool:
    if os.environ.get("RAY_AUTH_TOKEN"):
        return True
    path = os.environ.get("RAY_AUTH_TOKEN_PATH")
    return Path(path).is_file() if path else (Path.home() / ".ray" / "auth_token").is_file()


def _host_port(address: str) -> tuple[str, int] | None:
    """``host:port`` of a cluster's address; None for Ray's other forms (``auto``,
    ``ray://...``), which Ray resolves itself."""
    host, _, port = address.rpartition(":")
    if "://" in address or not host or not port.isdigit():
        return None
    return host.strip("[]"), int(port)


def _is_loopback(address: str) -> bool:
    import ipaddress

    parts = _host_port(address)
    if parts is None:
        return False
    if parts[0] == "localhost":
        return True
    try:
        return ipaddress.ip_address(parts[0]).is_loopback
    except ValueError:
        return False


def _check_reachable(address: str) -> None:
    """Fail at once on a cluster that is not there: Ray itself retries for minutes."""
    import socket

    parts = _host_port(address)
    if parts is None:
        return
    try:
        socket.create_connection(parts, timeout=5).close()
    except OSError as error:
        raise InvalidInput(
            f"no Ray cluster answers at {address} ({error.strerror or error}); start one "
            "with `ray start --head`, or leave the address out to start a local Ray"
        ) from None


def _connect(ray: Any, address: str | None, workers: int, *, echo: bool) -> None:
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")  # no reports sent out
    options: dict[str, Any] = {
        "include_dashboard": False,
        "configure_logging": False,
        "log_to_driver": echo,
    }
    if address is None:
        options["num_cpus"] = workers
        # Workers of a local Ray import what this process can: the project's own modules
        # that a step or an objective lives in are found on the same paths.
        paths = os.pathsep.join(path for path in sys.path if path)
        options["runtime_env"] = {"env_vars": {"PYTHONPATH": paths}}
    try:
        ray.init(address=address, **options)
    except (ConnectionError, TimeoutError, ValueError, RuntimeError) as error:
        where = f"the Ray cluster at {address}" if address else "a local Ray"
        fix = (
            "start one with `ray start --head`, or leave the address out to start a local Ray"
            if address
            else "see Ray's logs under /tmp/ray/session_latest/logs"
        )
        raise InvalidInput(f"cannot start or reach {where}: {error}; {fix}") from None


def _unwrapped(future: Future[Any], ray: Any) -> Future[Any]:
    """The task's own exception (a failed step's StepFailed), not Ray's wrapper of it."""
    out: Future[Any] = Future()

    def settle(done: Future[Any]) -> None:
        error = done.exception()
        if error is None:
            out.set_result(done.result())
        elif isinstance(error, ray.exceptions.RayTaskError) and isinstance(
            error.cause, BaseException
        ):
            out.set_exception(error.cause)
        else:
            out.set_exception(error)

    future.add_done_callback(settle)
    return out
