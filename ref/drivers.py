"""How each upstream code version builds its model and optimizer and takes a training step.

The model, optimizer classes and schedule functions are upstream's own (extracted by
`ref.extract`); a driver only re-enacts the few lines of upstream's training loop that call them
(they live in the dropped top level), in upstream's order. A step is split in two so that
optimizers can also be compared on gradients the caller sets: `train_step` = forward + backward
+ `apply_gradients` (everything the loop does between `loss.backward()` and the next forward).
`args` carries upstream's hyperparameter names (`learning_rate`, `warmup_iters`, ...).
"""

from __future__ import annotations

import contextlib
import dataclasses
import itertools
from types import ModuleType, SimpleNamespace
from typing import Any

import torch

from ref import toplevel
from ref.shims import DistStub, FunctionalProxy, TorchProxy, fp32_newton_schulz, quiet, single_process


class Driver:
    """Base: builds `GPT(GPTConfig(**shape))` and runs `model(idx, targets)`."""

    family = ""

    def __init__(self, module: ModuleType):
        self.m = module

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
        """What the loop does with `p.grad` after `loss.backward()` at `step`; grads end cleared."""
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


DRIVERS = {d.family: d for d in (LlmcDriver, TrainGpt2AdamWDriver, TrainGpt2OrthogonalNesterovDriver, TopLevelDriver)}
