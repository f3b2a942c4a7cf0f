"""Must hold: two processes promoting different versions of one model at the same moment
leave the aliases and their history consistent, on SQLite and on PostgreSQL.

Round after round, two real processes wait at a barrier and promote one version each,
both other than the champion. Both promotions must happen, one after the other: the
later one is the champion, the earlier one `previous`, and the history holds both as
an unbroken chain that replays to the aliases the store has."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from pathlib import Path

import pytest
from gated import judged
from sklearn.linear_model import LogisticRegression

import loopml
from loopml import registry
from loopml.registry import AliasMove
from loopml.testing.processes import processes

ROUNDS = 30
# Every wait is bounded: a process that fails or hangs breaks the barrier for the others.
WAIT_SECONDS = 90.0


def _promote_in_rounds(
    folder: str, versions: list[int], index: int, start: object, done: object
) -> None:
    """A child process: in each round, once both are ready, promote its version."""
    with loopml.workspace(folder) as ws:
        for number in range(ROUNDS):
            start.wait(WAIT_SECONDS)  # type: ignore[attr-defined]
            version = versions[(2 * number + index) % len(versions)]
            registry.promote(
                f"iris@v{version}", actor=f"process-{index}", reason=f"round {number}", workspace=ws
            )
            done.wait(WAIT_SECONDS)  # type: ignore[attr-defined]


@pytest.fixture
def folder(any_store_url: str, tmp_path: Path, fit: Callable[[float], LogisticRegression]) -> Path:
    """A workspace on each backend with four versions of `iris`, each with a passed gate."""
    with loopml.init(tmp_path, store_url=any_store_url) as ws:
        for C, score in ((0.1, 0.9), (1.0, 0.92), (10.0, 0.94), (100.0, 0.96)):
            registry.register(fit(C), "iris", evaluation=judged(ws, score), workspace=ws)
    return tmp_path


def test_two_processes_promoting_at_once_keep_aliases_and_history_consistent(
    folder: Path,
) -> None:
    versions = [1, 2, 3, 4]
    pairs = [
        {versions[(2 * n) % 4], versions[(2 * n + 1) % 4]} for n in range(ROUNDS)
    ]  # each round's two versions are the two that were not promoted in the round before
    context = processes("sklearn.linear_model", "gated")
    start, done = context.Barrier(3), context.Barrier(3)
    children = [
        context.Process(target=_promote_in_rounds, args=(str(folder), versions, index, start, done))
        for index in range(2)
    ]
    for child in children:
        child.start()
    try:
        with loopml.workspace(folder) as ws:
            for number in range(ROUNDS):
                start.wait(WAIT_SECONDS)
                done.wait(WAIT_SECONDS)
                champion = registry.get("iris@champion", workspace=ws).version
                previous = registry.get("iris@previous", workspace=ws).version
                # both promotions happened, one after the other
                assert {champion, previous} == pairs[number], (number, champion, previous)
    except BaseException:
        start.abort()  # the children stop waiting at once
        done.abort()
        raise
    finally:
        for child in children:
            child.join(timeout=WAIT_SECONDS)
            if child.is_alive():  # pragma: no cover - a hang, reported below
                child.kill()
    assert [child.exitcode for child in children] == [0, 0]

    with loopml.workspace(folder) as ws:
        oldest_first = registry.history("iris", workspace=ws)[::-1]
        final = {
            v.aliases[0]: v.version for v in registry.versions("iris", workspace=ws) if v.aliases
        }
    champions = [m for m in oldest_first if m.alias == "champion"]
    previous = [m for m in oldest_first if m.alias == "previous"]
    # no move lost: two promotions a round, each moving previous but the very first
    assert len(champions) == 2 * ROUNDS
    assert len(previous) == 2 * ROUNDS - 1
    for chain in (champions, previous):
        assert chain[0].from_version is None
        for before, after in itertools.pairwise(chain):
            assert after.from_version == before.to_version != after.to_version
    # each promotion's two moves are one change: previous takes the champion replaced
    for at, move in enumerate(oldest_first):
        if move.alias == "champion" and move.from_version is not None:
            paired = oldest_first[at - 1]
            assert (paired.alias, paired.to_version) == ("previous", move.from_version)
            assert (paired.actor, paired.reason) == (move.actor, move.reason)
    # round by round, the two champions are that round's two versions, one per process
    for number in range(ROUNDS):
        moves = champions[2 * number : 2 * number + 2]
        assert {m.to_version for m in moves} == pairs[number]
        assert {m.reason for m in moves} == {f"round {number}"}
        assert {m.actor for m in moves} == {"process-0", "process-1"}
    assert _replayed(oldest_first) == final


def _replayed(oldest_first: list[AliasMove]) -> dict[str, int]:
    """The aliases the history leads to, applied from the first move on."""
    state: dict[str, int] = {}
    for move in oldest_first:
        assert state.get(move.alias) == move.from_version
        if move.to_version is None:
            del state[move.alias]
        else:
            state[move.alias] = move.to_version
    return state
