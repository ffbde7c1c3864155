"""Optimizers of the records: AdamW groups (optax), OrthogonalNesterov and Muon (ours)."""

from jnano.optim.build import build_optimizer, param_labels
from jnano.optim.muon import Orthogonalizer, nesterov_orthogonalized, orthogonal_nesterov
from jnano.optim.newton_schulz import newton_schulz5
from jnano.optim.schedules import multiplier

__all__ = ["Orthogonalizer", "build_optimizer", "multiplier", "nesterov_orthogonalized", "newton_schulz5",
           "orthogonal_nesterov", "param_labels"]
