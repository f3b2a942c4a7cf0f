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
    from loopml.registry._aliases import AliasMove, history, promote, rollback, set_alias
    from loopml.registry._copies import load_served
    from loopml.registry._diff import MetricChange, ModelDiff, diff
    from loopml.registry._lineage import Input, Lineage, Origin, lineage
    from loopml.registry._register import register
    from loopml.registry._reproduce import reproduce
    from loopml.registry._reproduction import Reproduction, StepCheck
    from loopml.registry._versions import ModelVersion, RegisteredModel, get, models, versions

_WHERE = {
    "AliasMove": "_aliases",
    "history": "_aliases",
    "promote": "_aliases",
    "rollback": "_aliases",
    "set_alias": "_aliases",
    "load_served": "_copies",
    "MetricChange": "_diff",
    "ModelDiff": "_diff",
    "diff": "_diff",
    "Input": "_lineage",
    "Lineage": "_lineage",
    "Origin": "_lineage",
    "lineage": "_lineage",
    "register": "_register",
    "Reproduction": "_reproduction",
    "StepCheck": "_reproduction",
    "reproduce": "_reproduce",
    "ModelVersion": "_versions",
    "RegisteredModel": "_versions",
    "get": "_versions",
    "models": "_versions",
    "versions": "_versions",
}


__all__ = [
    "AliasMove",
    "Input",
    "Lineage",
    "MetricChange",
    "ModelDiff",
    "ModelVersion",
    "Origin",
    "RegisteredModel",
    "Reproduction",
    "StepCheck",
    "diff",
    "get",
    "history",
    "lineage",
    "load_served",
    "models",
    "promote",
    "register",
    "reproduce",
    "rollback",
    "set_alias",
    "versions",
]

__getattr__, __dir__ = lazy_exports(__name__, _WHERE, __all__)
