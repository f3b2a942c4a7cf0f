"""Tracking: parameters, metrics, tags and artifacts of a run, from a pipeline step or a
plain script.

>>> import loopml, tempfile
>>> with loopml.init(tempfile.mkdtemp()) as ws:
...     with loopml.start_run("fit", workspace=ws, params={"C": 0.5}) as run:
...         for epoch in range(3):
...             loopml.log_metric("loss", 1.0 / (epoch + 1))
...         loopml.log_params(layers=2)
...     ws.store.latest_metrics([run.id])[run.id], run.run.params, run.run.status.value
({'loss': 0.3333333333333333}, {'C': 0.5, 'layers': 2}, 'succeeded')

Metric points are buffered and written by a background thread in batches (at the
latest 0.2 s after they were logged), and everything buffered is written when the
run ends, when the process exits — normally, by an uncaught exception or by SIGTERM —
and on :func:`flush`. Those process-wide hooks (atexit, ``sys.excepthook``, SIGTERM)
are installed by a script's first run; a process in strict mode
(:func:`loopml.strict_mode`: a server, a loop controller) gets none unless it
calls :func:`install_exit_hooks` itself.

:func:`search_runs` finds runs by a condition on their parameters, tags and latest
metrics, in an order, a page at a time (what ``loopml runs list`` prints).
"""

from loopml._paging import Page
from loopml.tracking._active import (
    ActiveRun,
    active_run,
    end_run,
    install_exit_hooks,
    start_run,
)
from loopml.tracking._detail import RunComparison, RunDetail, compare_runs, run_detail
from loopml.tracking._log import (
    flush,
    log_artifact,
    log_metric,
    log_metrics,
    log_param,
    log_params,
    set_tags,
)
from loopml.tracking._search import RunSummary, find_run, search_runs

__all__ = [
    "ActiveRun",
    "Page",
    "RunComparison",
    "RunDetail",
    "RunSummary",
    "active_run",
    "compare_runs",
    "end_run",
    "find_run",
    "flush",
    "install_exit_hooks",
    "log_artifact",
    "log_metric",
    "log_metrics",
    "log_param",
    "log_params",
    "run_detail",
    "search_runs",
    "set_tags",
    "start_run",
]
