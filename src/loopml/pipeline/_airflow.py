"""A pipeline as an Airflow DAG file: one task per step, each running its step through loopml.

Each task is a ``BashOperator`` that runs ``loopml run FILE.py:NAME --until STEP`` in
the workspace. ``--until`` runs the step and reuses the steps it needs from loopml's
cache (their own tasks ran them first), so every task is idempotent: a retry, a
cleared task or the next DAG run is a cache hit unless the step's code, parameters or
inputs changed. A step that fails makes ``loopml run`` exit 1, which fails the task.

The file is made from the traced graph, so it names the steps as they are when it is
exported; adding, removing or renaming a step needs a new export.

>>> import loopml
>>> @loopml.step
... def load(n: int) -> list:
...     return list(range(n))
>>> @loopml.step
... def total(values: list) -> int:
...     return sum(values)
>>> @loopml.pipeline
... def sums(n: int = 3):
...     return total(load(n))
>>> text = export_airflow(
...     sums, {"n": 5}, workspace_root=Path("/srv/project"), loopml_command="loopml"
... )
>>> _ = compile(text, "loopml_sums.py", "exec")
>>> [line.strip() for line in text.splitlines() if "dag_id=" in line or ">>" in line]
['dag_id="loopml_sums",', 'load >> total']
>>> print(next(line.strip() for line in text.splitlines() if "--until total" in line))
bash_command="cd /srv/project && loopml run ... --until total --param n=5",
"""

from __future__ import annotations

import inspect
import json
import keyword
import os
import re
import shlex
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from loopml.config import ARTIFACTS_ENV, STORE_ENV
from loopml.errors import InvalidInput
from loopml.pipeline._graph import Pipeline

START_DATE = "datetime.datetime(2024, 1, 1, tzinfo=datetime.timezone.utc)"
SCHEDULE_PRESETS = (
    "@once",
    "@continuous",
    "@hourly",
    "@daily",
    "@weekly",
    "@monthly",
    "@quarterly",
    "@yearly",
)
_AIRFLOW_ID = re.compile(r"[^A-Za-z0-9_.-]")  # Airflow's ids: letters, digits, _ . -
_CRON_FIELD = re.compile(r"^[0-9A-Za-z*/,?#LW-]+$")
# Module-level names of the generated file that a task variable must not shadow.
_RESERVED = {"annotations", "datetime", "DAG", "BashOperator", "ENV"}


def export_airflow(
    pipeline: Pipeline,
    params: Mapping[str, Any],
    *,
    workspace_root: Path,
    loopml_command: str,
    dag_id: str | None = None,
    schedule: str | None = None,
) -> str:
    """The text of an Airflow DAG file that runs ``pipeline`` with ``params``.

    ``loopml_command`` is the shell command that starts loopml on the Airflow worker
    (split and quoted like a shell would, e.g. ``/opt/venv/bin/loopml``);
    ``workspace_root`` the folder each task runs in. ``LOOPML_STORE_URL`` and
    ``LOOPML_ARTIFACTS_URL``, when set now, are passed on to the tasks. ``dag_id``
    defaults to ``loopml_<pipeline>``; ``schedule`` (a cron expression or a preset
    such as ``@daily``) to none: the DAG runs when triggered.
    """
    graph = pipeline.graph(**params)  # checks the parameters and the steps
    dag_id = check_dag_id(dag_id if dag_id is not None else default_dag_id(pipeline))
    if schedule is not None:
        check_schedule(schedule)
    try:
        command = shlex.split(loopml_command)
    except ValueError as error:
        raise InvalidInput(f"loopml command {loopml_command!r} cannot be split: {error}") from None
    if not command:
        raise InvalidInput("the loopml command is empty; give e.g. /opt/venv/bin/loopml")
    file = Path(pipeline.file).absolute()
    run = [*command, "run", f"{file}:{pipeline.name}"]
    options = [
        arg
        for name, value in params.items()
        for arg in ("--param", param_text(pipeline, name, value))
    ]
    env = {name: os.environ[name] for name in (STORE_ENV, ARTIFACTS_ENV) if os.environ.get(name)}

    task_ids = _unique([_AIRFLOW_ID.sub("_", node.name) for node in graph.nodes])
    variables = _unique([_identifier(node.name) for node in graph.nodes], taken=_RESERVED)
    var = {node.name: variable for node, variable in zip(graph.nodes, variables, strict=True)}

    given = " ".join(shlex.join(["--param", param_text(pipeline, n, v)]) for n, v in params.items())
    lines = [
        _comment(
            f"Airflow DAG for the loopml pipeline {pipeline.name}, made by `loopml export airflow`"
        ),
        _comment(f"from {file}:{pipeline.name}" + (f" with {given}." if given else ".")),
        "#",
        "# One task per step. Each task runs its step with `loopml run ... --until STEP`,",
        "# which takes the steps before it from loopml's cache, so re-running a task (a",
        "# retry, a cleared task, the next DAG run) is a cache hit unless the step's code,",
        "# parameters or inputs changed. A failing step exits non-zero and fails its task.",
        "# Adding, removing or renaming a step needs a new export.",
        "",
        "from __future__ import annotations",
        "",
        "import datetime",
        "",
        "try:",
        "    from airflow.sdk import DAG  # Airflow 3",
        "except ImportError:",
        "    from airflow import DAG  # Airflow 2",
        "try:",
        "    from airflow.providers.standard.operators.bash import BashOperator",
        "except ImportError:",
        "    from airflow.operators.bash import BashOperator",
        "",
    ]
    if env:
        lines += [
            "# Where loopml keeps its records and artifacts, as set when this file was made.",
            "ENV = {",
            *(f"    {_literal(name)}: {_literal(value)}," for name, value in env.items()),
            "}",
            "",
        ]
    lines += [
        "with DAG(",
        f"    dag_id={_literal(dag_id)},",
        f"    description={_literal(f'loopml pipeline {pipeline.name} ({file})')},",
        f"    schedule={_literal(schedule) if schedule is not None else 'None'},",
        f"    start_date={START_DATE},",
        "    catchup=False,",
        '    tags=["loopml"],',
        "):",
    ]
    for node, task_id in zip(graph.nodes, task_ids, strict=True):
        shell = " ".join(
            [
                f"cd {shlex.quote(str(workspace_root.absolute()))}",
                "&&",
                shlex.join([*run, "--until", node.name, *options]),
            ]
        )
        lines += [
            "    "
            + _comment(f"step {node.step.name}, called at {Path(node.file).name}:{node.line}"),
            f"    {var[node.name]} = BashOperator(",
            f"        task_id={_literal(task_id)},",
            f"        bash_command={_literal(_not_a_template(shell))},",
            *(["        env=ENV,", "        append_env=True,"] if env else []),
            "    )",
        ]
    edges = [
        (list(dict.fromkeys(var[up.name] for up in node.upstream())), var[node.name])
        for node in graph.nodes
        if node.upstream()
    ]
    if edges:
        lines.append("")
    for upstream, downstream in edges:
        before = upstream[0] if len(upstream) == 1 else f"[{', '.join(upstream)}]"
        lines.append(f"    {before} >> {downstream}")
    return "\n".join(lines) + "\n"


def default_dag_id(pipeline: Pipeline) -> str:
    return f"loopml_{_AIRFLOW_ID.sub('_', pipeline.name)}"


def check_dag_id(dag_id: str) -> str:
    if not dag_id or _AIRFLOW_ID.search(dag_id) or len(dag_id) > 250:
        raise InvalidInput(
            f"DAG id {dag_id!r} is not one Airflow takes: use 1 to 250 letters, digits, "
            "'_', '.' or '-', e.g. --dag-id loopml_churn"
        )
    return dag_id


def check_schedule(schedule: str) -> None:
    fields = schedule.split()
    if schedule in SCHEDULE_PRESETS or (
        len(fields) == 5 and all(_CRON_FIELD.match(field) for field in fields)
    ):
        return
    raise InvalidInput(
        f"schedule {schedule!r} is neither a cron expression of 5 fields nor one of "
        f"{', '.join(SCHEDULE_PRESETS)}; e.g. --schedule '0 3 * * *' for 03:00 every day"
    )


def param_text(pipeline: Pipeline, name: str, value: Any) -> str:
    """``value`` written so that ``--param name=TEXT`` reads it back as ``value``."""
    kind = _kind(pipeline, name)
    if isinstance(value, bool):
        text = "true" if value else "false"
    elif kind is str and isinstance(value, str):
        text = value
    elif kind in (int, float) and isinstance(value, int | float):
        text = repr(value)
    elif isinstance(value, str) and not _is_json(value):
        text = value  # read back as text, since it is not JSON
    else:
        text = json.dumps(value)
    return f"{name}={text}"


def _kind(pipeline: Pipeline, name: str) -> type | None:
    """The type ``--param`` reads a parameter's text as (as in ``loopml run``)."""
    parameter = pipeline.signature.parameters.get(name)
    if parameter is None:
        return None
    annotation, default = parameter.annotation, parameter.default
    if isinstance(annotation, type) and annotation is not inspect.Parameter.empty:
        return annotation
    if isinstance(annotation, str):
        found = {"int": int, "float": float, "bool": bool, "str": str}.get(annotation)
        if found is not None:
            return found
    if type(default) in (int, float, bool, str):
        return type(default)
    return None


def _is_json(text: str) -> bool:
    try:
        json.loads(text)
    except ValueError:
        return False
    return True


def _identifier(name: str) -> str:
    variable = re.sub(r"\W", "_", name, flags=re.ASCII)
    if not variable or variable[0].isdigit() or keyword.iskeyword(variable):
        variable = f"step_{variable}"
    return variable


def _unique(names: list[str], taken: set[str] | None = None) -> list[str]:
    """The names, each made distinct by a suffix where an earlier one (or ``taken``) has it."""
    seen = set(taken or ())
    unique = []
    for name in names:
        candidate, count = name, 1
        while candidate in seen:
            count += 1
            candidate = f"{name}_{count}"
        seen.add(candidate)
        unique.append(candidate)
    return unique


def _not_a_template(command: str) -> str:
    """The command, kept from Airflow's templating.

    ``bash_command`` is a Jinja template, and one ending in ``.sh`` or ``.bash`` is
    read as the name of a template file; a raw block keeps both from happening to
    paths and parameter values.
    """
    if any(mark in command for mark in ("{{", "{%", "{#")) or command.endswith((".sh", ".bash")):
        return "{% raw %}" + command + "{% endraw %}"
    return command


def _comment(text: str) -> str:
    """A one-line comment: line breaks in names and values would end it early."""
    return "# " + text.replace("\r", "\\r").replace("\n", "\\n")


def _literal(text: str) -> str:
    """A Python string literal for ``text``, in double quotes where that needs no escapes."""
    literal = repr(text)
    if literal.startswith("'") and '"' not in text:
        return f'"{literal[1:-1]}"'
    return literal
