"""Shared building blocks; each stage composes these and defines only what it changes."""

from jnano.nn.attention import dense_causal_attention, masked_attention
from jnano.nn.linear import Embedding, Linear, LinearT, normal, torch_linear_default
from jnano.nn.losses import cross_entropy
from jnano.nn.mlp import MLP, gelu_exact, gelu_tanh, relu_squared
from jnano.nn.norms import LayerNorm, rms_norm, rms_norm_eps
from jnano.nn.rotary import (
    apply_rotary_half_split,
    half_truncated_frequencies,
    inverse_frequencies,
    inverse_frequencies_pow,
    rotary_cos_sin,
)
from jnano.nn.softcap import tanh_softcap

__all__ = [
    "Embedding", "LayerNorm", "Linear", "LinearT", "MLP", "apply_rotary_half_split", "cross_entropy",
    "dense_causal_attention", "masked_attention", "gelu_exact", "gelu_tanh", "half_truncated_frequencies",
    "inverse_frequencies", "inverse_frequencies_pow", "normal",
    "relu_squared", "rms_norm", "rms_norm_eps", "rotary_cos_sin", "tanh_softcap", "torch_linear_default",
]
