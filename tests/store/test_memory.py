"""What is particular to the in-memory backend, memory://NAME: stores are shared by name
within one process, made only when asked, and usable in a forked child."""

from __future__ import annotations

import multiprocessing
import threading
import uuid
from pathlib import Path
from typing import Any

import pytest

import loopml
from loopml.errors import InvalidURL, StoreMissing
from loopml.store import MetadataStore, open_store


def test_stores_of_one_name_share_their_records(memory_url: str) -> None:
    with open_store(memory_url, create=True) as first, open_store(memory_url) as second:
        run = first.create_run(kind="train", name="fit")
        assert second.get_run(run.id) == run
        assert second.info().counts["runs"] == 1
    with open_store(memory_url) as after_closing:  # closing one drops nothing
        assert after_closing.get_run(run.id) == run


def test_stores_of_other_names_share_nothing(memory_url: str) -> None:
    other = f"{memory_url}-other"
    with open_store(memory_url, create=True) as first, open_store(other, create=True) as second:
        first.create_run(kind="train", name="fit")
        assert second.find_runs() == []
        assert second.info().url == other


def test_a_name_not_made_is_missing_until_made(memory_url: str) -> None:
    for _ in range(2):  # the refused open made nothing
        with pytest.raises(StoreMissing) as raised:
            open_store(memory_url)
    assert raised.value.store == memory_url
    assert "create=True" in str(raised.value)
    assert "only in the process that made it" in str(raised.value)
    with open_store(memory_url, create=True) as store:
        assert store.info().backend == "memory"
    with open_store(memory_url, create=True) as again:  # create on a made store opens it
        assert again.info().counts["runs"] == 0


@pytest.mark.parametrize(
    "url",
    [
        "memory://",
        "memory:///abs",
        "memory://a?x=1",
        "memory://a b",
        "memory://../up",
        "memory://" + "a" * 256,
    ],
)
def test_a_url_that_names_no_store_is_refused(url: str) -> None:
    with pytest.raises(InvalidURL, match=r"names no in-memory store; use memory://NAME"):
        open_store(url, create=True)


def test_a_workspace_on_a_memory_store(tmp_path: Path, memory_url: str) -> None:
    loopml.init(tmp_path, store_url=memory_url).close()
    with loopml.workspace(tmp_path) as ws:
        assert ws.store.info().backend == "memory"
        ws.store.create_run(kind="train", name="fit")
    with loopml.workspace(tmp_path) as ws:
        assert [run.name for run in ws.store.find_runs()] == ["fit"]


def _read_inherited(store: MetadataStore, run_id: str, queue: Any) -> None:
    """A forked child: read and write the store it inherited."""
    queue.put(store.get_run(run_id).name)
    store.create_run(kind="train", name="in-child")


def test_a_forked_child_uses_the_store_it_inherited_while_threads_write() -> None:
    url = f"memory://test-{uuid.uuid4().hex}"
    store = open_store(url, create=True)
    run = store.create_run(kind="train", name="fit")
    stop = threading.Event()

    def tag() -> None:  # holds the store's lock most of the time
        count = 0
        while not stop.is_set():
            count += 1
            store.set_run_tags(run.id, {"count": count})

    writer = threading.Thread(target=tag)
    writer.start()
    context = multiprocessing.get_context("fork")
    try:
        for _ in range(5):
            queue = context.Queue()
            child = context.Process(target=_read_inherited, args=(store, run.id, queue))
            child.start()
            assert queue.get(timeout=60) == "fit"
            child.join(timeout=60)
            assert child.exitcode == 0
    finally:
        stop.set()
        writer.join()
    assert [r.name for r in store.find_runs()] == ["fit"]  # the children wrote their copies
