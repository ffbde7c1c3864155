"""Upstream's own top-level lines that a driver runs: the optimizer set-up and what the training
loop does between the backward pass and the optimizer step.

Records #4 on build their optimizers at module level (`optimizer1 = torch.optim.Adam([...],
lr=0.3, ...)`, ..., `schedulers = [LambdaLR(opt, get_lr) ...]`) and adjust them inside the loop
(`frac = min(step/500, 1); optimizer3.param_groups[0]['momentum'] = ...`). Rather than copy
those numbers, a driver executes these statements themselves, found in the file's AST.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field


class TopLevelError(ValueError):
    pass


def _assigned_names(stmt: ast.stmt) -> list[str]:
    """Names bound by an assignment, tuple targets included (#41: `ws_short, ws_long = get_ws(0)`
    is the training loop's only initialisation of `ws_long`)."""
    targets = stmt.targets if isinstance(stmt, ast.Assign) else [getattr(stmt, "target", None)]
    flat = [e for t in targets for e in (t.elts if isinstance(t, (ast.Tuple, ast.List)) else [t])]
    return [t.id for t in flat if isinstance(t, ast.Name)]


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


# -- records #12 on (ref.drivers.FlexDriver) -------------------------------------------------------
#
# From #12 the loop also computes the attention window the model is called with, #18 on build
# parameter lists before the optimizers, #21c+ set the lr by hand, and #22+ reduce gradients in
# ways that are identities on one process. A `FlexPlan` holds the statements a one-process driver
# runs, each found by what it does, not by its line.

MODEL_NAMES = ("model", "ddp_model", "raw_model")
DRIVER_NAMES = {*MODEL_NAMES, "args", "step", "rank", "world_size"}  # what the driver binds itself
# what the flex driver binds besides (`ref.drivers.FlexDriver.NAMESPACE`)
FLEX_BOUND = {"device", "grad_accum_steps", "grad_scale"}
# (#53: `adam_optimizers[0].copy_lm_to_embed()` after the step)
_OPTIMIZER_WORDS = re.compile(r"\b(\w*optimizers?\d*|schedulers|param_groups|zero_grad)\b")


@dataclass
class FlexPlan:
    casts: ast.Module  # main's dtype casts of the constructed model (record precision)
    setup: ast.Module  # parameter lists, optimizers, schedulers, initial lrs
    window_init: ast.Module  # top-level statements the window computation reads
    window_pre: ast.Module  # loop statements before the training call that set the window
    window_args: list[ast.expr]  # the training call's arguments after (inputs, targets)
    window_kwargs: dict[str, ast.expr]
    hooks_init: ast.Module  # top-level statements the step's optimizer statements read
    hooks: ast.Module  # loop statements after the backward: lr, momentum, opt.step(), zero_grad
    autocast: bool  # the training call runs under `autocast(...)` (#24)
    dropped: list[str] = field(default_factory=list)  # loop statements not run, for the record
    # what the loader yields beyond (inputs, targets), bound per batch by the driver (#29 on:
    # `inputs, targets, cum_seqlens = next(train_loader)`)
    batch_names: list[str] = field(default_factory=list)
    # the hooks clear gradients themselves (`zero_grad`, also inside a top-level function they
    # call: #41's `step_optimizers`), so the driver must not: #39 on keep Adam's over even steps
    clears_grads: bool = False
    # statements of the micro-step loop around the training call, run as on its last micro-step
    # (#44 on: `if idx == grad_accum_steps - 1 and step % 2 == 1: optimizers[0].should_sync = True`,
    # which arms the Adam gradient hooks that the backward fires)
    micro_pre: ast.Module = field(default_factory=lambda: _mod([]))
    # loop state the optimizer statements read that the loop sets before the training call
    # (#52's `is_transition`, from the window and batch-size changes): `step_state_pre` re-run
    # for steps 0..step after `step_state_init`, in a namespace of its own, gives their values
    step_state_names: list[str] = field(default_factory=list)
    step_state_init: ast.Module = field(default_factory=lambda: _mod([]))
    step_state_pre: ast.Module = field(default_factory=lambda: _mod([]))
    # set-up names the window statements read (#54 on: the loop's schedule lives in the
    # `TrainingManager` the set-up builds): the driver binds the model's own
    window_setup_names: list[str] = field(default_factory=list)
    # what the loop multiplies the training loss by before its backward: `1 / grad_accum_steps`
    # (#46 on, 1 for one process) or #65's `grad_scale` (2 on 8 GPUs, bound by the driver)
    loss_scale: ast.expr = field(default_factory=lambda: ast.Constant(1))


def _loss_scale(stmt: ast.stmt, call: ast.Call) -> ast.expr:
    """The factor the loop's backward puts on the loss `call` returns: `(model(...) * s).backward()`,
    `(model(...) / s).backward()`, or #71's `loss = model(...) * s; ...; loss.backward()` (#77:
    `model(...).sum() * s`, the driver sums a loss with dimensions); 1 for a plain
    `model(...).backward()`."""
    for node in ast.walk(stmt):
        scaled = None
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "backward":
            scaled = node.func.value
        elif isinstance(node, ast.Assign):
            scaled = node.value
        left = getattr(scaled, "left", None)
        if isinstance(left, ast.Call) and isinstance(left.func, ast.Attribute) and left.func.value is call:
            left = call  # #77 on: the model returns per-token losses, `model(...).sum() * s`
        if isinstance(scaled, ast.BinOp) and left is call:
            if isinstance(scaled.op, ast.Mult):
                return scaled.right
            if isinstance(scaled.op, ast.Div):
                return ast.BinOp(ast.Constant(1), ast.Div(), scaled.right)
    return ast.Constant(1)


def _mod(stmts: list[ast.stmt]) -> ast.Module:
    return ast.Module(body=list(stmts), type_ignores=[])


def _loads(node: ast.AST) -> set[str]:
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}


def _stores(node: ast.AST) -> set[str]:
    """Names a statement binds, or mutates in place (`x.copy_(...)`, `x[...] = `, `x += `)."""
    out = {n.id for n in ast.walk(node) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)}
    for n in ast.walk(node):
        if (isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute) and n.func.attr.endswith("_")
                and isinstance(n.func.value, ast.Name)):
            out.add(n.func.value.id)
    return out


def _mutates(node: ast.AST) -> set[str]:
    """`_stores`, and the names whose method a statement calls as a statement of its own
    (#54: `training_manager.advance_schedule(step)` changes the manager's window). The model's
    own methods (`model.eval()`) are not the window's."""
    called = {n.value.func.value.id for n in ast.walk(node)
              if isinstance(n, ast.Expr) and isinstance(n.value, ast.Call) and isinstance(n.value.func, ast.Attribute)
              and isinstance(n.value.func.value, ast.Name)}
    return _stores(node) | (called - DRIVER_NAMES)


def _setting(stmt: ast.stmt, needed: set[str]) -> ast.stmt | None:
    """The part of a loop statement that sets a `needed` name: the statement itself when it
    sets one directly (#31's `if new_ws != ws: model.yarn.apply(ws, new_ws); ws = new_ws` runs
    whole), else an `if` cut down to its nested parts that do (#36 sets `ws_long` for the final
    validation in `if last_step:` inside the validation block, which must not run here)."""
    if not _mutates(stmt) & needed:
        return None
    if not isinstance(stmt, ast.If) or any(_mutates(s) & needed for s in stmt.body + stmt.orelse
                                           if not isinstance(s, ast.If)):
        return stmt
    body = [k for k in (_setting(s, needed) for s in stmt.body) if k is not None]
    orelse = [k for k in (_setting(s, needed) for s in stmt.orelse) if k is not None]
    return ast.fix_missing_locations(ast.copy_location(ast.If(test=stmt.test, body=body or [ast.Pass()], orelse=orelse),
                                                       stmt))


def _sets_model_attribute(stmt: ast.stmt) -> bool:
    """`model.<attr> = ...` somewhere in the statement: state the forward reads, set by the loop
    (#53: `if step == split_step: model.split_embed = True`)."""
    return any(isinstance(n, ast.Assign) and any(
        isinstance(t, ast.Attribute) and isinstance(t.value, ast.Name) and t.value.id in MODEL_NAMES for t in n.targets)
        for n in ast.walk(stmt))


def _training_loop(body: list[ast.stmt]) -> ast.For:
    """The last top-level `for step in ...`: #29 on warm the kernels up in an earlier one
    (`for step in range(warmup_steps)`), which steps no schedule."""
    loops = [node for node in body
             if isinstance(node, ast.For) and isinstance(node.target, ast.Name) and node.target.id == "step"]
    if not loops:
        raise TopLevelError("no top-level `for step in range(...)` training loop")
    return loops[-1]


def _is_training_call(node: ast.AST) -> bool:
    """`model(inputs, targets, ...)` / `ddp_model(...)` on training data (not `x_val, y_val`)."""
    return (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in MODEL_NAMES
            and len(node.args) >= 2 and not any("val" in ast.unparse(a) for a in node.args[:2]))


def _is_validation(stmt: ast.stmt) -> bool:
    return bool(re.search(r"\.eval\(\)|no_grad|val_loader", ast.unparse(stmt)))


def _batch_names(loop: ast.For) -> list[str]:
    """The names after (inputs, targets) that `... = next(train_loader)` (#46 on:
    `train_loader.send(send_args)`) unpacks in the loop."""
    for node in ast.walk(loop):
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Call) and isinstance(node.targets[0], ast.Tuple):
            f = node.value.func
            is_next = isinstance(f, ast.Name) and f.id == "next" and "train" in ast.unparse(node.value.args[0])
            is_send = isinstance(f, ast.Attribute) and f.attr == "send" and "train" in ast.unparse(f.value)
            if is_next or is_send:
                return [e.id for e in node.targets[0].elts[2:] if isinstance(e, ast.Name)]
    return []


def _training_call(loop: ast.For) -> tuple[int, ast.Call, bool]:
    for i, stmt in enumerate(loop.body):
        if _is_validation(stmt):
            continue
        for node in ast.walk(stmt):
            if _is_training_call(node):
                autocast = any(isinstance(w, ast.With) and "autocast" in ast.unparse(w.items[0].context_expr)
                               and any(n is node for n in ast.walk(w)) for w in ast.walk(stmt))
                return i, node, autocast
    raise TopLevelError("no training call `model(inputs, targets, ...)` in the training loop")


def _top_level_defs(body: list[ast.stmt], end: int, names: set[str], bound=()) -> list[ast.stmt]:
    """The last simple top-level assignment before `end` of each of `names`, and (once more) of
    the names those read. Re-run on every call: `train_steps = args.num_iterations` must see the
    driver's `args`, and loop state (`sw_size_prev = 64`) must not carry over between calls.
    A list filled by a top-level loop comes with that loop (`_fills`); `bound` names the driver
    binds itself (its `device` is the CPU: main's `torch.device("cuda", ...)` is not re-run)."""
    chosen: dict[int, ast.stmt] = {}
    todo = set(names) - DRIVER_NAMES - set(bound)
    for _ in range(2):
        found: set[str] = set()
        for name in sorted(todo):
            for i in range(end - 1, -1, -1):
                s = body[i]
                if isinstance(s, (ast.Assign, ast.AnnAssign)) and name in _assigned_names(s):
                    chosen[i] = s
                    found |= _loads(s)
                    for k in range(i + 1, end):
                        if _fills(body[k], name):  # its own loop variables are not top-level names
                            chosen[k] = body[k]
                            found |= _loads(body[k]) - _stores(body[k])
                    break
        todo = (found - DRIVER_NAMES - set(bound)
                - set().union(set(), *(_assigned_names(s) for s in chosen.values())))
    return [chosen[i] for i in sorted(chosen)]


def _fills(stmt: ast.stmt, name: str) -> bool:
    """A top-level loop that appends to the list `name` (#53 builds `mtp_weights_schedule = []`
    in a `for s in range(args.num_iterations + 1)`)."""
    return isinstance(stmt, ast.For) and any(
        isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute) and n.func.attr in ("append", "extend")
        and isinstance(n.func.value, ast.Name) and n.func.value.id == name for n in ast.walk(stmt))


def _setup_range(body: list[ast.stmt], stop: int) -> tuple[int, int]:
    is_list = re.compile(r"optimizer\d*$|\w*params$")
    start = next((i for i, s in enumerate(body[:stop]) if any(is_list.match(n) for n in _assigned_names(s))), None)
    if start is None:
        raise TopLevelError("no top-level optimizer construction found")
    ends = [i for i, s in enumerate(body[start:stop], start)
            if "optimizers" in _assigned_names(s) or "schedulers" in _assigned_names(s)
            or (isinstance(s, ast.For) and "initial_lr" in ast.unparse(s))]
    if not ends:
        raise TopLevelError("no `optimizers = ...` after the optimizer construction")
    return start, ends[-1]


def _manager_setup(body: list[ast.stmt], stop: int) -> tuple[int, list[ast.stmt]] | None:
    """#54 on build the optimizers inside a class (`training_manager = TrainingManager(model)`,
    a class that sets `self.optimizers`, or from #61 its one `self.optimizer`) whose methods the
    loop calls. The set-up is that statement, and for the driver `optimizers =
    training_manager.optimizers` (or `[training_manager.optimizer]`)."""
    managers = {}
    for c in body:
        if isinstance(c, ast.ClassDef):
            stored = {n.attr for n in ast.walk(c) if isinstance(n, ast.Attribute) and isinstance(n.ctx, ast.Store)
                      and isinstance(n.value, ast.Name) and n.value.id == "self"}
            if stored & {"optimizers", "optimizer"}:
                managers[c.name] = "optimizers" if "optimizers" in stored else "optimizer"
    for i, s in enumerate(body[:stop]):
        if (isinstance(s, ast.Assign) and isinstance(s.value, ast.Call) and isinstance(s.value.func, ast.Name)
                and s.value.func.id in managers):
            (name,) = _assigned_names(s)
            attr = managers[s.value.func.id]
            found = f"{name}.optimizers" if attr == "optimizers" else f"[{name}.optimizer]"
            return i, [s, *ast.parse(f"optimizers = {found}").body]
    return None


def _called_code(stmts: list[ast.stmt], body: list[ast.stmt]) -> list[ast.stmt]:
    """The top-level functions the statements call by name (#41's `step_optimizers`), and the
    methods of top-level classes they call on an object (#54's
    `training_manager.step_optimizers(step)`)."""
    calls = [n.func for s in stmts for n in ast.walk(s) if isinstance(n, ast.Call)]
    names = {f.id for f in calls if isinstance(f, ast.Name)}
    methods = {f.attr for f in calls if isinstance(f, ast.Attribute) and isinstance(f.value, ast.Name)
               and f.value.id not in DRIVER_NAMES}
    functions = [s for s in body if isinstance(s, ast.FunctionDef) and s.name in names]
    return functions + [m for c in body if isinstance(c, ast.ClassDef) for m in c.body
                        if isinstance(m, ast.FunctionDef) and m.name in methods]


def _clears_grads(stmt: ast.stmt) -> bool:
    """`zero_grad`, or #61's `param.grad = None` inside its optimizer's step."""
    text = ast.unparse(stmt)
    return "zero_grad" in text or re.search(r"\.grad = None\b", text) is not None


def _reached_code(stmts: list[ast.stmt], body: list[ast.stmt]) -> list[ast.stmt]:
    """`stmts`, the code they call (`_called_code`) and, from there, the methods of top-level
    classes called through an attribute (#61: `training_manager.step_optimizers` calls
    `self.optimizer.step(...)`, which clears the gradients)."""
    reached = stmts + _called_code(stmts, body)
    calls = {n.func.attr for s in reached for n in ast.walk(s)
             if isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute) and isinstance(n.func.value, ast.Attribute)}
    return reached + [m for c in body if isinstance(c, ast.ClassDef) for m in c.body
                      if isinstance(m, ast.FunctionDef) and m.name in calls]


def flex_plan(source: str) -> FlexPlan:
    """The statements a one-process driver runs for a #12+ record."""
    body = ast.parse(source).body
    loop = _training_loop(body)
    stop = body.index(loop)

    managed = _manager_setup(body, stop)
    if managed is not None:
        start, setup = managed
        # the module-level objects the manager reads, built from `args` (#65's `training_schedule
        # = TrainingSchedule(TRAINING_STAGES, args.num_scheduled_iterations, ...)`): re-run with the set-up
        manager = next(c for c in body if isinstance(c, ast.ClassDef) and c.name == setup[0].value.func.id)
        setup = _top_level_defs(body, start, _loads(manager), bound=FLEX_BOUND) + setup
    else:
        start, end = _setup_range(body, stop)
        setup = [s for s in body[start:end + 1]
                 if (isinstance(s, (ast.Assign, ast.AnnAssign)) and not set(_assigned_names(s)) & set(MODEL_NAMES))
                 or (isinstance(s, ast.For) and "param_groups" in ast.unparse(s))]
    setup_names = set().union(set(), *(_stores(s) for s in setup))

    built = next((i for i, s in enumerate(body[:start]) if "model" in _assigned_names(s)
                  and "GPT" in _loads(s)), None)
    casts = [] if built is None else [
        s for s in body[built + 1:start]
        if re.search(r"bfloat16\(\)|\.float\(\)", ast.unparse(s)) and not re.search(r"compile|DDP", ast.unparse(s))]

    j, call, autocast = _training_call(loop)
    window_args = list(call.args[2:])
    window_kwargs = {k.arg: k.value for k in call.keywords}
    batch_names = _batch_names(loop)
    needed = set().union(set(), *(_loads(a) for a in window_args), *(_loads(v) for v in window_kwargs.values()))
    needed -= set(batch_names)
    pre: list[ast.stmt] = []
    for s in reversed(loop.body[:j]):
        kept = s if _sets_model_attribute(s) and not _is_validation(s) else _setting(s, needed)
        if kept is not None:
            pre.insert(0, kept)
            needed |= _loads(kept)
    reads = needed | set().union(set(), *(_loads(s) for s in pre))
    window_init = _top_level_defs(body, stop, reads - setup_names, bound=FLEX_BOUND)
    window_setup_names = sorted(reads & setup_names)

    after = loop.body[j + 1:]
    kept = [s for s in after if _OPTIMIZER_WORDS.search(ast.unparse(s)) and ".backward(" not in ast.unparse(s)]
    hooks: list[ast.stmt] = []
    needed = set().union(set(), *(_loads(s) for s in kept))
    for s in reversed(after):
        if s in kept or (isinstance(s, (ast.Assign, ast.AnnAssign)) and set(_assigned_names(s)) & needed
                         and ".backward(" not in ast.unparse(s)):
            hooks.insert(0, s)
            needed |= _loads(s)
    micro_pre = _micro_step_statements(loop.body[j], call)
    state_names, state_pre = _step_state(loop.body[:j], hooks)
    state_init = _top_level_defs(body, stop, set().union(set(), *(_loads(s) for s in state_pre)))
    reads = set().union(set(), *(_loads(s) for s in hooks + micro_pre))
    hooks_init = _top_level_defs(body, stop, reads - setup_names)
    dropped = [ast.unparse(s).splitlines()[0] for s in after if s not in hooks]
    clears = any(_clears_grads(s) for s in _reached_code(hooks, body))
    return FlexPlan(_mod(casts), _mod(setup), _mod(window_init), _mod(pre), window_args, window_kwargs,
                    _mod(hooks_init), _mod(hooks), autocast, dropped, batch_names, clears, _mod(micro_pre),
                    state_names, _mod(state_init), _mod(state_pre), window_setup_names,
                    ast.fix_missing_locations(_loss_scale(loop.body[j], call)))


def _step_state(before: list[ast.stmt], hooks: list[ast.stmt]) -> tuple[list[str], list[ast.stmt]]:
    """The names the optimizer statements read that loop statements before the training call set
    (#52's `is_transition`), and those statements (validation blocks left out), with the ones
    they read in turn, in loop order."""
    hook_reads = set().union(set(), *(_loads(s) for s in hooks)) - set().union(set(), *(_stores(s) for s in hooks))
    candidates = [s for s in before if not _is_validation(s)]
    names = sorted(hook_reads & set().union(set(), *(_stores(s) for s in candidates)) - DRIVER_NAMES)
    needed, kept = set(names), set()
    while True:  # to a fixed point: a statement after one that reads its name carries it to the next step
        more = {i for i, s in enumerate(candidates) if _stores(s) & needed} - kept
        if not more:
            return names, [candidates[i] for i in sorted(kept)]
        kept |= more
        needed |= set().union(*(_loads(candidates[i]) for i in more))


def _micro_step_statements(stmt: ast.stmt, call: ast.Call) -> list[ast.stmt]:
    """Where the training call sits in a micro-step loop (`for idx in range(grad_accum_steps)`),
    that loop's statements before it other than the loader's (`next(train_loader)`, #46's
    `train_loader.send(...)`: whatever binds the call's tokens), with the loop variable bound to
    its last value: one process's one backward stands for the last micro-step."""
    if not isinstance(stmt, ast.For):
        return []
    k = next(i for i, s in enumerate(stmt.body) if any(n is call for n in ast.walk(s)))
    batch = set().union(*(_loads(a) for a in call.args[:2]))  # what the loader yields
    loader = [s for s in stmt.body[:k] if "next(" in ast.unparse(s) or batch & _stores(s)]
    kept = [s for s in stmt.body[:k] if s not in loader]
    # what only the loader reads (#54: `send_args = training_manager.train_loader_send_args`)
    others = set().union(set(), *(_loads(s) for s in kept + stmt.body[k:]))
    feeds = set().union(set(), *(_loads(s) for s in loader)) - others
    kept = [s for s in kept if not (_stores(s) and _stores(s) <= feeds)]
    if not kept:
        return []
    last = ast.parse(f"{ast.unparse(stmt.target)} = list({ast.unparse(stmt.iter)})[-1]").body
    return last + kept
