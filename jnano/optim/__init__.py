"""Optimizers of the records: AdamW groups (optax), OrthogonalNesterov, Muon and DistAdam (ours)."""

from jnano.optim.build import build_optimizer, param_labels
from jnano.optim.dist_adam import dist_adam
from jnano.optim.muon import Orthogonalizer, lerp_weights, nesterov_orthogonalized, orthogonal_nesterov, torch_lerp
from jnano.optim.newton_schulz import newton_schulz5
from jnano.optim.schedules import multiplier

__all__ = ["Orthogonalizer", "build_optimizer", "dist_adam", "lerp_weights", "multiplier", "nesterov_orthogonalized",
           "newton_schulz5", "orthogonal_nesterov", "param_labels", "torch_lerp"]
