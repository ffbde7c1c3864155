"""The upstream reference: run a genuine modded-nanogpt / llm.c record's model and optimizer on
the CPU, from a path the user gives (a checkout, or one record file).

    import ref
    up = ref.load(4, "~/src/modded-nanogpt")      # or a .py / .txt record file
    model = up.build_model(vocab_size=128, n_layer=2, n_head=4, n_embd=64)
    logits, loss = up.forward(model, idx, targets)

This package imports torch, never JAX.
"""

from __future__ import annotations

import contextlib
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

from ref.drivers import DRIVERS, Driver
from ref.extract import execute
from ref.manifest import Entry, entries, entry_for
from ref.shims import accurate_norms
from ref.source import Source, SourceError, locate, split_modules

__all__ = ["Reference", "SourceError", "entries", "entry_for", "load"]


@dataclass
class Reference:
    """Upstream's record code, ready to run on the CPU. Every call runs under
    `ref.shims.accurate_norms`: torch's CPU fp32 norms err up to 2.7e-3 at full size, where the
    GPUs upstream ran on reduce accurately."""

    record: str
    entry: Entry
    source: Source
    driver: Driver

    @property
    def module(self):
        return self.driver.m

    def with_options(self, **options: Any) -> "Reference":
        """The same upstream code, freshly executed, under another driver option (records #12 on:
        `precision="record"` runs upstream's own dtype casts and FP8 head)."""
        return _from_source(self.entry, self.source, **options)

    def build_model(self, **shape: Any):
        return self.driver.build_model(**shape)

    def forward(self, model, idx, targets, step: int | None = None):
        """`step`: the training step whose attention window the model runs with (records whose
        model takes a window, #13 on; required there). Other records take no step."""
        with accurate_norms():
            if step is None:
                return self.driver.forward(model, idx, targets)
            return self.driver.forward(model, idx, targets, step)

    def window_args(self, step: int, batch: dict | None = None, model=None):
        """(args, kwargs) of the window the training loop passes the model at `step` (#12+);
        `batch`: what the loader yields besides the tokens (#29+ `cum_seqlens`); `model`: whose
        window state the loop's statements advance (#31+ YaRN), step by step."""
        return self.driver.window_args(step, batch, model)

    def window_value(self, step: int):
        """The window at `step` as an int (#13-#15 tokens, #16+ blocks); None for #12."""
        return self.driver.window_value(step)

    def set_args(self, args) -> None:
        """Replace fields of the record's Hyperparameters (what `build_optimizer` also does)."""
        self.driver.set_args(args)

    def build_optimizer(self, model, args):
        return self.driver.build_optimizer(model, args)

    def weights_changed(self, model) -> None:
        """Tell upstream's code that `model`'s weights were replaced (loaded from a state_dict):
        #84 on, at record precision, main's FP8 copy of the MLP weights is refreshed."""
        refresh = getattr(self.driver, "weights_changed", None)
        if refresh is not None:
            refresh(model)

    def train_step(self, model, opt, idx, targets, step: int, fp32_ns: bool = False) -> float:
        with accurate_norms():
            return self.driver.train_step(model, opt, idx, targets, step, fp32_ns)

    def apply_gradients(self, model, opt, step: int, fp32_ns: bool = False) -> None:
        with accurate_norms():
            self.driver.apply_gradients(model, opt, step, fp32_ns)


def load(record: str | int, path: str | os.PathLike, **options: Any) -> Reference:
    """Record `record`'s upstream code from `path`, its definitions executed, ready to run.
    `options` go to the driver (records #12-#25: `precision="fp32"` or `"record"`)."""
    entry = entry_for(record)
    if entry.family is None:
        raise NotImplementedError(
            f"record {entry.record}'s model and optimizer are not in the zoo yet, so there is no driver to "
            "run them; its data loader can be compared with `python -m parity.loaders`"
        )
    return _from_source(entry, locate(entry.record, path), **options)


def _from_source(entry: Entry, source: Source, **options: Any) -> Reference:
    filename = source.origin
    driver = DRIVERS[entry.family]
    with driver.loading(source.main), _kernel_modules(source, driver):
        module = execute(source.main, filename, namespace=driver.namespace(source.main))
    if not hasattr(module, "GPT"):
        raise SourceError(f"{filename}: no GPT class after extraction")
    return Reference(entry.record, entry, source, driver(module, **options))


@contextlib.contextmanager
def _kernel_modules(source: Source, driver: type[Driver]) -> Iterator[None]:
    """From #61 the script imports its kernels (`from triton_kernels import ...`; #85 on also
    `dc_triton_kernels`): each module the source carries is executed like the script (its
    definitions, the Triton stubs) and importable under its name while the script runs. The
    driver then binds the CPU stand-ins of the names the script imported."""
    extra = {name.removesuffix(".py"): text for name, text in split_modules(source.text).items() if name != "main"}
    saved = {name: sys.modules.get(name) for name in extra}
    try:
        for name, text in extra.items():
            sys.modules[name] = execute(text, f"{source.origin}:{name}.py", namespace=dict(driver.NAMESPACE))
        yield
    finally:
        for name, old in saved.items():
            if old is None:
                sys.modules.pop(name, None)
            else:
                sys.modules[name] = old


def default_upstream(record: str | int) -> Path | None:
    """A checkout named by the environment: JNANO_LLMC for llm.c, JNANO_UPSTREAM for modded-nanogpt."""
    entry = entry_for(record)
    var = "JNANO_LLMC" if entry.repo == "karpathy/llm.c" else "JNANO_UPSTREAM"
    value = os.environ.get(var)
    return Path(value) if value else None
