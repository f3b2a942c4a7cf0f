"""The model registry: versioned models with their signature, evaluation and lineage,
and the ``champion`` alias moved by promotion (of a version whose gate passed) and
rollback, every move kept with who made it and why.

>>> import tempfile, loopml
>>> from loopml import registry
>>> from sklearn.datasets import load_iris
>>> from sklearn.linear_model import LogisticRegression
>>> X, y = load_iris(return_X_y=True, as_frame=True)
>>> ws = loopml.init(tempfile.mkdtemp())
>>> def judged(model):  # evaluated and gated: what a version needs to be promoted
...     found = loopml.evaluate(model, X.assign(species=y), label="species", name="iris",
...                             workspace=ws)
...     loopml.gate(found, workspace=ws)  # no champion yet: nothing to compare with
...     return found
>>> models = [LogisticRegression(C=C, max_iter=500).fit(X, y) for C in (0.1, 1.0)]
>>> evaluations = [judged(model) for model in models]
>>> first = registry.register(models[0], "iris", evaluation=evaluations[0],
...                           signature_from=X, alias="champion", workspace=ws)
>>> second = registry.register(models[1], "iris", evaluation=evaluations[1], workspace=ws)
>>> registry.promote("iris@v2", reason="better on the holdout", workspace=ws).aliases
('champion',)
>>> registry.rollback("iris", reason="slower in production", workspace=ws).ref
'iris@v1'
>>> for move in registry.history("iris", workspace=ws)[:3]:  # newest first
...     print(f"{move.alias} v{move.from_version} -> v{move.to_version}: {move.reason}")
previous v1 -> v2: slower in production
champion v2 -> v1: slower in production
champion v1 -> v2: better on the holdout
>>> ws.close()
"""

from typing import TYPE_CHECKING

from loopml._lazy import lazy_exports

if TYPE_CHECKING:  # what type checkers see; at run time each name loads on first use
    from loopml._paging import Page as Page
    from loopml.registry._aliases import AliasMove as AliasMove
    from loopml.registry._aliases import history as history
    from loopml.registry._aliases import promote as promote
    from loopml.registry._aliases import rollback as rollback
    from loopml.registry._aliases import set_alias as set_alias
    from loopml.registry._copies import load_served as load_served
    from loopml.registry._detail import ModelDetail as ModelDetail
    from loopml.registry._detail import model_detail as model_detail
    from loopml.registry._diff import MetricChange as MetricChange
    from loopml.registry._diff import ModelDiff as ModelDiff
    from loopml.registry._diff import diff as diff
    from loopml.registry._lineage import Input as Input
    from loopml.registry._lineage import Lineage as Lineage
    from loopml.registry._lineage import Origin as Origin
    from loopml.registry._lineage import lineage as lineage
    from loopml.registry._register import register as register
    from loopml.registry._reproduce import reproduce as reproduce
    from loopml.registry._reproduction import Reproduction as Reproduction
    from loopml.registry._reproduction import StepCheck as StepCheck
    from loopml.registry._versions import ModelVersion as ModelVersion
    from loopml.registry._versions import RegisteredModel as RegisteredModel
    from loopml.registry._versions import get as get
    from loopml.registry._versions import list_models as list_models
    from loopml.registry._versions import models as models
    from loopml.registry._versions import versions as versions

__getattr__, __dir__, __all__ = lazy_exports(
    __name__,
    {
        "_aliases": ("AliasMove", "history", "promote", "rollback", "set_alias"),
        "_copies": ("load_served",),
        "_detail": ("ModelDetail", "model_detail"),
        "_diff": ("MetricChange", "ModelDiff", "diff"),
        "_lineage": ("Input", "Lineage", "Origin", "lineage"),
        "_register": ("register",),
        "_reproduce": ("reproduce",),
        "_reproduction": ("Reproduction", "StepCheck"),
        "_versions": (
            "ModelVersion",
            "RegisteredModel",
            "get",
            "list_models",
            "models",
            "versions",
        ),
        "loopml._paging": ("Page",),
    },
)
