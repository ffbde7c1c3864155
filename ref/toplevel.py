"""Upstream's own top-level lines that a driver runs: the optimizer set-up and what the training
loop does between the backward pass and the optimizer step.

Records #4 on build their optimizers at module level (`optimizer1 = torch.optim.Adam([...],
lr=0.3, ...)`, ..., `schedulers = [LambdaLR(opt, get_lr) ...]`) and adjust them inside the loop
(`frac = min(step/500, 1); optimizer3.param_groups[0]['momentum'] = ...`). Rather than copy
those numbers, a driver executes these statements themselves, found in the file's AST.
"""

from __future__ import annotations

import ast


class TopLevelError(ValueError):
    pass


def _assigned_names(stmt: ast.stmt) -> list[str]:
    targets = stmt.targets if isinstance(stmt, ast.Assign) else [getattr(stmt, "target", None)]
    return [t.id for t in targets if isinstance(t, ast.Name)]


def optimizer_setup(source: str) -> ast.Module:
    """From the first `optimizer...` assignment through `schedulers = ...` (or `optimizers = ...`)."""
    body = ast.parse(source).body
    start = next((i for i, s in enumerate(body) if any(n.startswith("optimizer") for n in _assigned_names(s))), None)
    if start is None:
        raise TopLevelError("no top-level optimizer construction found")
    ends = [i for i, s in enumerate(body[start:], start) if "schedulers" in _assigned_names(s)]
    if not ends:
        ends = [i for i, s in enumerate(body[start:], start) if "optimizers" in _assigned_names(s)]
    if not ends:
        raise TopLevelError("no `schedulers = ...` or `optimizers = ...` after the optimizers")
    return ast.Module(body=body[start:ends[0] + 1], type_ignores=[])


def _is_grad_scaling(stmt: ast.stmt) -> bool:
    return isinstance(stmt, ast.For) and "grad" in ast.unparse(stmt) and "parameters()" in ast.unparse(stmt.iter)


def _is_optimizer_stepping(stmt: ast.stmt) -> bool:
    return isinstance(stmt, ast.For) and ast.unparse(stmt).count(".step()") >= 1 and "opt" in ast.unparse(stmt.target)


def step_hooks(source: str) -> ast.Module:
    """Statements of the `for step in range(...)` loop between the gradient scaling and the
    optimizer steps (momentum warmup, ...); empty when there are none."""
    for node in ast.parse(source).body:
        if isinstance(node, ast.For) and isinstance(node.target, ast.Name) and node.target.id == "step":
            body = node.body
            first = next((i for i, s in enumerate(body) if _is_grad_scaling(s)), None)
            last = next((i for i, s in enumerate(body) if _is_optimizer_stepping(s)), None)
            if first is None or last is None or last < first:
                raise TopLevelError("cannot find the gradient scaling and optimizer steps in the training loop")
            return ast.Module(body=body[first + 1:last], type_ignores=[])
    raise TopLevelError("no top-level `for step in range(...)` training loop")
