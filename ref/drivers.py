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
from types import ModuleType, SimpleNamespace
from typing import Any

import torch

from ref.shims import fp32_newton_schulz, quiet


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


class RecordMuonDriver(Driver):
    """Record #4 (2024-10-10_Muon log): the top level builds AdamW(lm_head) + Muon(h) with
    LambdaLR(get_lr) each; the loop steps each optimizer then its scheduler."""

    family = "record_muon"

    def build_optimizer(self, model, args):
        self._set_args(args)
        head = list(model.lm_head.parameters())
        adam = torch.optim.AdamW(head, args.learning_rate, (0.9, 0.95), weight_decay=args.weight_decay, fused=True)
        muon = self.m.Muon(model.transformer.h.parameters(), lr=0.1 * args.learning_rate, momentum=0.95)
        optimizers = [adam, muon]
        schedulers = [torch.optim.lr_scheduler.LambdaLR(o, self.m.get_lr) for o in optimizers]
        return SimpleNamespace(optimizers=optimizers, schedulers=schedulers)

    def apply_gradients(self, model, opt, step, fp32_ns=False):
        # one micro-batch per step: upstream's `p.grad /= train_accumulation_steps` divides by 1
        with self._ns(fp32_ns):
            for o, sched in zip(opt.optimizers, opt.schedulers):
                o.step()
                sched.step()
        model.zero_grad()

    def declared_args(self) -> dict[str, Any]:
        """The record's own `Hyperparameters()` (the numbers it ran with)."""
        return dataclasses.asdict(self.m.Hyperparameters())


DRIVERS = {d.family: d for d in (LlmcDriver, TrainGpt2AdamWDriver, TrainGpt2OrthogonalNesterovDriver, RecordMuonDriver)}
