"""Threads hand answers back to the event loop: every one arrives, in order, on the
loop's thread; a failing callback stops none of the others; a closed loop refuses; the
pipe is closed with its loop."""

from __future__ import annotations

import asyncio
import gc
import os
import threading

import pytest
import uvloop

from loopml.serve._handback import channel


@pytest.mark.parametrize("new_loop", [asyncio.new_event_loop, uvloop.new_event_loop])
def test_every_answer_of_every_thread_arrives_in_order_on_the_loop(new_loop):
    threads, each = 4, 2_000

    async def main() -> dict[int, list[int]]:
        loop = asyncio.get_running_loop()
        answers = channel(loop)
        got: dict[int, list[int]] = {n: [] for n in range(threads)}
        on_loop = threading.get_ident()
        done = loop.create_future()
        left = [threads * each]

        def arrive(thread: int, number: int) -> None:
            assert threading.get_ident() == on_loop
            got[thread].append(number)
            left[0] -= 1
            if not left[0]:
                done.set_result(None)

        def send(thread: int) -> None:
            for number in range(each):
                answers.put(arrive, (thread, number))

        workers = [threading.Thread(target=send, args=(n,)) for n in range(threads)]
        for worker in workers:
            worker.start()
        await asyncio.wait_for(done, 30)
        for worker in workers:
            worker.join()
        return got

    loop = new_loop()
    try:
        got = loop.run_until_complete(main())
    finally:
        loop.close()
    assert got == {n: list(range(each)) for n in range(threads)}


def test_answers_queued_before_the_loop_wakes_are_all_run_on_one_wake():
    async def main() -> list[int]:
        loop = asyncio.get_running_loop()
        answers = channel(loop)
        got: list[int] = []
        # queued while the loop is busy here: one byte written, every answer run
        for number in range(100):
            answers.put(got.append, (number,))
        assert os.read(answers._read, 4096) == b"\0"  # type: ignore[arg-type]
        answers._signalled = False  # as the loop's drain would, byte consumed above
        answers.put(got.append, (100,))
        await asyncio.sleep(0.05)
        return got

    assert asyncio.run(main()) == list(range(101))


def test_a_failing_callback_is_reported_and_the_others_still_run():
    async def main() -> tuple[list[int], list[str]]:
        loop = asyncio.get_running_loop()
        reported: list[str] = []
        loop.set_exception_handler(lambda _, context: reported.append(str(context["exception"])))
        answers = channel(loop)
        got: list[int] = []

        def fail() -> None:
            raise ValueError("a bug in a callback")

        def send() -> None:
            answers.put(got.append, (1,))
            answers.put(fail, ())
            answers.put(got.append, (2,))

        thread = threading.Thread(target=send)
        thread.start()
        thread.join()
        for _ in range(100):
            if len(got) == 2:
                break
            await asyncio.sleep(0.01)
        return got, reported

    got, reported = asyncio.run(main())
    assert got == [1, 2]
    assert reported == ["a bug in a callback"]


def test_a_closed_loop_refuses_and_its_pipe_is_closed_with_it():
    loop = uvloop.new_event_loop()
    answers = loop.run_until_complete(_channel_of_running_loop())
    descriptors = (answers._read, answers._write)
    assert all(os.fstat(d) for d in descriptors)  # type: ignore[arg-type]
    loop.close()
    with pytest.raises(RuntimeError, match="closed"):
        answers.put(print, ("never",))
    del loop
    gc.collect()
    for descriptor in descriptors:
        with pytest.raises(OSError, match="Bad file descriptor"):
            os.fstat(descriptor)  # type: ignore[arg-type]


async def _channel_of_running_loop():  # type: ignore[no-untyped-def]
    return channel(asyncio.get_running_loop())


def test_no_wake_up_is_lost_while_threads_wait_for_their_answers():
    """Threads that each wait for an answer before sending the next (a server's
    requests): a put that races the loop's drain must still wake it."""
    threads, each = 4, 3_000

    async def main() -> list[int]:
        loop = asyncio.get_running_loop()
        answers = channel(loop)
        counts = [0] * threads

        def send(thread: int) -> None:
            arrived = threading.Event()
            for _ in range(each):
                arrived.clear()
                answers.put(
                    lambda: (counts.__setitem__(thread, counts[thread] + 1), arrived.set()), ()
                )
                if not arrived.wait(10):
                    return  # a lost wake-up: the answer never ran

        workers = [threading.Thread(target=send, args=(n,)) for n in range(threads)]
        for worker in workers:
            worker.start()
        while any(worker.is_alive() for worker in workers):
            await asyncio.sleep(0.01)
        return counts

    assert uvloop.run(main()) == [each] * threads
