"""Worker processes for parallel trials, started so that they never import the
caller's main module.

``multiprocessing``'s ``spawn`` imports the main script again in every worker, so a
script that calls ``loopml.tune(parallel=2)`` at its top level, without an ``if
__name__ == "__main__":`` guard, starts the search again in each worker and breaks
the pool. Here each worker is ``python -m loopml.training._workers``: its job arrives
on stdin, pickled with cloudpickle (an objective defined in the script, a notebook or
a lambda travels by value), and its answer leaves on a pipe of its own, so that what
the objective prints still reaches the terminal. A worker whose stdin closes — its
parent gone, even by SIGKILL — exits at once rather than run on alone.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import subprocess
import sys
import threading
import traceback
from dataclasses import dataclass
from typing import IO, TYPE_CHECKING, Any

from loopml.errors import ConfigError, InvalidInput, LoopmlError, TuningFailed

if TYPE_CHECKING:
    from loopml.training._trials import TrialJob

_LENGTH = 8  # bytes of the length before each message on a worker's stdin
_PARENT_GONE = 75  # a worker's exit code when its parent went away


@dataclass
class _Worker:
    process: subprocess.Popen[bytes]
    answers: IO[bytes]
    job: TrialJob


def run_in_processes(jobs: list[TrialJob]) -> None:
    """Run each job in a worker process of its own, all at once; re-raise the first
    error a worker reports once every worker has ended."""
    messages = [_pickled(job) for job in jobs]  # refused before any worker starts
    path = pickle.dumps(list(sys.path))
    workers: list[_Worker] = []
    try:
        for job, message in zip(jobs, messages, strict=True):
            workers.append(_start(job, path, message))
        errors = [_answer(worker) for worker in workers]
    finally:
        for worker in workers:
            _stop(worker)
    for error in errors:
        if error is not None:
            raise error


def _pickled(job: TrialJob) -> bytes:
    try:
        import cloudpickle
    except ImportError:
        raise ConfigError(
            "parallel trials need cloudpickle, which sends the objective to the worker "
            "processes: pip install 'loopml[tune]'"
        ) from None
    try:
        return bytes(cloudpickle.dumps(job))
    except Exception as error:  # whatever the objective holds that cannot be pickled
        raise InvalidInput(
            f"the objective {getattr(job.objective, '__name__', job.objective)!r} cannot be "
            f"sent to worker processes ({type(error).__name__}: {error}); let it build what "
            "it needs from plain values (a path, a dataset ref) rather than hold it, or use "
            "parallel=1"
        ) from None


def _start(job: TrialJob, path: bytes, message: bytes) -> _Worker:
    read_end, write_end = os.pipe()
    try:
        process = subprocess.Popen(
            [sys.executable, "-m", "loopml.training._workers", str(write_end)],
            stdin=subprocess.PIPE,
            pass_fds=(write_end,),
        )
    except BaseException:
        os.close(read_end)
        raise
    finally:
        os.close(write_end)
    answers = os.fdopen(read_end, "rb")
    assert process.stdin is not None
    with contextlib.suppress(BrokenPipeError):  # it died at once: _answer says how
        for part in (path, message):
            process.stdin.write(len(part).to_bytes(_LENGTH, "big") + part)
        process.stdin.flush()
    return _Worker(process, answers, job)


def _answer(worker: _Worker) -> BaseException | None:
    """Wait for the worker; the error it reported or died of, if any."""
    with worker.answers:
        answer = worker.answers.read()
    code = worker.process.wait()
    if answer:
        try:
            status, payload = pickle.loads(answer)
        except Exception as unreadable:  # an error of a class this process cannot load
            return TuningFailed(
                f"trial worker {worker.job.worker} of study {worker.job.study!r} failed, and "
                f"its error could not be read here ({type(unreadable).__name__}: {unreadable})"
            )
        if status == "done":
            return None
        reported, text = payload
        if isinstance(reported, LoopmlError):
            return reported
        return TuningFailed(
            f"trial worker {worker.job.worker} of study {worker.job.study!r} failed outside "
            f"any trial: {text.strip().splitlines()[-1]}"
        )
    return TuningFailed(
        f"trial worker {worker.job.worker} of study {worker.job.study!r} ended with exit "
        f"code {code} before it finished (killed, or out of memory?); the trials it ran are "
        "kept, and tune() with the same name resumes the study"
    )


def _stop(worker: _Worker) -> None:
    if worker.process.poll() is None:
        worker.process.kill()
        worker.process.wait()
    if worker.process.stdin is not None:
        with contextlib.suppress(BrokenPipeError):
            worker.process.stdin.close()
    worker.answers.close()


# -- the worker's side -------------------------------------------------------------------


def _main() -> None:
    answers = os.fdopen(int(sys.argv[1]), "wb")
    stdin = sys.stdin.buffer
    sys.path[:] = pickle.loads(_message(stdin))  # before the job: it may name user modules
    job = pickle.loads(_message(stdin))
    threading.Thread(target=_exit_when_orphaned, args=(stdin,), daemon=True).start()
    from loopml.training._trials import run_trials

    try:
        finished = run_trials(job)
    except BaseException as error:
        text = traceback.format_exc()
        try:
            reply = pickle.dumps(("failed", (error, text)))
        except Exception:
            reply = pickle.dumps(("failed", (None, text)))
        answers.write(reply)
        answers.close()
        sys.exit(1)
    answers.write(pickle.dumps(("done", finished)))
    answers.close()


def _message(stream: IO[bytes]) -> bytes:
    size = int.from_bytes(_exactly(stream, _LENGTH), "big")
    return _exactly(stream, size)


def _exactly(stream: IO[bytes], size: int) -> bytes:
    data = stream.read(size)
    if len(data) != size:  # the parent is gone
        os._exit(_PARENT_GONE)
    return data


def _exit_when_orphaned(stdin: IO[bytes]) -> Any:
    """The parent keeps stdin open until this worker ends: end of file means it died.
    Read from the descriptor, not the buffered file: a thread blocked in the buffered
    file's read holds its lock, and the interpreter's shutdown, waiting for that lock,
    died with a "Fatal Python error" after every worker's last trial."""
    while os.read(stdin.fileno(), 1 << 16):
        pass
    os._exit(_PARENT_GONE)


if __name__ == "__main__":
    _main()
