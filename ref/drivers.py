"""How each upstream code version builds its model and optimizer and takes a training step.

The model, optimizer classes and schedule functions are upstream's own (extracted by
`ref.extract`); a driver only re-enacts the few lines of upstream's training loop that call them
(they live in the dropped top level), in upstream's order. A step is split in two so that
optimizers can also be compared on gradients the caller sets: `train_step` = forward + backward
+ `apply_gradients` (everything the loop does between `loss.backward()` and the next forward).
`args` carries upstream's hyperparameter names (`learning_rate`, `warmup_iters`, ...).
"""

from __future__ import annotations

import ast
import contextlib
import dataclasses
import inspect
import itertools
import re
import weakref
from types import ModuleType, SimpleNamespace
from typing import Any, Iterator

import torch

from ref import flex, kernels, mantissa, toplevel, varlen
from ref.shims import DistStub, FunctionalProxy, TorchProxy, fp32_newton_schulz, quiet, single_process



def _is_kernel_alias(stmt: ast.stmt, m) -> bool:
    """`NAME = Defined.attr`: a new name for an attribute of something the module defines."""
    if not (isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 and isinstance(stmt.targets[0], ast.Name)):
        return False
    value = stmt.value
    while isinstance(value, ast.Attribute):
        value = value.value
    return (isinstance(stmt.value, ast.Attribute) and isinstance(value, ast.Name) and value.id in vars(m)
            and stmt.targets[0].id not in vars(m))

class Driver:
    """Base: builds `GPT(GPTConfig(**shape))` and runs `model(idx, targets)`."""

    family = ""

    def __init__(self, module: ModuleType):
        self.m = module

    @classmethod
    def loading(cls, source: str) -> contextlib.AbstractContextManager:
        """Context in which `ref.load` executes the record's definitions."""
        return contextlib.nullcontext()

    # stand-ins bound where an import fails on the CPU (`ref.extract.execute`)
    NAMESPACE: dict[str, Any] = {}

    @classmethod
    def namespace(cls, source: str) -> dict[str, Any]:
        """What the record's definitions execute in: `NAMESPACE`, and what a driver reads from
        the source itself."""
        return dict(cls.NAMESPACE)

    # -- model ---------------------------------------------------------------------------------
    def build_model(self, **shape: Any) -> torch.nn.Module:
        fields = {f.name for f in dataclasses.fields(self.m.GPTConfig)}
        unknown = set(shape) - fields
        if unknown:
            raise TypeError(f"upstream GPTConfig has no field(s) {sorted(unknown)}; it has {sorted(fields)}")
        with quiet():
            return self.m.GPT(self.m.GPTConfig(**shape))

    def forward(self, model: torch.nn.Module, idx: torch.Tensor, targets: torch.Tensor):
        """(logits, mean loss) as the model computes them in training."""
        logits, loss = model(idx, targets)
        return logits, loss

    # -- optimizer -----------------------------------------------------------------------------
    def build_optimizer(self, model: torch.nn.Module, args: SimpleNamespace) -> Any:
        raise NotImplementedError

    def apply_gradients(self, model, opt, step: int, fp32_ns: bool = False) -> None:
        """What the loop does with `p.grad` after `loss.backward()` at `step`; grads end as the loop
        leaves them (cleared; #39 keeps Adam's over its even steps)."""
        raise NotImplementedError

    def train_step(self, model, opt, idx, targets, step: int, fp32_ns: bool = False) -> float:
        _, loss = model(idx, targets, return_logits=False)
        loss.backward()
        self.apply_gradients(model, opt, step, fp32_ns)
        return loss.item()

    @staticmethod
    def _set_lr(opt, lr: float) -> None:
        for g in opt.param_groups:
            g["lr"] = lr

    def _set_args(self, args: SimpleNamespace) -> None:
        self.m.args = args  # upstream's get_lr reads the global `args`

    @staticmethod
    def _ns(fp32_ns: bool):
        return fp32_newton_schulz() if fp32_ns else contextlib.nullcontext()


class LlmcDriver(Driver):
    """llm.c train_gpt2.py: AdamW with decay groups, clip_grad_norm_, cosine get_lr (absolute)."""

    family = "llmc"

    def build_optimizer(self, model, args):
        self._set_args(args)
        with quiet():
            return model.configure_optimizers(
                weight_decay=args.weight_decay, learning_rate=args.learning_rate,
                betas=(0.9, 0.95), device_type="cpu", zero_stage=0,
            )

    def apply_gradients(self, model, opt, step, fp32_ns=False):
        torch.nn.utils.clip_grad_norm_(model.parameters(), self.m.args.grad_clip)
        self._set_lr(opt, self.m.get_lr(step))
        opt.step()
        opt.zero_grad()  # llm.c clears at the top of the next step


class TrainGpt2AdamWDriver(Driver):
    """Record #2 (train_gpt2.py @ b6b0a0d3): every grad normalised, AdamW at get_lr (absolute)."""

    family = "train_gpt2_adamw"

    def build_optimizer(self, model, args):
        self._set_args(args)
        return model.configure_optimizers(
            weight_decay=args.weight_decay, learning_rate=args.learning_rate,
            betas=(0.9, 0.95), device_type="cpu",
        )

    def apply_gradients(self, model, opt, step, fp32_ns=False):
        for w in model.parameters():
            w.grad = w.grad / (w.grad.norm() + 1e-6)
        self._set_lr(opt, self.m.get_lr(step))
        opt.step()
        opt.zero_grad()


class TrainGpt2OrthogonalNesterovDriver(Driver):
    """Record #3 (train_gpt2.py @ cd06e200): CombinedOptimizer(AdamW head, OrthogonalNesterov),
    `scale_lrs(get_lr(step))`."""

    family = "train_gpt2_orthogonal_nesterov"

    def build_optimizer(self, model, args):
        self._set_args(args)
        return model.configure_optimizers(
            weight_decay=args.weight_decay, learning_rate=args.learning_rate, betas=(0.9, 0.95)
        )

    def apply_gradients(self, model, opt, step, fp32_ns=False):
        for p in model.parameters():
            p.grad /= self.m.args.accumulation
        opt.scale_lrs(self.m.get_lr(step))
        with self._ns(fp32_ns):
            opt.step()
        opt.zero_grad()


class TopLevelDriver(Driver):
    """Records #4-#11: upstream builds its optimizers, schedulers and per-step adjustments at
    module level. The driver executes those very statements (`ref.toplevel`) with the model
    bound to `raw_model`, one process standing for the 8 ranks (world size 1: the Muon of #6+
    hands matrix i to rank i % world). Forward: whatever the model returns, the logits are read
    at the `F.cross_entropy` call."""

    family = "toplevel"

    def __init__(self, module: ModuleType):
        super().__init__(module)
        source = module.__source__
        self.setup = compile(toplevel.optimizer_setup(source), module.__file__, "exec")
        self.hooks = compile(toplevel.step_hooks(source), module.__file__, "exec")
        self.m.dist = DistStub(world_size=1)
        self.torch_proxy = TorchProxy(torch)
        self.m.torch = self.torch_proxy

    def forward(self, model, idx, targets):
        captured = {}
        real = torch.nn.functional.cross_entropy

        def capture(logits, *args, **kwargs):
            captured["logits"] = logits
            return real(logits, *args, **kwargs)

        self.m.F = FunctionalProxy(capture)
        try:
            out = model(idx, targets)
        finally:
            self.m.F = torch.nn.functional
        loss = out[1] if isinstance(out, tuple) else out
        return captured["logits"].view(*idx.shape, -1), loss

    def build_optimizer(self, model, args):
        """`args`: schedule fields (num_iterations, warmup_iters, warmdown_iters) that replace
        those of the record's own `Hyperparameters()` (parity shortens the schedule)."""
        self._set_args(dataclasses.replace(self.m.Hyperparameters(), **vars(args)))
        ns = self.m.__dict__
        ns.update(raw_model=model, ddp_rank=0, ddp_world_size=1)
        with single_process():
            exec(self.setup, ns)
        return SimpleNamespace(optimizers=ns["optimizers"], schedulers=ns.get("schedulers", []))

    def train_step(self, model, opt, idx, targets, step, fp32_ns=False):
        out = model(idx, targets)
        loss = out[1] if isinstance(out, tuple) else out
        loss.backward()  # one micro-batch per step: upstream's `p.grad /= 1` is the identity
        self.apply_gradients(model, opt, step, fp32_ns)
        return loss.item()

    def apply_gradients(self, model, opt, step, fp32_ns=False):
        ns = self.m.__dict__
        ns["step"] = step
        exec(self.hooks, ns)
        self.torch_proxy.buffer_dtype = torch.float32 if fp32_ns else None
        with self._ns(fp32_ns), single_process():
            for o, sched in itertools.zip_longest(opt.optimizers, opt.schedulers):
                o.step()
                if sched is not None:
                    sched.step()
        model.zero_grad()

    def declared_args(self) -> dict[str, Any]:
        """The record's own `Hyperparameters()` (the numbers it ran with)."""
        return dataclasses.asdict(self.m.Hyperparameters())


def _with_environ(os_module: ModuleType, **variables: str) -> ModuleType:
    """A stand-in for the `os` module whose `environ` also holds `variables` (the process's own
    environment is not touched)."""
    proxy = ModuleType("os")
    proxy.__dict__.update(vars(os_module))
    proxy.environ = {**os_module.environ, **variables}
    return proxy


class _Inert:
    """Stands for the model in window statements evaluated without one: every attribute is
    another stand-in and every call does nothing (`model.yarn.apply(ws, new_ws)`)."""

    def __getattr__(self, name):
        return _Inert()

    def __call__(self, *args, **kwargs):
        return None


class FlexDriver(TopLevelDriver):
    """Records #12 on (FlexAttention, then FlashAttention-3 varlen from #29): one packed sequence
    per step, an attention window that the training loop computes from the step, and CUDA-only
    pieces replaced by the stand-ins of `ref.flex` (dense attention from the record's own
    BlockMask, ...), `ref.varlen` (FA3) and `ref.kernels` (Triton).

    Everything the loop does is upstream's own statements (`ref.toplevel.flex_plan`): the
    optimizer set-up, the window statements before the training call and the window arguments
    of that call, and the lr / momentum / `opt.step()` / `zero_grad` statements after the
    backward. Gradient all-reduces, buckets and hooks are identities on one process and are not
    run; neither are validation, timing, logging and data loading.

    `precision="fp32"` (default; fp32 parity): the model stays float32 (main's casts are not
    applied), the FP8 head is off (#21+ `lm_head.use_fp8 = False`, #19/#20 `lm_head_fp8` is a
    plain linear), `tensor.bfloat16()` in the forward and backward is the identity, Muon's
    update buffers are float32. `precision="record"`: main's dtype casts, the FP8 head with
    `_scaled_mm` emulated, #24's CUDA autocast of `F.linear`.
    """

    family = "flex"
    PRECISIONS = ("fp32", "record")
    # `device`: main's `torch.device("cuda", local_rank)`, read by #33's `Yarn.reset`
    # #48 sets two names in top-level statements that are not definitions (so not extracted):
    # `run_id` from a fresh uuid, read by its `Hyperparameters`, and `flash_attn_interface`
    # inside `if 'H100' in gpu_name:` (FA3 from the hub, else the flash_attn package).
    # `grad_accum_steps` (main's `8 // world_size`), read by #61's `advance_schedule`: the driver
    # runs one micro-batch per step. `grad_scale` (#65 on, main's `2 / grad_accum_steps`, from
    # #72 `1 / grad_accum_steps`): bound by `loading` from the record's own line, as on 8 GPUs
    NAMESPACE = {**kernels.NAMESPACE, "flash_attn_varlen_func": varlen.flash_attn_varlen_func,
                 "get_kernel": varlen.get_kernel, "device": "cpu", "run_id": "ref", "grad_accum_steps": 1,
                 "flash_attn_interface": varlen.get_kernel("flash-attention-3").flash_attn_interface}

    def __init__(self, module: ModuleType, precision: str = "fp32"):
        Driver.__init__(self, module)
        if precision not in self.PRECISIONS:
            raise ValueError(f"precision must be one of {self.PRECISIONS}, not {precision!r}")
        self.precision = precision
        source, filename = module.__source__, module.__file__
        self.plan = plan = toplevel.flex_plan(source)

        def code(mod: ast.Module):
            return compile(mod, filename, "exec")

        self._casts, self._setup = code(plan.casts), code(plan.setup)
        self._window_init, self._window_pre = code(plan.window_init), code(plan.window_pre)
        self._hooks_init, self._hooks = code(plan.hooks_init), code(plan.hooks)
        self._micro_pre = code(plan.micro_pre)
        self._state_init, self._state_pre = code(plan.step_state_init), code(plan.step_state_pre)
        self._setup_names = set().union(set(), *(toplevel._stores(s) for s in plan.setup.body))
        self._window_model, self._window_step = None, -1  # whose window state the module holds
        self._built: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # model -> its set-up's names
        self._loss_scale = compile(ast.Expression(plan.loss_scale), filename, "eval")
        self._window_args = [compile(ast.Expression(a), filename, "eval") for a in plan.window_args]
        self._window_kwargs = {k: compile(ast.Expression(v), filename, "eval") for k, v in plan.window_kwargs.items()}
        # the parameter labels `NorMuonAndAdam`'s table (#61 on) gives to Adam
        self._adam_labels = set(re.findall(r'"(\w+)":\s*\{\s*"optim":\s*"adam"', source))
        # upstream's inputs are int32 from #15 on (its loader casts them); targets int64
        self.int32_inputs = bool(re.search(r"\[:-1\]\.to\([^)]*dtype=torch\.int32", source))

        m = self.m
        self.torch_proxy = flex.FlexTorchProxy(torch, flex.op_namespace(source))
        self.torch_proxy.buffer_dtype = torch.float32 if precision == "fp32" else None
        m.torch = self.torch_proxy
        m.dist = flex.FlexDistStub()
        m.flex_attention = flex.flex_attention
        if "create_block_mask" in vars(m):
            m.create_block_mask = flex.create_block_mask
        m.rank, m.world_size = 0, 1
        kernels.install(m, lambda: self.torch_proxy.capture, precision)  # #27 on: Triton kernel wrappers
        mantissa.install(m)  # #57 on: the bf16 weight + mantissa update
        self._unwrap_compiled_methods()
        # dropped top-level statements that complete a definition: `mm_op.register_autograd(...)`
        # and #74's aliases of what the kernel module defines, `ReLUSqrdMLP = FusedLinearReLUSquareFunction.apply`,
        # bound after the stand-ins replaced it
        for stmt in ast.parse(source).body:
            if (isinstance(stmt, ast.Expr) and "register_autograd" in ast.unparse(stmt)) or _is_kernel_alias(stmt, m):
                exec(compile(ast.Module(body=[stmt], type_ignores=[]), filename, "exec"), vars(m))
        if precision == "fp32" and "lm_head_fp8" in vars(m):
            m.lm_head_fp8 = lambda x, w: torch.nn.functional.linear(x, w.type_as(x))
        if precision == "fp32" and "os" in vars(m):
            # upstream's own switch for its FP8 paths: #85 on run the MLP's in every training
            # forward unless `DISABLE_FP8` is set (#84 waited for `quantize_weights_fp8`)
            m.os = _with_environ(m.os, DISABLE_FP8="1")

    @classmethod
    def loading(cls, source):
        return flex.own_op_namespace(source)

    @classmethod
    def namespace(cls, source: str) -> dict[str, Any]:
        """`NAMESPACE`, and main's `grad_scale` (#65 on: `k / grad_accum_steps`, read by the head's
        constructor and the loop) evaluated as on 8 GPUs."""
        out = dict(cls.NAMESPACE)
        scale = next((s.value for s in ast.parse(source).body if isinstance(s, ast.Assign)
                      and [ast.unparse(t) for t in s.targets] == ["grad_scale"]), None)
        if scale is not None:
            out["grad_scale"] = eval(compile(ast.Expression(scale), "<grad_scale>", "eval"), {"grad_accum_steps": 1})
        return out

    def _unwrap_compiled_methods(self) -> None:
        """`@torch.compile` on a method (#25 `DistAdam.step`; #56's static `DistAdam._update_step`)
        is not stripped by `ref.extract`."""
        for obj in list(vars(self.m).values()):
            if isinstance(obj, type) and obj.__module__ == self.m.__name__:
                for name, attr in list(vars(obj).items()):
                    static = isinstance(attr, staticmethod)
                    orig = getattr(attr.__func__ if static else attr, "_torchdynamo_orig_callable", None)
                    if orig is not None:
                        setattr(obj, name, staticmethod(orig) if static else orig)

    @contextlib.contextmanager
    def _precision(self) -> Iterator[None]:
        with (fp32_newton_schulz() if self.precision == "fp32" else contextlib.nullcontext()), \
                (flex.fp32_casts() if self.precision == "fp32" else contextlib.nullcontext()), flex.on_cpu():
            yield

    # -- model ---------------------------------------------------------------------------------
    _ALIASES = {"vocab_size": ("vocab_size",), "n_layer": ("n_layer", "num_layers"),
                "n_head": ("n_head", "num_heads"), "n_embd": ("n_embd", "model_dim"),
                "seq_len": ("max_seq_len",)}

    def _constructor_args(self, names) -> dict[str, str]:
        """Our shape names -> the record's parameter names (`seq_len` only where it has one)."""
        out = {}
        for ours, theirs in self._ALIASES.items():
            hit = [t for t in theirs if t in names]
            if hit:
                out[ours] = hit[0]
            elif ours != "seq_len":
                raise TypeError(f"upstream's model takes none of {theirs}; it takes {sorted(names)}")
        return out

    def _reads_world_size(self, cls_name: str) -> bool:
        """Whether the class reads the module-global `world_size` (#24/#25) or calls
        `dist.get_world_size()` (#26 on)."""
        for node in ast.parse(self.m.__source__).body:
            if isinstance(node, ast.ClassDef) and node.name == cls_name:
                calls = any(isinstance(n, ast.Attribute) and n.attr == "get_world_size" for n in ast.walk(node))
                return calls or "world_size" in toplevel._loads(node)
        return False

    def build_model(self, vocab_size: int, n_layer: int, n_head: int, n_embd: int, seq_len: int) -> torch.nn.Module:
        """Upstream's GPT at our shape; `seq_len`: the tokens per step (a multiple of 128)."""
        if seq_len % 128:
            raise ValueError(f"seq_len {seq_len} is not a multiple of 128 (upstream's block size)")
        ours = dict(vocab_size=vocab_size, n_layer=n_layer, n_head=n_head, n_embd=n_embd, seq_len=seq_len)
        params = inspect.signature(self.m.GPT.__init__).parameters
        if "config" in params:
            mapping = self._constructor_args({f.name for f in dataclasses.fields(self.m.GPTConfig)})
            build = lambda: self.m.GPT(self.m.GPTConfig(**{t: ours[o] for o, t in mapping.items()}))  # noqa: E731
        else:
            mapping = self._constructor_args(set(params))
            # #31 on take the head size too
            extra = {"head_dim": n_embd // n_head} if "head_dim" in params else {}
            build = lambda: self.m.GPT(**{t: ours[o] for o, t in mapping.items()}, **extra)  # noqa: E731
        # #24 on pad their packed scalars to a multiple of the world size, 8 upstream
        ranks = 8 if self._reads_world_size("GPT") else 1
        self.m.world_size = self.m.dist.world_size = ranks
        try:
            with quiet(), single_process(), flex.on_cpu(), \
                    (flex.fp32_casts() if self.precision == "fp32" else contextlib.nullcontext()):
                model = build()
        finally:
            self.m.world_size = self.m.dist.world_size = 1
        if self.precision == "fp32":
            for sub in model.modules():
                if hasattr(sub, "use_fp8"):
                    sub.use_fp8 = False
            # #61 on: NorMuonAndAdam steps a bank (the parameters it gives a `.reshape` view) through
            # its bf16 bits and a uint16 mantissa, so `main` casts them to bf16 and they have no
            # float32 form: bf16 in every precision, as #57-#60 built their weights. (#81's MUDD
            # tensors have a `.reshape` too, but Adam steps them: they stay float32.)
            for p in model.parameters():
                if isinstance(getattr(p, "reshape", None), tuple) and getattr(p, "label", None) not in self._adam_labels:
                    p.data = p.data.bfloat16()
        else:
            ns = vars(self.m)
            ns["model"] = model
            with flex.on_cpu():
                exec(self._casts, ns)
            model = ns["model"]
            self.weights_changed(model)
        return model

    def weights_changed(self, model) -> None:
        """What main does once the weights are new: #84 on, at record precision, refresh the e4m3
        copy of the MLP up-projections (`quantize_weights_fp8`; #85 on `model.quantize_mlp_fp8()`). Main also does it after every
        optimizer step; parity runs no record-precision forward after a step, so only the load
        and the build call this."""
        if self.precision != "record":
            return
        if hasattr(self.m, "quantize_weights_fp8"):
            self.m.quantize_weights_fp8(model)
        elif hasattr(model, "quantize_mlp_fp8"):  # #85 on: a method of the model
            model.quantize_mlp_fp8()

    # -- window ----------------------------------------------------------------------------------
    def set_args(self, args: SimpleNamespace) -> None:
        """The record's `Hyperparameters()` with `args`' fields replaced (e.g. num_iterations).
        From #18 its fields are plain class attributes (no annotations), not dataclass fields."""
        hyper = self.m.Hyperparameters()
        unknown = sorted(set(vars(args)) - set(self.declared_args()))
        if unknown:
            raise TypeError(f"upstream Hyperparameters has no field(s) {unknown}; it has {sorted(self.declared_args())}")
        for name, value in vars(args).items():
            setattr(hyper, name, value)
        self._set_args(hyper)

    def declared_args(self) -> dict[str, Any]:
        """The record's own `Hyperparameters()` (dataclass fields or plain class attributes)."""
        hyper = self.m.Hyperparameters()
        names = [n for n in dir(hyper) if not n.startswith("_") and not callable(getattr(hyper, n))]
        return {n: getattr(hyper, n) for n in names}

    def window_args(self, step: int, batch: dict | None = None, model=None) -> tuple[list, dict]:
        """The window arguments the training loop passes the model at `step`, computed by the
        record's own statements (at `args.num_iterations`); `batch` binds what the loader
        yields besides the tokens (#29 on: `cum_seqlens`).

        The loop's window statements run for every step from 0 (a new `model`) or from the last
        step this model saw: from #31 they change the model as the window grows
        (`model.apply_yarn(ws, new_ws)`), once per change, so the state must follow the steps.
        Without a model (`window_value`) those calls do nothing."""
        ns = vars(self.m)
        for name in self.plan.batch_names:
            ns[name] = (batch or {}).get(name)
        ns["model"] = _Inert() if model is None else model
        if self.plan.window_setup_names:  # #54 on: the window is the state of the model's TrainingManager
            if model is None:
                raise ValueError(f"this record's window lives in what its set-up builds for a model "
                                 f"({', '.join(self.plan.window_setup_names)}): pass the model")
            ns.update(self._built.get(model) or self._set_up(model))
        if model is not None and model is self._window_model and step < self._window_step:
            raise ValueError(f"step {step} after step {self._window_step} on the same model: its window "
                             "state cannot go back (build a fresh model)")
        resume = model is not None and model is self._window_model
        with flex.on_cpu():
            if not resume:
                exec(self._window_init, ns)
            for s in range(self._window_step + 1 if resume else 0, step + 1):
                ns["step"] = s
                exec(self._window_pre, ns)
            ns["step"] = step
            args = [eval(c, ns) for c in self._window_args]
            kwargs = {k: eval(c, ns) for k, c in self._window_kwargs.items()}
        if model is not None:
            self._window_model, self._window_step = model, step
        return args, kwargs

    def _batch_positions(self) -> set[int]:
        return {i for i, a in enumerate(self.plan.window_args)
                if isinstance(a, ast.Name) and a.id in self.plan.batch_names}

    def window_value(self, step: int) -> int | tuple[int, ...] | None:
        """The window at `step` as upstream's tensor holds it (tokens for #13-#15, 128-token
        blocks from #16 on); None where the model takes no window (#12: 1024 tokens, fixed);
        a tuple where it takes several (#33 on: the window, then the last layer's)."""
        args, kwargs = self.window_args(step)
        args = [a for i, a in enumerate(args) if i not in self._batch_positions()]
        # (#53 passes its multi-token weights beside the windows: a float tensor, not a window)
        values = [v for a in (*args, *kwargs.values()) for v in _fields_of(a)]
        windows = [v for v in values if not (isinstance(v, torch.Tensor) and v.is_floating_point())]
        values = [int(v.item()) if isinstance(v, torch.Tensor) else int(v) for v in windows]
        if not values:
            return None
        return values[0] if len(values) == 1 else tuple(values)

    # -- forward ---------------------------------------------------------------------------------
    def forward(self, model, idx, targets, step: int = 0):
        """(logits (1, T, V_head) as given to the cross entropy, upstream's training loss) at
        `step`'s window; idx/targets (1, T). #21c+ return the SUM over tokens, as upstream."""
        if idx.ndim != 2 or idx.shape[0] != 1:
            raise ValueError(f"upstream runs one packed sequence per step: idx must be (1, T), not {tuple(idx.shape)}")
        inputs, target = idx[0], targets[0].to(torch.int64)
        inputs = inputs.to(torch.int32 if self.int32_inputs else torch.int64)
        self.torch_proxy.kv_blocks = inputs.numel() // 128
        args, kwargs = self.window_args(step, self._batch(inputs), model)
        functional = flex.CaptureFunctional(autocast_linear=self.precision == "record" and self.plan.autocast)
        self.m.F = self.torch_proxy.capture = functional
        try:
            with self._precision(), single_process():
                out = model(inputs, target, *args, **kwargs)
        finally:
            self.m.F, self.torch_proxy.capture = torch.nn.functional, None
        loss = out[1] if isinstance(out, tuple) else out
        if loss.ndim:  # #77 on: per-token losses, which the loop sums
            loss = loss.sum()
        # the loss as the loop backpropagates it (#65: `* grad_scale`); `1 / grad_accum_steps` is 1 here
        loss = loss * eval(self._loss_scale, vars(self.m))
        return functional.logits.view(*idx.shape, -1), loss

    def _batch(self, inputs: torch.Tensor) -> dict:
        """What the loader would yield with these tokens: #29 on, `cu_seqlens` of the documents
        starting at each BOS, padded to `next_multiple_of_n(len // 300, 128)` entries; #62 on,
        the bigram hash of the tokens, by the record's own `get_bigram_hash`."""
        out = {}
        for name in self.plan.batch_names:
            if "bigram" in name:
                out[name] = self.m.get_bigram_hash(inputs)
            else:
                docs = -(-(inputs.numel() // 300) // 128) * 128 or 128
                out[name] = varlen.cu_seqlens_of(inputs, varlen.BOS_ID, docs)
        return out

    # -- optimizer -------------------------------------------------------------------------------
    def build_optimizer(self, model, args):
        """`args`: Hyperparameters fields to replace (num_iterations, cooldown_iters or
        cooldown_frac, ...); runs the record's own optimizer set-up on `model`."""
        self.set_args(args)
        names = self._set_up(model)
        return SimpleNamespace(optimizers=names["optimizers"], schedulers=names.get("schedulers", []), names=names)

    def _set_up(self, model) -> dict[str, Any]:
        """Run the record's optimizer set-up on `model`; the names it binds, kept for the model
        (#54's window statements call the `TrainingManager` it builds). At the driver's precision:
        #54's manager resets the model's YaRN tables, cast to bf16 (the identity in fp32)."""
        ns = vars(self.m)
        ns.update(model=model, raw_model=model, ddp_model=model, rank=0, world_size=1)
        with single_process(), quiet(), self._precision():
            exec(self._setup, ns)
        for opt in ns["optimizers"]:
            if hasattr(opt, "generate_custom_param_groups"):  # #36 on: what a rank holds matters
                flex.split_by_rank(opt)
        self._built[model] = names = {n: ns[n] for n in self._setup_names if n in ns}
        return names

    def step_state(self, step: int) -> dict[str, Any]:
        """The loop state the optimizer statements read at `step` (#52's `is_transition`): the
        loop's own statements re-run for steps 0..step in a copy of the module's namespace, with
        an inert model (the window's loop state, and the model's YaRN state, stay as they are)."""
        if not self.plan.step_state_names:
            return {}
        ns = dict(vars(self.m))
        ns.update(model=_Inert(), raw_model=_Inert(), ddp_model=_Inert(), rank=0, world_size=1)
        with flex.on_cpu():
            exec(self._state_init, ns)
            for s in range(step + 1):
                ns["step"] = s
                exec(self._state_pre, ns)
        return {name: ns[name] for name in self.plan.step_state_names}

    def apply_gradients(self, model, opt, step, fp32_ns=False):
        ns = vars(self.m)
        ns.update(opt.names)
        ns.update(self.step_state(step))
        ns.update(model=model, raw_model=model, ddp_model=model, step=step, rank=0, world_size=1)
        # Muon's bf16 update buffers (#12-#23) follow the Newton-Schulz precision of this step
        self.torch_proxy.buffer_dtype = torch.float32 if fp32_ns else None
        for name in self.plan.batch_names:  # (#71's micro-step reads the hash it does nothing with on one GPU)
            ns.setdefault(name, None)
        with self._ns(fp32_ns), single_process(), quiet(), flex.on_cpu():
            exec(self._hooks_init, ns)
            exec(self._micro_pre, ns)
            _fire_gradient_hooks(model)
            exec(self._hooks, ns)
        if not self.plan.clears_grads:  # #39's odd steps clear them, its even steps keep Adam's
            model.zero_grad(True)  # set_to_none

    def train_step(self, model, opt, idx, targets, step, fp32_ns=False):
        _, loss = self.forward(model, idx, targets, step)
        with self._precision():
            loss.backward()
        self.apply_gradients(model, opt, step, fp32_ns)
        return loss.item()


def _fields_of(value) -> list:
    """A window argument's values: a dataclass's fields (#54's `ForwardScheduleConfig(mtp_weights,
    ws_short, ws_long)`), else the value itself."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return [getattr(value, f.name) for f in dataclasses.fields(value)]
    return [value]


def _fire_gradient_hooks(model) -> None:
    """Call every post-accumulate-grad hook on the gradients as they stand, as the last backward
    of the step would with the loop's flags now set (#44's Adam starts its reduce-scatters in
    them). Gradients set without a backward (parity's synthetic ones) need this; after a real
    backward the hooks run again on the same gradients, which they only read."""
    for p in model.parameters():
        if p.grad is not None:
            for hook in (getattr(p, "_post_accumulate_grad_hooks", None) or {}).values():
                hook(p)


DRIVERS = {d.family: d for d in (LlmcDriver, TrainGpt2AdamWDriver, TrainGpt2OrthogonalNesterovDriver, TopLevelDriver,
                                  FlexDriver)}
