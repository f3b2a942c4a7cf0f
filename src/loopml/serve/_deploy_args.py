"""How the arguments of :func:`loopml.serve.deploy` become a checked
:class:`~loopml.serve.Policy` whose refs all point at registered versions now; each
error names the argument that holds the bad value (``split``, ``canary``, ``shadow``),
not the key of the policy it would have become."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from loopml.errors import InvalidInput
from loopml.refs import parse
from loopml.serve._policy import KeySource, Policy, same_ref
from loopml.serve._refs import resolve_version

if TYPE_CHECKING:
    from loopml.store import Artifact, MetadataStore


def policy_of(
    model: str | None,
    *,
    split: Mapping[str, float] | None,
    canary: tuple[str, float] | None,
    bandit: str | None,
    arms: Sequence[str],
    **options: Any,
) -> Policy:
    """The policy exactly one of ``model``, ``split`` or ``bandit`` (with ``arms``)
    chooses the arms of, with ``options`` (the other keywords of Policy)."""
    given = {"model": model, "split": split, "bandit": bandit}
    chosen = [argument for argument, value in given.items() if value is not None]
    if len(chosen) != 1:
        what = "none" if not chosen else " and ".join(chosen)
        raise InvalidInput(
            f"a deployment's versions are chosen by one of model, split or bandit (with "
            f"arms); got {what}: give e.g. model='churn@champion'",
            field="model",
        )
    if arms and bandit is None:
        raise InvalidInput(
            f"arms {list(arms)!r:.80} are the versions a bandit chooses among; give "
            "bandit='thompson' (or epsilon-greedy, ucb1) with them, or a split",
            field="arms",
        )
    if canary is not None and model is None:
        raise InvalidInput(
            "canary=(ref, weight) steps a new version in beside model=; give model= with "
            "it, or a split that names both with canary weights",
            field="canary",
        )
    _parseref_list(model=model, split=split, arms=arms, **options)
    if model is not None:
        if canary is None:
            return Policy.single(model, **options)
        ref, weight = _canary(canary)
        if same_ref(ref, parse(model)):
            raise InvalidInput(
                f"canary {ref!r} is the model itself ({model!r}); give the new version to "
                "step in, e.g. canary=('churn@challenger', 0.05)",
                field="canary",
            )
        if not 0.0 < weight < 1.0:
            raise InvalidInput(
                f"canary weight {weight!r} of {ref} must be above 0 and below 1 (its share "
                "of traffic; the model takes the rest); give e.g. 0.05",
                field="canary",
            )
        return Policy.split({model: 1.0 - weight, ref: weight}, canary=ref, **options)
    if split is not None:
        return Policy.split(split, **options)
    assert bandit is not None
    from loopml.serve._policy_checks import check_bandit

    refs = list(ref_list(arms, "arms"))
    check_bandit(bandit, refs, routing_field="bandit")
    return Policy.bandit(bandit, refs, **options)


def _parseref_list(
    *,
    model: str | None,
    split: Mapping[str, float] | None,
    arms: Sequence[str],
    shadows: Sequence[str],
    fallback: str | None,
    **_: Any,
) -> None:
    """Each ref given can be read, else InvalidInput naming the argument that holds it."""
    given = [("model", model), ("fallback", fallback)]
    given += [("split", ref) for ref in split or {}] + [
        ("arms", ref) for ref in ref_list(arms, "arms")
    ]
    given += [("shadow", ref) for ref in shadows]
    for field, ref in given:
        if ref is not None:
            parse(ref, field=field)


def _canary(canary: Any) -> tuple[str, float]:
    if not isinstance(canary, tuple | list) or len(canary) != 2:
        raise InvalidInput(
            f"canary {canary!r:.80} must be (ref, weight), e.g. ('churn@challenger', 0.05)",
            field="canary",
        )
    ref, weight = canary
    parse(ref, field="canary")
    if isinstance(weight, bool) or not isinstance(weight, int | float):
        raise InvalidInput(
            f"canary weight {weight!r:.40} of {ref!r} must be a number above 0 and below 1",
            field="canary",
        )
    return ref, float(weight)


def ref_list(given: Sequence[str], field: str) -> Sequence[str]:
    if isinstance(given, str):
        raise InvalidInput(
            f"{field} {given!r:.80} must be a list of refs, not one string: give [{given!r}]",
            field=field,
        )
    return given


def key_source(header: str | None, field: str | None) -> KeySource:
    if header is not None and field is not None:
        raise InvalidInput(
            f"the routing key is read from a header or an input field, not both (got "
            f"header {header!r} and field {field!r}); give one",
            field="key_field",
        )
    if field is not None:
        return KeySource.of_field(field)
    return KeySource() if header is None else KeySource(header=header)


def check_versions(
    store: MetadataStore,
    policy: Policy,
    *,
    model: str | None,
    split: Mapping[str, float] | None,
    canary: tuple[str, float] | None,
) -> None:
    """Every ref of ``policy`` points at a registered version now (and at one with an
    ONNX copy, when the policy serves that copy); the error names the argument."""
    from loopml.registry._versions import COPIES_KEY

    canary_ref = None if canary is None else canary[0]
    for ref in policy.refs:
        field = _argument(policy, ref, model=model, split=split, canary=canary_ref)
        version = resolve_version(store, ref, field=field)
        if field != "fallback":
            _check_key_field(policy.key.field, ref, version)
        if policy.copy == "onnx" and "onnx" not in (version.metadata.get(COPIES_KEY) or {}):
            raise InvalidInput(
                f"{ref} ({version.ref}) has no ONNX copy to serve; register it with onnx=rows, "
                "or deploy with copy='native' (or none: each version's default)",
                field="copy",
            )


def _check_key_field(key_field: str | None, ref: str, version: Artifact) -> None:
    """A routing key read from an input field must be one the version takes: a request
    carrying any other column is refused, so routing could never be sticky."""
    signature = version.metadata.get("signature")
    if key_field is None or not isinstance(signature, dict):
        return
    from loopml.models import Signature

    names = Signature.from_dict(signature).names
    if key_field not in names:
        shown = ", ".join(names[:8]) + (", ..." if len(names) > 8 else "")
        raise InvalidInput(
            f"key field {key_field!r} is not an input of {ref} ({version.ref}), whose inputs "
            f"are {shown}; a request sending it would be refused, so routing could never "
            "follow it: name one of its inputs, or read the key from a header (key_header)",
            field="key_field",
        )


def _argument(
    policy: Policy, ref: str, *, model: str | None, split: Any, canary: str | None
) -> str:
    """The argument of :func:`deploy` that gave ``ref``."""
    if ref == canary:
        return "canary"
    if ref == model:
        return "model"
    if any(ref == arm.model for arm in policy.arms):
        return "split" if split is not None else "arms"
    return "shadow" if ref in policy.shadows else "fallback"
