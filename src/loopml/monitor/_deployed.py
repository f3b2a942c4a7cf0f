"""What a deployment named on the command line or in a call is: one the workspace has
(or had: a deleted deployment keeps its log), and whether its models give the class
probabilities a confidence is read from.

>>> import tempfile, loopml
>>> with tempfile.TemporaryDirectory() as folder, loopml.init(folder) as ws:
...     check_known(ws, "churn")
Traceback (most recent call last):
...
loopml.errors.NotFound: no deployment 'churn' in this workspace, and no prediction of it ...
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from loopml.errors import LoopmlError, NotFound

if TYPE_CHECKING:
    from loopml.workspace import Workspace


def check_known(ws: Workspace, name: str) -> None:
    """NotFound for a deployment the workspace has never had: no deployment of that
    name, and no prediction of it in the log (one deleted keeps its log)."""
    from loopml.serve import predictions

    try:
        ws.store.get_deployment(name)
        return
    except NotFound:
        pass
    if predictions(name, columns=["prediction_id"], workspace=ws).is_empty():
        raise NotFound(
            f"no deployment {name!r} in this workspace, and no prediction of it in the "
            "log; `loopml deployments list` shows the deployments"
        )


def regressors(ws: Workspace, name: str) -> list[str] | None:
    """The versions deployment ``name`` routes requests to now, when every one of them
    is a regressor by its signature (an output with no classes); None when one is not,
    or cannot be told (no such deployment now, or a version without a signature)."""
    from loopml.models._predictor import stored_signature
    from loopml.refs import resolve
    from loopml.serve import Policy

    try:
        arms = Policy.from_dict(ws.store.get_deployment(name).policy).arms
        found = []
        for arm in arms:
            version = resolve(ws.store, "model", arm.model)
            signature = stored_signature(version)
            output = None if signature is None else signature.output
            if output is None or output.classes is not None or output.type != "float":
                return None
            found.append(version.ref)
    except LoopmlError:
        return None
    return found
