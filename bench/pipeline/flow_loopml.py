"""The benchmark's trivial 10-step linear pipeline in loopml: each step adds 1 to an int.

``ten`` calls the step ``add_one`` 10 times in a row (steps ``add_one``, ``add_one-2``,
... ``add_one-10``). The same pipeline is in ``flow_metaflow.py``. Run by
``bench/pipeline/run.py``, in process (``worker_loopml.py``) and as
``loopml run bench/pipeline/flow_loopml.py:ten [--param x0=N]``.
"""

from __future__ import annotations

import loopml

STEPS = 10


@loopml.step
def add_one(x: int) -> int:
    return x + 1


@loopml.pipeline
def ten(x0: int = 0):
    x = add_one(x0)
    for _ in range(STEPS - 1):
        x = add_one(x)
    return x
