"""The PyTorch flavor: a module's state dict and how to rebuild it, or TorchScript.

An ``nn.Module`` is stored as its state dict (``torch.save``), with the import path of
its class and its constructor arguments. The arguments are read from the instance,
as scikit-learn reads an estimator's parameters: each ``__init__`` parameter from the
attribute of the same name (``self.hidden = hidden``); a parameter with a default and
no such attribute keeps its default. Before anything is stored, the class is built
from those arguments on the ``meta`` device (no memory is used) and its state dict's
names and shapes are compared with the model's, so a model that would not load back
is refused now, not later in a server.

A TorchScript module (``torch.jit.script`` or ``torch.jit.trace``) is stored with
``torch.jit.save`` and needs no class to load. PyTorch has deprecated TorchScript in
favor of ``torch.export``; loopml silences that warning on its own save and load.

Loading reads the state dict with ``weights_only=True`` (no pickle code runs), onto
the CPU, and returns the module in eval mode.
"""

from __future__ import annotations

import inspect
import io
import sys
import warnings
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from loopml._usercode import is_user_file
from loopml.errors import InvalidInput
from loopml.models._base import (
    Encoded,
    Flavor,
    import_path,
    json_params,
    loaded,
    need,
    type_path,
)

_KEYWORDS = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)


class TorchFlavor(Flavor):
    name = "torch"
    extra = "torch"

    def matches(self, model: Any) -> bool:
        torch = loaded("torch")
        return torch is not None and isinstance(model, torch.nn.Module)

    def save(self, model: Any) -> Encoded:
        torch = need("torch", self.name, self.extra)
        libraries = {"torch": str(torch.__version__)}
        buffer = io.BytesIO()
        if isinstance(model, torch.jit.ScriptModule):
            with _quiet_torchscript():
                torch.jit.save(model, buffer)
            return Encoded(buffer.getvalue(), "torchscript", {}, libraries)
        cls = type(model)
        path = type_path(cls)
        if cls.__module__ == "__main__" or "<locals>" in cls.__qualname__:
            raise InvalidInput(
                f"torch module {path} cannot be saved: another process cannot import its "
                "class to rebuild it; define the class at the top level of a module, or "
                "save torch.jit.script(model)"
            )
        kwargs = _init_kwargs(model)
        state = model.state_dict()
        _check_rebuild(torch, cls, kwargs, state, path)
        torch.save(state, buffer)
        facts = {"class": path, "init_kwargs": kwargs}
        file = getattr(sys.modules.get(cls.__module__), "__file__", None) or ""
        code = (path,) if is_user_file(file) else ()
        return Encoded(buffer.getvalue(), "torch-state-dict", facts, libraries, code)

    def load(self, data: bytes, serialization: str, facts: Mapping[str, Any]) -> Any:
        torch = need("torch", self.name, self.extra)
        if serialization == "torchscript":
            with _quiet_torchscript():
                module = torch.jit.load(io.BytesIO(data), map_location="cpu")
            return module.eval()
        cls = import_path(facts["class"], "this torch model")
        state = torch.load(io.BytesIO(data), weights_only=True, map_location="cpu")
        module = cls(**facts.get("init_kwargs", {}))
        module.load_state_dict(state, strict=True)
        return module.eval()


def _init_kwargs(model: Any) -> dict[str, Any]:
    cls = type(model)
    wanted: dict[str, Any] = {}
    missing: list[str] = []
    for name, parameter in inspect.signature(cls.__init__).parameters.items():
        if name == "self" or parameter.kind not in _KEYWORDS:
            continue
        value = getattr(model, name, inspect.Parameter.empty)
        if json_params({name: value}):
            wanted[name] = value
        elif parameter.default is inspect.Parameter.empty:
            missing.append(name)
    if missing:
        names = ", ".join(missing)
        example = f"self.{missing[0]} = {missing[0]}"
        raise InvalidInput(
            f"torch module {type_path(cls)} cannot be saved: loopml cannot tell its "
            f"constructor argument(s) {names}; keep each as an attribute of the same name "
            f"in __init__ ({example}) holding a plain value (number, text, list), or save "
            "torch.jit.script(model)"
        )
    return wanted


def _check_rebuild(
    torch: Any, cls: type, kwargs: dict[str, Any], state: Mapping[str, Any], path: str
) -> None:
    call = f"{cls.__qualname__}(**{kwargs!r})"
    try:
        with torch.device("meta"):
            rebuilt = cls(**kwargs)
    except Exception as error:
        raise InvalidInput(
            f"torch module {path} cannot be saved: {call} fails ({error}); keep each "
            "constructor argument as an attribute of the same name, or save "
            "torch.jit.script(model)"
        ) from None
    expected = {key: tuple(value.shape) for key, value in state.items()}
    got = {key: tuple(value.shape) for key, value in rebuilt.state_dict().items()}
    if got != expected:
        differ = sorted(
            key for key in expected.keys() | got.keys() if expected.get(key) != got.get(key)
        )
        raise InvalidInput(
            f"torch module {path} cannot be saved: {call} builds a module whose weights "
            f"differ from the model's ({', '.join(differ[:5])}); keep the constructor "
            "arguments as attributes of the same name, unchanged after __init__, or save "
            "torch.jit.script(model)"
        )


@contextmanager
def _quiet_torchscript() -> Iterator[None]:
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=DeprecationWarning, module=r"torch\.jit")
        yield
