"""Whether importing a project's files and tracing a pipeline's body depend on nothing
but those files' bytes, judged by reading them, never by running them.

A module passes when its top level (and each class body) only imports, defines
functions and classes, and binds names to literals and to references: its decorators
are loopml's and a few of the standard library's, its only calls are a few builtins on
literals (``range(3)``) and declarations (``dataclasses.field``, ``typing.TypeVar``),
and nothing is computed from an imported object (``os.environ["X"]``, ``np.pi * 2``).
What functions do when they run is not judged: step bodies are keyed on their own.
A pipeline's body passes when it only wires steps: it calls steps and those builtins,
on its parameters, literals and what steps return.

Anything else (reading a file or the environment at import, a call to a library, a
helper called from the body) gives the reason, and a cached run of that pipeline is
answered the ordinary way: by importing it and keying each step.

>>> import tempfile, pathlib
>>> folder = pathlib.Path(tempfile.mkdtemp())
>>> flow = folder / "flow.py"
>>> _ = flow.write_text("import loopml\\nN = 3\\n@loopml.step\\ndef one(x: int) -> int:\\n"
...                     "    return x\\n@loopml.pipeline\\ndef p(x: int = N):\\n"
...                     "    return one(x)\\n")
>>> print(blocker([str(flow)], str(flow), 6))
None
>>> _ = flow.write_text("import os\\nHOME = os.environ['HOME']\\n")
>>> print(blocker([str(flow)], str(flow), 1))
flow.py:2: binds a name to what a computation gives at import
"""

from __future__ import annotations

import ast
import builtins
import functools
import os
from collections.abc import Iterable
from dataclasses import dataclass, field

STEP_DECORATORS = frozenset({"loopml.step", "loopml.pipeline.step"})
DECORATORS = STEP_DECORATORS | {
    "loopml.pipeline",
    "loopml.pipeline.pipeline",
    "builtins.staticmethod",
    "builtins.classmethod",
    "builtins.property",
    "functools.cache",
    "functools.lru_cache",
    "functools.cached_property",
    "dataclasses.dataclass",
    "typing.overload",
    "typing.final",
    "typing.runtime_checkable",
    "enum.unique",
}
DECLARATIONS = DECORATORS | {
    "dataclasses.field",
    "typing.TypeVar",
    "typing.NewType",
    "typing.ParamSpec",
    "typing.NamedTuple",
    "collections.namedtuple",
}
# No sets: their order of iteration changes with PYTHONHASHSEED from process to process.
_PURE = "range len tuple list dict int float str bool min max sum abs round sorted reversed"
PURE_BUILTINS = frozenset(f"builtins.{name}" for name in f"{_PURE} enumerate zip".split())
INERT_BASES = frozenset(
    f"{module}.{name}"
    for module in ("typing", "typing_extensions")
    for name in ("NamedTuple", "Generic", "Protocol", "TypedDict")
) | {"enum.Enum", "enum.IntEnum", "enum.StrEnum", "enum.Flag", "enum.IntFlag", "abc.ABC"}
CLASS_HOOKS = frozenset({"__init_subclass__", "__set_name__", "__class_getitem__"})
MODULE_HOOKS = frozenset({"__getattr__", "__dir__"})
KEPT_DUNDERS = frozenset({"__all__", "__version__"})
MAX_BASES = 8  # how deep a chain of the user's own classes is followed
BODY_READS = frozenset({"loopml.data.get"})  # resolved again by a replay
TYPING_MODULES = ("typing.", "typing_extensions.", "collections.abc.")
VERSION_FACTS = frozenset({"sys.version_info", "sys.platform"})  # in the run's key


def blocker(files: Iterable[str], pipeline_file: str, pipeline_line: int) -> str | None:
    """Why these files' import, or the body of the pipeline defined at
    ``pipeline_file:pipeline_line``, could depend on more than their bytes; None when
    neither can."""
    for file in files:
        if not file.endswith((".py", ".pyw")):
            return f"{file} is not Python source"
        module = Module.read(file)
        if isinstance(module, str):
            return module
        why = module.top_level()
        if why is not None:
            return why
    module = Module.read(pipeline_file)
    if isinstance(module, str):
        return module
    return module.pipeline_body(pipeline_line)


@dataclass
class Module:
    file: str
    tree: ast.Module
    imports: dict[str, str] = field(default_factory=dict)  # bound name -> dotted origin
    bound: dict[str, int] = field(default_factory=dict)  # name -> times bound at top level
    constants: set[str] = field(default_factory=set)  # names bound only to literals
    lazy_annotations: bool = False

    @classmethod
    def read(cls, file: str) -> Module | str:
        """The module in ``file``, read once while the file is unchanged (the source
        reading, the after-run check and the step lookup all read the same files);
        a string saying why it cannot be read."""
        try:
            stat = os.stat(file)
        except OSError as error:
            return f"{file} cannot be read: {error}"
        return _read(file, (stat.st_ino, stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns))

    @classmethod
    def parse(cls, file: str) -> Module | str:
        try:
            with open(file, "rb") as source:
                tree = ast.parse(source.read(), filename=file)
        except (OSError, SyntaxError, ValueError, RecursionError) as error:
            return f"{file} cannot be read: {error}"
        module = cls(file, tree)
        module._scan(tree.body)
        for name, value in assignments(tree.body):  # in order: `M = N * 2` after `N = 3`
            if module.bound.get(name) == 1 and module.constant(value):
                module.constants.add(name)
        return module

    def _scan(self, body: list[ast.stmt]) -> None:
        for statement in body:
            if isinstance(statement, ast.ImportFrom) and statement.module == "__future__":
                self.lazy_annotations |= any(a.name == "annotations" for a in statement.names)
            for name, origin in _bindings(statement):
                self.bound[name] = self.bound.get(name, 0) + 1
                if origin is not None:
                    self.imports[name] = origin
            if isinstance(statement, ast.If | ast.Try):
                for block in _blocks(statement):
                    self._scan(block)

    def at(self, node: ast.AST) -> str:
        return f"{os.path.basename(self.file)}:{getattr(node, 'lineno', 0)}"

    def literal_owner(self, name: str, files: set[str]) -> tuple[Module, str] | None:
        """The user's module among ``files`` that global ``name`` is imported from, and
        the name there, when that module binds it to a literal."""
        origin = self.imports.get(name) if self.bound.get(name) == 1 else None
        if origin is None:
            return None
        from loopml.pipeline._reach import module_file

        owner, _, attribute = origin.rpartition(".")
        file = module_file(owner, relative_to=self.file) if owner.strip(".") else ""
        real = os.path.realpath(file) if file and not file.startswith("?") else ""
        if real not in files:
            return None
        found = Module.read(real)
        return (
            None
            if isinstance(found, str) or attribute not in found.constants
            else (found, attribute)
        )

    # -- what an expression is -------------------------------------------------------

    def origin(self, node: ast.expr) -> str | None:
        """The dotted name an expression refers to (``np.pi`` -> ``numpy.pi``)."""
        if isinstance(node, ast.Name):
            if node.id in self.imports and self.bound.get(node.id) == 1:
                return self.imports[node.id]
            if node.id not in self.bound and hasattr(builtins, node.id):
                return f"builtins.{node.id}"
            return None
        if isinstance(node, ast.Attribute):
            above = self.origin(node.value)
            return None if above is None else f"{above}.{node.attr}"
        return None

    def constant(self, node: ast.expr | None, local: frozenset[str] = frozenset()) -> bool:
        """A value computed from literals (and ``local`` names) by operations that
        run no library code."""
        if node is None or isinstance(node, ast.Constant):
            return True
        if isinstance(node, ast.Name):
            return node.id in self.constants or node.id in local
        if isinstance(node, ast.Tuple | ast.List):
            return all(self.constant(e, local) for e in node.elts)
        if isinstance(node, ast.Dict):
            return all(self.constant(e, local) for e in [*node.keys, *node.values] if e)
        if isinstance(node, ast.Starred):
            return self.constant(node.value, local)
        if isinstance(node, ast.UnaryOp):
            return self.constant(node.operand, local)
        if isinstance(node, ast.BinOp):
            return self.constant(node.left, local) and self.constant(node.right, local)
        if isinstance(node, ast.BoolOp):
            return all(self.constant(v, local) for v in node.values)
        if isinstance(node, ast.Compare):
            return all(self.constant(v, local) for v in [node.left, *node.comparators])
        if isinstance(node, ast.IfExp):
            return all(self.constant(v, local) for v in (node.test, node.body, node.orelse))
        if isinstance(node, ast.JoinedStr):
            return all(self.constant(v, local) for v in node.values)
        if isinstance(node, ast.FormattedValue):
            return self.constant(node.value, local) and self.constant(node.format_spec, local)
        if isinstance(node, ast.Subscript | ast.Slice):
            parts = (
                [node.value, node.slice]
                if isinstance(node, ast.Subscript)
                else [node.lower, node.upper, node.step]
            )
            return all(self.constant(p, local) for p in parts)
        if isinstance(node, ast.Call):
            return (
                self.origin(node.func) in PURE_BUILTINS
                and all(self.constant(a, local) for a in node.args)
                and all(self.constant(k.value, local) for k in node.keywords)
            )
        return False

    def reference(self, node: ast.expr | None) -> bool:
        """A literal, or a reference bound as it is (``PATHS = [os.environ]`` holds the
        object; nothing reads it), or a declaration."""
        if node is None or self.constant(node):
            return True
        if isinstance(node, ast.Name):
            return True
        if isinstance(node, ast.Attribute):  # through a module; a class's may run a getter
            origin = self.origin(node)
            return origin is not None and not self.through_user_object(origin)
        if isinstance(node, ast.Tuple | ast.List | ast.Set):
            return all(self.reference(e) for e in node.elts)
        if isinstance(node, ast.Dict):
            return all(self.constant(k) for k in node.keys if k) and all(
                self.reference(v) for v in node.values
            )
        if isinstance(node, ast.Subscript):  # a generic type: list[int], Optional[str]
            return self.typing(node.value) and self.reference(node.slice)
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.BitOr):  # int | None
            return all(self.typing(s) or self.reference(s) for s in (node.left, node.right)) and (
                self.typing(node.left) or self.typing(node.right)
            )
        if isinstance(node, ast.Lambda):
            return self.arguments(node.args)
        if isinstance(node, ast.Call):  # its arguments: literals, or code by name
            arguments = [*node.args, *(k.value for k in node.keywords)]
            return self.origin(node.func) in DECLARATIONS and all(
                self.constant(a) or isinstance(a, ast.Name | ast.Attribute) for a in arguments
            )
        return False

    def through_user_object(self, origin: str) -> bool:
        """Whether ``helpers.Choice.pick`` reads past one of the user's modules into an
        object of theirs, whose getter (a property, a class's ``__getattr__``) runs."""
        from loopml._usercode import is_user_file
        from loopml.pipeline._reach import module_file

        parts = origin.split(".")
        for end in range(len(parts) - 1, 0, -1):
            module = ".".join(parts[:end])
            file = module_file(module, relative_to=self.file) if module.strip(".") else ""
            if file and not file.startswith("?"):
                return is_user_file(file) and len(parts) - end > 1
        return True  # no module found: whose object it is cannot be told

    def typing(self, node: ast.expr) -> bool:
        origin = self.origin(node)
        if origin is None:
            return isinstance(node, ast.Constant) and node.value is None
        return origin.startswith(TYPING_MODULES) or (
            origin.startswith("builtins.") and isinstance(getattr(builtins, origin[9:]), type)
        )

    def arguments(self, args: ast.arguments) -> bool:
        defaults = [*args.defaults, *args.kw_defaults]
        if not all(self.reference(d) for d in defaults):
            return False
        if self.lazy_annotations:
            return True
        every = [*args.posonlyargs, *args.args, *args.kwonlyargs, args.vararg, args.kwarg]
        return all(a is None or self.reference(a.annotation) for a in every)

    def decorator(self, node: ast.expr) -> bool:
        if isinstance(node, ast.Call):
            return self.decorator(node.func) and self.reference(node)
        return self.origin(node) in DECORATORS

    # -- the top level ---------------------------------------------------------------

    def top_level(self) -> str | None:
        try:
            self.statements(self.tree.body)
        except _Impure as found:
            return f"{self.at(found.node)}: {found.why}"
        return None

    def statements(self, body: list[ast.stmt], *, top: bool = True) -> None:
        """Check a block: the module's (and its ``if``/``try`` blocks'), or a class's."""
        for statement in body:
            why = self.statement(statement, top=top)
            if why is not None:
                raise _Impure(statement, why)

    def statement(self, node: ast.stmt, *, top: bool) -> str | None:
        if isinstance(node, ast.ImportFrom) and any(a.name == "*" for a in node.names):
            return "imports *, which binds names no reading can list"
        if isinstance(node, ast.Import | ast.ImportFrom | ast.Pass):
            return None
        hook = _hook(node) if top else None
        if hook is not None:
            return f"defines {hook}, which changes how Python runs the module"
        if isinstance(node, ast.Expr):
            return None if isinstance(node.value, ast.Constant) else "runs code at import"
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            if not all(self.decorator(d) for d in node.decorator_list):
                return f"{node.name} has a decorator not known to run no code of its own"
            returns_ok = self.lazy_annotations or self.reference(node.returns)
            if not (self.arguments(node.args) and returns_ok):
                return f"a default or annotation of {node.name} is computed at import"
            return None
        if isinstance(node, ast.ClassDef):
            if not all(self.decorator(d) for d in node.decorator_list):
                return f"class {node.name} has a decorator not known to run no code of its own"
            why = self.class_made_plainly(node)
            if why is not None:
                return why
            self.statements(node.body, top=False)
            return None
        if isinstance(node, ast.Assign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            if not all(_plain_target(t) for t in targets):
                return "assigns into an object at import"
            annotation = node.annotation if isinstance(node, ast.AnnAssign) else None
            if not (self.lazy_annotations or self.reference(annotation)):
                return "an annotation is computed at import"
            if not self.reference(node.value):
                return "binds a name to what a computation gives at import"
            return None
        if isinstance(node, ast.If):
            if _main_guard(node.test) or self.origin(node.test) == "typing.TYPE_CHECKING":
                self.statements(node.orelse, top=top)  # the body never runs on import
                return None
            if not (self.constant(node.test) or self.version_test(node.test)):
                return "branches on something computed at import"
        elif isinstance(node, ast.Try):
            if not all(self.reference(h.type) for h in node.handlers):
                return "catches what is computed at import"
        else:
            return f"runs a {type(node).__name__.lower()} statement at import"
        for block in _blocks(node):
            self.statements(block, top=top)
        return None

    def class_made_plainly(self, node: ast.ClassDef, depth: int = 0) -> str | None:
        """Why making class ``node`` may run code of its own (a base's
        ``__init_subclass__``, a metaclass); None when it runs none."""
        if any(k.arg == "metaclass" or not self.constant(k.value) for k in node.keywords):
            return f"class {node.name} names a metaclass or computes its keywords"
        for base in node.bases:
            plain = base.value if isinstance(base, ast.Subscript) else base
            origin = self.origin(plain)
            if origin in INERT_BASES or (
                origin is not None
                and origin.startswith("builtins.")
                and isinstance(getattr(builtins, origin[9:], None), type)
            ):
                continue
            if depth < MAX_BASES and self.plain_user_class(plain, depth):
                continue
            return f"the base {ast.unparse(base)} of class {node.name} may run code as it is made"
        return None

    def plain_user_class(self, node: ast.expr, depth: int) -> bool:
        """A class of the user's own, made plainly, with no ``__init_subclass__``."""
        module: Module | str = self
        name = node.id if isinstance(node, ast.Name) else None
        if name is not None and name in self.imports and self.bound.get(name) == 1:
            from loopml.pipeline._reach import module_file

            owner, _, name = self.imports[name].rpartition(".")
            file = module_file(owner, relative_to=self.file) if owner.strip(".") else ""
            module = Module.read(file) if file.endswith(".py") else "not a user module"
        if name is None or isinstance(module, str) or module.bound.get(name) != 1:
            return False
        found = [c for c in module.tree.body if isinstance(c, ast.ClassDef) and c.name == name]
        return bool(found) and all(
            module.class_made_plainly(c, depth + 1) is None
            and not any(isinstance(f, ast.FunctionDef) and f.name in CLASS_HOOKS for f in c.body)
            for c in found
        )

    def version_test(self, node: ast.expr) -> bool:
        return (
            isinstance(node, ast.Compare)
            and self.origin(node.left) in VERSION_FACTS
            and all(self.constant(c) for c in node.comparators)
        )

    # -- the pipeline's body ---------------------------------------------------------

    def pipeline_body(self, line: int) -> str | None:
        found = [
            node
            for node in self.tree.body
            if isinstance(node, ast.FunctionDef)
            and line in (node.lineno, *(d.lineno for d in node.decorator_list))
        ]
        if len(found) != 1:
            return f"no pipeline function is defined at the top level of {self.file}:{line}"
        function = found[0]
        if not all(self.constant(d) for d in [*function.args.defaults, *function.args.kw_defaults]):
            return f"{self.at(function)}: a default of pipeline {function.name} is not a literal"
        steps = _Steps(self)
        callees = {  # each callee named as a whole (``loopml.data.get``, ``steps.train``)
            id(part)
            for node in ast.walk(function)
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
            for part in ast.walk(node.func)
        }
        nodes = [
            node
            for statement in function.body
            for node in ast.walk(statement)
            if id(node) not in callees
        ]
        local = frozenset(a.arg for a in ast.walk(function.args) if isinstance(a, ast.arg))
        local |= {n.id for n in nodes if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)}
        for node in nodes:
            why = self.wiring(node, local, steps)
            if why is not None:
                return f"{self.at(node)}: the body of pipeline {function.name} {why}"
        return None

    def wiring(self, node: ast.AST, local: frozenset[str], steps: _Steps) -> str | None:
        """Why one node of a pipeline body does more than wire steps together."""
        allowed = (
            ast.Expr, ast.Return, ast.Assign, ast.AugAssign, ast.For, ast.If, ast.Pass,
            ast.Constant, ast.Tuple, ast.List, ast.Dict, ast.Starred, ast.BinOp,
            ast.UnaryOp, ast.BoolOp, ast.Compare, ast.IfExp, ast.JoinedStr,
            ast.FormattedValue, ast.Subscript, ast.Slice, ast.ListComp,
            ast.DictComp, ast.GeneratorExp, ast.comprehension, ast.keyword, ast.Name,
            ast.Call, ast.expr_context, ast.operator, ast.unaryop, ast.boolop, ast.cmpop,
        )  # fmt: skip
        if not isinstance(node, allowed):
            return f"holds {type(node).__name__}, which does more than wire steps"
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load):
            known = node.id in local or node.id in self.constants
            if not known and not steps.named(node) and self.origin(node) not in PURE_BUILTINS:
                return f"reads {node.id}, which is not a parameter, a literal or a step"
        if isinstance(node, ast.Call):
            origin = self.origin(node.func)
            if origin in BODY_READS and not node.keywords and len(node.args) == 1:
                return None  # loopml.data.get(ref) in the run's workspace
            if not (steps.named(node.func) or origin in PURE_BUILTINS):
                return "calls something that is not a step"
        return None


@functools.lru_cache(maxsize=1024)
def _read(file: str, stamp: tuple[int, ...]) -> Module | str:
    return Module.parse(file)


class _Impure(Exception):
    def __init__(self, node: ast.stmt, why: str) -> None:
        super().__init__(why)
        self.node = node
        self.why = why


class _Steps:
    """The steps a pipeline body may call: the module's own and those of the user's
    modules it imports, each found by its definition."""

    def __init__(self, module: Module) -> None:
        self.module = module
        self.own = _step_names(module)

    def named(self, node: ast.expr) -> bool:
        module = self.module
        if isinstance(node, ast.Name):
            if node.id in self.own:
                return True
            origin = module.origin(node)
            if origin is None or node.id not in module.imports:
                return False
            owner, _, name = origin.rpartition(".")
            return name in self._steps_of(owner)
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
            origin = module.origin(node.value)
            return origin is not None and node.attr in self._steps_of(origin)
        return False

    def _steps_of(self, dotted: str) -> set[str]:
        from loopml.pipeline._reach import module_file

        file = module_file(dotted, relative_to=self.module.file)
        if not file or file.startswith("?") or not file.endswith(".py"):
            return set()
        found = Module.read(file)
        return set() if isinstance(found, str) else _step_names(found)


def _step_names(module: Module) -> set[str]:
    return {
        node.name
        for node in module.tree.body
        if isinstance(node, ast.FunctionDef)
        and module.bound.get(node.name) == 1
        and any(
            module.origin(d.func if isinstance(d, ast.Call) else d) in STEP_DECORATORS
            for d in node.decorator_list
        )
    }


def _bindings(statement: ast.stmt) -> Iterable[tuple[str, str | None]]:
    """The names a top-level statement binds, each with the dotted name it imports."""
    if isinstance(statement, ast.Import):
        for alias in statement.names:
            if alias.asname:
                yield alias.asname, alias.name
            else:
                top = alias.name.partition(".")[0]
                yield top, top
    elif isinstance(statement, ast.ImportFrom):
        base = "." * statement.level + (statement.module or "")
        for alias in statement.names:
            if alias.name != "*":
                joiner = "" if base.endswith(".") else "."
                yield alias.asname or alias.name, f"{base}{joiner}{alias.name}"
    elif isinstance(statement, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
        yield statement.name, None
    else:
        targets: list[ast.expr] = []
        if isinstance(statement, ast.Assign):
            targets = statement.targets
        elif isinstance(statement, ast.AnnAssign | ast.AugAssign | ast.For | ast.AsyncFor):
            targets = [statement.target]
        elif isinstance(statement, ast.With | ast.AsyncWith):
            targets = [i.optional_vars for i in statement.items if i.optional_vars]
        for target in targets:
            for node in ast.walk(target):
                if isinstance(node, ast.Name):
                    yield node.id, None


def assignments(body: list[ast.stmt]) -> Iterable[tuple[str, ast.expr]]:
    for statement in body:
        if isinstance(statement, ast.Assign) and isinstance(statement.value, ast.expr):
            for target in statement.targets:
                if isinstance(target, ast.Name):
                    yield target.id, statement.value
        elif (
            isinstance(statement, ast.AnnAssign)
            and isinstance(statement.target, ast.Name)
            and statement.value is not None
        ):
            yield statement.target.id, statement.value


def _blocks(statement: ast.If | ast.Try) -> list[list[ast.stmt]]:
    if isinstance(statement, ast.If):
        return [statement.body, statement.orelse]
    handlers = [h.body for h in statement.handlers]
    return [statement.body, *handlers, statement.orelse, statement.finalbody]


def _hook(node: ast.stmt) -> str | None:
    """A top-level definition that changes how Python runs the module: ``__getattr__``,
    or a binding of a dunder such as ``__builtins__`` or ``__path__``."""
    if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
        return node.name if node.name in MODULE_HOOKS or _dunder(node.name) else None
    for name, _ in _bindings(node):
        if _dunder(name) and name not in KEPT_DUNDERS:
            return name
    return None


def _dunder(name: str) -> bool:
    return name.startswith("__") and name.endswith("__")


def _plain_target(node: ast.expr) -> bool:
    if isinstance(node, ast.Tuple | ast.List):
        return all(_plain_target(e) for e in node.elts)
    return isinstance(node, ast.Name)


def _main_guard(test: ast.expr) -> bool:
    return (
        isinstance(test, ast.Compare)
        and isinstance(test.left, ast.Name)
        and test.left.id == "__name__"
        and len(test.comparators) == 1
        and isinstance(test.comparators[0], ast.Constant)
        and test.comparators[0].value == "__main__"
    )
