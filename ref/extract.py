"""Keep an upstream file's definitions, drop everything else, never run its top level.

From #4 on no record file guards `main` (history.md §4): importing one starts training. So we
parse the file, keep imports, classes, functions (module level, and the ones nested in an
`if __name__ == "__main__":` block, such as `get_lr`) and module-level assignments that only
refer to what is already kept, drop `torch.compile` decorators, and execute that.
"""

from __future__ import annotations

import ast
import builtins
import hashlib
import linecache
import sys
import warnings
from dataclasses import dataclass
from types import ModuleType
from typing import Any

# Builtins an assignment may call and still count as a definition (`dict(svd=..., ...)`).
_SAFE_CALLS = {"dict", "list", "tuple", "set", "int", "float", "str", "bool", "range", "len",
               "max", "min", "sum", "abs", "round", "frozenset"}
# Imported loaders whose module-level result is a definition the rest of the file uses: #38 on
# bind FA3 as `flash_attn_interface = get_kernel('varunneal/flash-attention-3')...` (the
# driver's namespace stands in for `get_kernel`)
_LOADER_CALLS = {"get_kernel"}


@dataclass
class Extracted:
    module: ast.Module
    kept: list[str]  # names defined, in order
    dropped: list[str]  # one-line summaries of top-level statements dropped
    read_before_write: list[int]  # lines whose self-assignment now clones its source (`_ReadBeforeWrite`)


def _is_compile_decorator(node: ast.expr) -> bool:
    target = node.func if isinstance(node, ast.Call) else node
    return isinstance(target, ast.Attribute) and target.attr == "compile" or (
        isinstance(target, ast.Name) and target.id == "compile"
    )


def _strip_decorators(node: ast.FunctionDef | ast.ClassDef) -> ast.AST:
    node.decorator_list = [d for d in node.decorator_list if not _is_compile_decorator(d)]
    return node


def _base_name(node: ast.expr) -> str | None:
    while isinstance(node, (ast.Subscript, ast.Attribute)):
        node = node.value
    return node.id if isinstance(node, ast.Name) else None


def _sliced(node: ast.expr) -> bool:
    """A subscript that takes a slice (`t[:, 1:]`), not a key (`group["lr"]`)."""
    return isinstance(node, ast.Subscript) and any(isinstance(n, ast.Slice) for n in ast.walk(node.slice))


class _ReadBeforeWrite(ast.NodeTransformer):
    """`t[a] = t[b]`, both sliced views, becomes `t[a] = t[b].clone()`.

    #49 shifts keys in place between overlapping views of one tensor
    (`k[:, 1:, :, s] = k[:, :-1, :, s]`). Under `torch.compile`, as the record ran, the graph
    reads the source before it writes: a shift by one position. Eager torch copies element by
    element through the overlap instead (on the CPU the first row spreads down the sequence),
    and raises no error for these non-dense views. Cloning the source gives the compiled
    meaning; where the views do not overlap it changes nothing."""

    def __init__(self):
        self.lines: list[int] = []

    def visit_Assign(self, node: ast.Assign) -> ast.Assign:
        target = node.targets[0] if len(node.targets) == 1 else None
        if (_sliced(target) and _sliced(node.value)
                and _base_name(target) is not None and _base_name(target) == _base_name(node.value)):
            clone = ast.Attribute(value=node.value, attr="clone", ctx=ast.Load())
            node.value = ast.copy_location(ast.Call(func=clone, args=[], keywords=[]), node.value)
            self.lines.append(node.lineno)
        return node


def _is_main_guard(node: ast.stmt) -> bool:
    return (
        isinstance(node, ast.If)
        and isinstance(node.test, ast.Compare)
        and isinstance(node.test.left, ast.Name)
        and node.test.left.id == "__name__"
    )


def _names_used(node: ast.AST) -> set[str]:
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}


def _calls_ok(node: ast.AST, dataclasses: set[str]) -> bool:
    """Only builtins and the file's own dataclasses (`args = Hyperparameters()`) may be called:
    `model = GPT(...)` at module level is training set-up, not a definition."""
    for call in (n for n in ast.walk(node) if isinstance(n, ast.Call)):
        f = call.func
        if not (isinstance(f, ast.Name) and (f.id in _SAFE_CALLS | _LOADER_CALLS or f.id in dataclasses)):
            return False
    return True


def _is_dataclass(node: ast.ClassDef) -> bool:
    for d in node.decorator_list:
        target = d.func if isinstance(d, ast.Call) else d
        if (isinstance(target, ast.Name) and target.id == "dataclass") or (
            isinstance(target, ast.Attribute) and target.attr == "dataclass"
        ):
            return True
    return False


def _summary(node: ast.stmt) -> str:
    text = ast.unparse(node).splitlines()[0]
    return f"line {node.lineno}: {text[:80]}"


def extract(source: str, filename: str = "<upstream>", only: set[str] | None = None) -> Extracted:
    """The definitions of `source`; with `only`, just the named ones (and all imports)."""
    tree = ast.parse(source, filename=filename)
    body: list[ast.stmt] = []
    # Names an assignment may read: builtins and what the file itself defined. Not imported
    # modules: `int(os.environ['RANK'])` or `torch.device('cuda')` are the top level we avoid.
    known: set[str] = set(dir(builtins)) | _LOADER_CALLS
    kept: list[str] = []
    dropped: list[str] = []
    dataclasses: set[str] = set()
    rewriter = _ReadBeforeWrite()

    def keep_def(node: ast.FunctionDef | ast.ClassDef) -> None:
        if only is not None and node.name not in only:
            return
        body.append(ast.fix_missing_locations(rewriter.visit(_strip_decorators(node))))
        known.add(node.name)
        kept.append(node.name)

    for node in tree.body:
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            body.append(node)
        elif isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            keep_def(node)
            if isinstance(node, ast.ClassDef) and _is_dataclass(node) and node.name in known:
                dataclasses.add(node.name)
        elif isinstance(node, (ast.Assign, ast.AnnAssign)) and node.value is not None:
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            simple = all(isinstance(t, ast.Name) for t in targets)
            wanted = only is None or all(t.id in only for t in targets if isinstance(t, ast.Name))
            if not wanted:
                continue
            if simple and _names_used(node.value) <= known and _calls_ok(node.value, dataclasses):
                body.append(node)
                for t in targets:
                    known.add(t.id)
                    kept.append(t.id)
            else:
                dropped.append(_summary(node))
        elif _is_main_guard(node):
            for inner in ast.walk(node):
                if isinstance(inner, ast.FunctionDef):
                    keep_def(inner)
            dropped.append(_summary(node) + " (kept its function definitions)")
        elif isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant):
            continue  # docstring
        else:
            dropped.append(_summary(node))
    module = ast.Module(body=body, type_ignores=[])
    return Extracted(module, kept, dropped, rewriter.lines)


class Unavailable:
    """Stands for a module that cannot be imported here; any use says which and why."""

    def __init__(self, name: str, error: Exception):
        self._name, self._error = name, error

    def __getattr__(self, attr: str):
        raise ImportError(f"{self._name} is not available on this machine ({self._error}); the reference "
                          f"has no CPU stand-in for {self._name}.{attr}")

    def __call__(self, *args, **kwargs):
        raise ImportError(f"{self._name} is not available on this machine ({self._error})")


def execute(source: str, filename: str, namespace: dict[str, Any], only: set[str] | None = None) -> ModuleType:
    """Run the extracted definitions of `source` in a fresh module seeded with `namespace`.

    Imports that fail on a CPU-only machine (triton, flash-attention, ...) bind the stand-in the
    namespace provides under that name, or else re-raise with the line that needed them. With
    `only` (a subset of definitions, e.g. the data loader), they bind `Unavailable` instead:
    the definitions kept must not need them.
    """
    with warnings.catch_warnings():  # upstream's own style warnings (e.g. "\s" in docstrings)
        warnings.simplefilter("ignore", (SyntaxWarning, DeprecationWarning))
        extracted = extract(source, filename, only)
    linecache.cache[filename] = (len(source), None, source.splitlines(keepends=True), filename)
    name = f"upstream_{hashlib.sha256(source.encode()).hexdigest()[:12]}"
    module = ModuleType(name)
    sys.modules[name] = module  # dataclasses look their class's module up there
    module.__dict__.update(namespace)
    module.__dict__["__file__"] = filename
    module.__dict__["__builtins__"] = builtins
    module.__dict__["__extracted__"] = extracted
    module.__dict__["__source__"] = source
    for stmt in extracted.module.body:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", (SyntaxWarning, DeprecationWarning))
            code = compile(ast.Module(body=[stmt], type_ignores=[]), filename, "exec")
        try:
            exec(code, module.__dict__)
        except ImportError as e:
            names = [a.asname or a.name for a in getattr(stmt, "names", [])]
            missing = [n for n in names if n.split(".")[0] not in namespace]
            if only is not None and isinstance(stmt, (ast.Import, ast.ImportFrom)):
                for n in missing:
                    module.__dict__[n.split(".")[0]] = Unavailable(n, e)
                continue
            if not isinstance(stmt, (ast.Import, ast.ImportFrom)) or missing:
                raise ImportError(
                    f"{filename}:{stmt.lineno}: {ast.unparse(stmt)} failed ({e}) and the reference "
                    f"loader has no CPU stand-in for {missing or names}"
                ) from e
    return module
