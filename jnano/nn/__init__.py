"""Shared building blocks; each stage composes these and defines only what it changes."""

from jnano.nn.attention import dense_causal_attention
from jnano.nn.linear import Embedding, Linear, normal, torch_linear_default
from jnano.nn.losses import cross_entropy
from jnano.nn.mlp import MLP, gelu_exact, gelu_tanh
from jnano.nn.norms import LayerNorm, rms_norm, rms_norm_eps
from jnano.nn.rotary import apply_rotary_half_split, inverse_frequencies, rotary_cos_sin

__all__ = [
    "Embedding", "LayerNorm", "Linear", "MLP", "apply_rotary_half_split", "cross_entropy",
    "dense_causal_attention", "gelu_exact", "gelu_tanh", "inverse_frequencies", "normal",
    "rms_norm", "rms_norm_eps", "rotary_cos_sin", "torch_linear_default",
]
