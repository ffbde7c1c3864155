"""S45 — record #85 "MUDD gates and Lightweight Dynamically Composable MHA" (2026-05-27
MuddGatedAndDC, 1.271 min, PR #315). Merges #81-#84 (MUDD, XSA, the bigram sign trick, the FP8
MLP up-projection) and reworks them.

The diff to S44 (#84, FP8 MLP up-projection and #79's loss kernel):
- **The bigram sign trick (#83)** at the full width: `bigram_embed` (50304 x 7.5, 768). The first
  injection goes into a copy of x0 this time: the layers' x0 injections read the normed
  embedding without it; the stream entering layer 0 ("cache 0") has it.
- **MUDD (#81) in its own layout**: `mudd_w1` (2, 64, d), `mudd_w2` (2, 14, 64) (rows are
  coefficients), `mudd_b2` (2, 14); `(gelu(x W1ᵀ) W2ᵀ + b) · 0.1`. Before layer 10 (from the stream
  entering it, h9): 14 coefficients, `v_mudd = m0 c0 + m1 h7 + m2 h9` (no 1.15 gain) joins layer
  10's values with its value embedding gated per half of the heads (m6, m7: `2.0` at init); the
  stream becomes `(1 + m5) h9 + m3 c0 + m4 h7`; m8..m13 replace layer 10's resid/post lambdas and
  its x0/bigram injections (its x0 injection reads c0). After layer 10: `x += m c0 + m h7 + m h9
  + m ve(layer 1) + m h3`, the backout absorbed into the bias of h7 (-0.5).
- **The MUDD gate**, a second such MLP (`mudd_gate_w1` (2, 64, d), `mudd_gate_w2` (2, 41, 64),
  `mudd_gate_b2`), scaled by a trained 0-dim `_mudd_gate_scale` (0.1), run on x0 (26 values) and
  on the stream entering layer 4 (41 values). It gives per token what were parameters:
  XSA's alphas (#82, now only on layers 1, 3, 4, 7, one per head and token), the heads' output
  gates of layers 3 and 10 (as they are, no sigmoid; the other layers lose theirs), the x0 and
  bigram injection gates of layers 0-5 and 7-9, the skip gate, and layer 10's DC weights.
- **Lightweight dynamically composable attention on layer 10** (`jnano.nn.dc_attention`): the
  heads' softmax maps over the last 112 keys, mixed by `rms_norm(w1)` per token, added back per
  head times w2. Order in the attention: FA3, DC, XSA, gate, output projection.
- The value gates of layers 1, 2, 8, 9 read `[x[:6], ve[:6]]` on the paired layers too.
- Gone: `skip_gate`, `attn_gate_bank`, `x0_lambdas`, `bigram_lambdas`, backout's scalar slot; the
  skip lambda starts at -1.5 (as before).
- Six heads exactly: the gates' layout is six columns per layer.
1275 + 15 steps.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import ClassVar, NamedTuple

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Bool, Float

from jnano.nn import Linear, rms_norm, rms_norm_eps
from jnano.nn.dc_attention import composition_mask, post_only_composition
from jnano.nn.masks import document_causal
from jnano.nn.mlp import gelu_exact
from jnano.nn.precision import scaled, times
from jnano.stages import s41_mudd, s44_fp8_mlp_up
from jnano.stages.base import recast
from jnano.stages.s13_packed_scalars import Block
from jnano.stages.s22b_premul_out import RowBankAttention
from jnano.stages.s23_partial_key_offset import BACKOUT_BLOCK, SKIP_FROM, SKIP_TO
from jnano.stages.s29_paired_heads import PairedHeadAttention
from jnano.stages.s31_bigram_embed import HalfKeyOffsetAttention
from jnano.stages.s34_shifted_value_embeds import gated_own_values
from jnano.stages.s42_xsa import without_own_value
from jnano.stages.s43_bigram_signs import BigramSigns

RECORDS = ("85",)
HEADS = 6
HIDDEN = 64
MUDD_SCALE = 0.1  # `_mudd_scale`, a Python float
GATE_SCALE_INIT = 0.1  # `_mudd_gate_scale`, a trained 0-dim parameter
MUDD_COEFFICIENTS = (14, 5)  # before layer 10, after it
GATE_COEFFICIENTS = (26, 41)  # on x0, before layer 4
GATED_LAYER = 4  # the post gate runs on the stream entering this layer


class GateLayout(NamedTuple):
    """Where a gate MLP's output columns go: layer -> first column (six per layer for XSA and the
    heads' gates; x0 then bigram for the injections)."""

    xsa: dict[int, int]
    heads: dict[int, int]
    inject: dict[int, int]


PRE_LAYOUT = GateLayout(xsa={1: 0, 3: 6}, heads={3: 12}, inject={0: 18, 1: 20, 2: 22, 3: 24})
POST_LAYOUT = GateLayout(xsa={4: 0, 7: 6}, heads={10: 12}, inject={4: 18, 5: 20, 7: 22, 8: 24, 9: 26})
SKIP_COLUMN = 28
DC_COLUMNS = (29, 35)  # w1, w2: six each
# `mudd_b2[0]`'s named columns (the coefficients before layer 10)
V_SOURCES, RESID_SOURCES = (0, 1, 2), (3, 4, 5)  # over (c0, h7, h9)
VALUE_GATES = (6, 7)
RESID_ATTN, POST_ATTN, X0_INJECT, BIGRAM_INJECT, RESID_MLP, POST_MLP = range(8, 14)


@dataclass(frozen=True)
class Config(s44_fp8_mlp_up.Config):
    bigram_vocab_size: int = 377_280  # 7.5 rows per padded vocabulary id (#83: 15)
    bigram_dim: int = 768  # the full width again (#83: 192)
    bigram_sign_rows: int = 8192


def mudd_bias_init() -> jax.Array:
    """`mudd_b2` as upstream sets it (pre-scale): layer 10's value gates 2, its lambdas at their
    #74 values (resid sqrt 1.1, post 1, x0 0, bigram 0.05), the backout (-0.5 of h7) after it."""
    b = jnp.zeros((2, MUDD_COEFFICIENTS[0]), jnp.float32)
    values = {VALUE_GATES[0]: 2.0, VALUE_GATES[1]: 2.0, RESID_ATTN: 1.1 ** 0.5, POST_ATTN: 1.0,
              BIGRAM_INJECT: 0.05, RESID_MLP: 1.1 ** 0.5, POST_MLP: 1.0}
    for column, value in values.items():
        b = b.at[0, column].set(value / MUDD_SCALE)
    return b.at[1, 1].set(-0.5 / MUDD_SCALE)


def gate_bias_init() -> jax.Array:
    """`mudd_gate_b2` (pre-scale): heads' gates 0.25, bigram gates 0.05, the skip gate 0.5, DC's
    w1 1.0; XSA alphas, x0 gates and DC's w2 0."""
    b = jnp.zeros((2, GATE_COEFFICIENTS[1]), jnp.float32)
    for row, layout in enumerate((PRE_LAYOUT, POST_LAYOUT)):
        for column in layout.heads.values():
            b = b.at[row, column:column + HEADS].set(0.25 / GATE_SCALE_INIT)
        for column in layout.inject.values():
            b = b.at[row, column + 1].set(0.05 / GATE_SCALE_INIT)
    b = b.at[1, SKIP_COLUMN].set(0.5 / GATE_SCALE_INIT)
    return b.at[1, DC_COLUMNS[0]:DC_COLUMNS[1]].set(1.0 / GATE_SCALE_INIT)


def small_mlp(x, w1, w2, b2):
    """`F.linear(gelu(F.linear(x, w1)), w2) + b2` in x's dtype (the gelu in float32, rounded once)."""
    hidden = x @ w1.astype(x.dtype).T
    hidden = gelu_exact(hidden.astype(jnp.float32)).astype(hidden.dtype)
    return hidden @ w2.astype(hidden.dtype).T + b2.astype(hidden.dtype)


class LayerControls(NamedTuple):
    """What the gate MLPs give a layer per token, (B, T, ...), or None where it has none."""

    xsa: jax.Array | None = None  # (B, T, heads)
    heads: jax.Array | None = None  # (B, T, heads)
    x0: jax.Array | None = None  # (B, T, 1)
    bigram: jax.Array | None = None  # (B, T, 1)


def unpack(gate: jax.Array, layout: GateLayout, controls: dict[int, LayerControls]) -> None:
    for layer in set(layout.xsa) | set(layout.heads) | set(layout.inject):
        c = controls.get(layer, LayerControls())
        if layer in layout.xsa:
            c = c._replace(xsa=gate[..., layout.xsa[layer]:layout.xsa[layer] + HEADS])
        if layer in layout.heads:
            c = c._replace(heads=gate[..., layout.heads[layer]:layout.heads[layer] + HEADS])
        if layer in layout.inject:
            col = layout.inject[layer]
            c = c._replace(x0=gate[..., col:col + 1], bigram=gate[..., col + 1:col + 2])
        controls[layer] = c


class Composition(NamedTuple):
    """Layer 10's DC weights per token and head, and the keys each query's composed map covers."""

    w1: Float[Array, "batch seq heads"]
    w2: Float[Array, "batch seq heads"]
    mask: Bool[Array, "batch seq seq"]


class TokenGated:
    """Mixin (#85): the heads' output gate and XSA's alpha given per token (`attn_gate`,
    `xsa_alpha`, (B, T, heads) or None), set on the layer for one forward. The gate multiplies
    as it is; XSA (`own_value_removed`, #82's function, per token) comes before it."""

    own_value_removed: ClassVar = staticmethod(without_own_value)

    def attended(self, y, v):
        if self.xsa_alpha is None:
            return y
        B, T, H, D = v.shape
        return self.own_value_removed(y.reshape(B, T, H, D), v, self.xsa_alpha).reshape(B, T, -1)

    def mixed(self, x, vi, lambdas, layer):
        bank = self.bank()
        y = self.heads(x, bank, vi, lambdas, layer.mask, rope=layer.rope, scale=layer.scale)
        if self.attn_gate is not None:
            B, T, _ = x.shape
            y = (y.reshape(B, T, self.n_head, -1) * self.attn_gate.astype(y.dtype)[..., None]).reshape(B, T, -1)
        return y @ self.output_weight(bank, lambdas, y.dtype).T


class TokenGatedAttention(TokenGated, RowBankAttention):
    attn_gate: Float[Array, "batch seq heads"] | None
    xsa_alpha: Float[Array, "batch seq heads"] | None


class TokenGatedPairedAttention(TokenGated, PairedHeadAttention):
    """(XSA never applies: the paired layers' heads do not line up with their values.)"""

    attn_gate: Float[Array, "batch seq heads"] | None
    xsa_alpha: None


class ComposedAttention(TokenGated, HalfKeyOffsetAttention):
    """Layers 3 and 10 (long window, key offset); `composition` set: #85's DC (layer 10)."""

    attn_gate: Float[Array, "batch seq heads"] | None
    xsa_alpha: Float[Array, "batch seq heads"] | None
    composition: Composition | None

    def composed(self, y, q, k, v, scale):
        if self.composition is None:
            return y
        c = self.composition
        return post_only_composition(y, q, k, v, c.w1, c.w2, c.mask, scale)


def _is_none(node) -> bool:
    return node is None


class GPT(BigramSigns, s44_fp8_mlp_up.GPT):
    config: Config = eqx.field(static=True)
    bigram_sign_table: Float[Array, "sign_rows bigram_dim"]
    mudd_w1: Float[Array, "2 hidden dim"]
    mudd_w2: Float[Array, "2 coefficients hidden"]
    mudd_b2: Float[Array, "2 coefficients"]
    mudd_gate_w1: Float[Array, "2 hidden dim"]
    mudd_gate_w2: Float[Array, "2 coefficients hidden"]
    mudd_gate_b2: Float[Array, "2 coefficients"]
    _mudd_gate_scale: Float[Array, ""]
    min_heads: ClassVar[int] = HEADS

    tail_scalar = s41_mudd.GPT.tail_scalar  # [pairs | smear | skip | pad], as #81

    def with_banked_gates(self):
        return self  # no gate banks left on the attention; the value gates are read in `lanes`

    def mudd(self, x, which: int):
        n = MUDD_COEFFICIENTS[which]
        out = times(small_mlp(x, self.mudd_w1[which], self.mudd_w2[which, :n], self.mudd_b2[which, :n]), MUDD_SCALE)
        return [out[..., k:k + 1] for k in range(n)]

    def gate(self, x, which: int):
        n = GATE_COEFFICIENTS[which]
        out = small_mlp(x, self.mudd_gate_w1[which], self.mudd_gate_w2[which, :n], self.mudd_gate_b2[which, :n])
        return out * self._mudd_gate_scale.astype(out.dtype)

    def controlled(self, block: Block, controls: LayerControls, composition: Composition | None) -> Block:
        attn = eqx.tree_at(lambda a: (a.attn_gate, a.xsa_alpha), block.attn, (controls.heads, controls.xsa),
                           is_leaf=_is_none)
        if composition is not None:
            attn = eqx.tree_at(lambda a: a.composition, attn, composition, is_leaf=_is_none)
        return Block(attn, block.mlp)

    def lanes(self, idx, window):
        n, H = self.config.n_layer, self.config.n_head
        fed = n - 1
        sa_lambdas = self.scalars[:2 * n].reshape(n, 2)
        resid, post = self.resid_lambdas, self.post_lambdas
        values, masks = self.layer_values(idx), self.layer_masks(idx, window)
        value_gates = dict(zip(self.value_layers(), self.ve_gate_bank))
        x0 = rms_norm(self.token_embeddings(idx))
        bigram = self.bigram_embeddings(idx)
        narrow = bigram.shape[-1]

        def with_bigram(x, g):
            return x.at[..., :narrow].add((bigram.astype(x.dtype) * g).astype(x.dtype))

        controls: dict[int, LayerControls] = {}
        unpack(self.gate(x0, 0), PRE_LAYOUT, controls)
        x = with_bigram(x0, controls[0].bigram)
        c0, h3, h7, h9, skip_gate, composition = x, None, None, None, None, None
        for i, block in enumerate(self.blocks):
            m = None
            if i == GATED_LAYER:
                post_gate = self.gate(x, 1)
                unpack(post_gate, POST_LAYOUT, controls)
                skip_gate = post_gate[..., SKIP_COLUMN:SKIP_COLUMN + 1]
                w1, w2 = (post_gate[..., c:c + H] for c in DC_COLUMNS)
                w1 = rms_norm_eps(w1.astype(jnp.float32), 1e-6).astype(x.dtype)
                doc = jax.vmap(document_causal)(idx)
                composition = Composition(w1, w2, composition_mask(doc))
            if i == SKIP_TO:
                x = x + scaled(jax.nn.sigmoid(self.tail_scalar(2)), skip_gate) * h3
            if block.attn is not None:
                attn_in = rms_norm(x if h7 is None else h7)
                ctl = controls.get(i, LayerControls())
                if i == fed:
                    h9 = x
                    m = self.mudd(x, 0)
                    v_mudd = m[V_SOURCES[0]] * c0 + m[V_SOURCES[1]] * h7 + m[V_SOURCES[2]] * x
                    x = (1 + m[RESID_SOURCES[2]]) * x + m[RESID_SOURCES[0]] * c0 + m[RESID_SOURCES[1]] * h7
                    lanes = jnp.concatenate([m[VALUE_GATES[0]], m[VALUE_GATES[1]]], axis=-1)
                    gate = jnp.repeat(lanes, H // 2, axis=-1)[..., None]
                    B, T, _ = x.shape
                    ve = values[i].reshape(B, T, H, -1).astype(gate.dtype)
                    vi = gate * ve + v_mudd.reshape(B, T, H, -1)
                elif values[i] is not None:
                    vi = gated_own_values(Linear(value_gates[i]), attn_in, values[i], H)
                else:
                    vi = None
                layer = self.controlled(block, ctl, composition if i == fed else None)
                out = layer.attn.mixed(attn_in, vi, sa_lambdas[i], masks[i])
                if m is not None:
                    x = m[RESID_ATTN] * x + m[POST_ATTN] * out + c0 * m[X0_INJECT]
                    x = with_bigram(x, m[BIGRAM_INJECT])
                else:
                    x = scaled(resid[i, 0], x) + scaled(post[i, 0], out) + x0 * ctl.x0
                    if i != 0:
                        x = with_bigram(x, ctl.bigram)
            mlp_out = block.mlp(rms_norm(x))
            if m is not None:
                x = m[RESID_MLP] * x + m[POST_MLP] * mlp_out
            else:
                x = scaled(resid[i, 1], x) + scaled(post[i, 1], mlp_out)
            if i == SKIP_FROM:
                h3 = x
            if i == BACKOUT_BLOCK:
                h7 = x
        last = self.mudd(x, 1)
        ve1 = values[1].astype(x.dtype)
        return x + last[0] * c0 + last[1] * h7 + last[2] * h9 + last[3] * ve1 + last[4] * h3


def _regated(i: int, block: Block) -> Block:
    """Layer i's attention as #85 runs it: its gates given per token, its value gate outside."""
    attn = block.attn
    if attn is None:
        return block
    common = dict(qkvo_w=attn.qkvo_w, n_head=attn.n_head, attn_gate=None, xsa_alpha=None)
    if isinstance(attn, PairedHeadAttention):
        return Block(TokenGatedPairedAttention(**common), block.mlp)
    if isinstance(attn, HalfKeyOffsetAttention):
        return Block(ComposedAttention(**common, composition=None), block.mlp)
    return Block(TokenGatedAttention(**common), block.mlp)


def init(config: Config, key: jax.Array) -> GPT:
    if config.n_head != HEADS:
        raise ValueError(f"#85's gates are laid out for exactly {HEADS} heads, not {config.n_head}")
    base = s44_fp8_mlp_up.init(config, key)
    d = config.n_embd
    bound = 1.0 / math.sqrt(d)  # kaiming_uniform(a=sqrt 5) of a (64, d) matrix

    def first_layers(salt):
        return jax.random.uniform(jax.random.fold_in(key, salt), (2, HIDDEN, d), jnp.float32, -bound, bound)

    signs = jnp.sign(jax.random.normal(jax.random.fold_in(key, 83), (config.bigram_sign_rows, config.bigram_dim)))
    return recast(
        base, GPT, config=config, blocks=tuple(_regated(i, b) for i, b in enumerate(base.blocks)),
        scalars=s41_mudd.mudd_scalars(config.n_layer, config.world_size),
        skip_gate=None, attn_gate_bank=None, x0_lambdas=None, bigram_lambdas=None,
        bigram_embed=type(base.bigram_embed)(jnp.zeros((config.bigram_vocab_size, config.bigram_dim), jnp.float32)),
        bigram_sign_table=signs.astype(jnp.bfloat16),
        mudd_w1=first_layers(81), mudd_w2=jnp.zeros((2, MUDD_COEFFICIENTS[0], HIDDEN), jnp.float32),
        mudd_b2=mudd_bias_init(),
        mudd_gate_w1=first_layers(85), mudd_gate_w2=jnp.zeros((2, GATE_COEFFICIENTS[1], HIDDEN), jnp.float32),
        mudd_gate_b2=gate_bias_init(), _mudd_gate_scale=jnp.asarray(GATE_SCALE_INIT, jnp.float32))


def config_from_shapes(shapes: dict[str, tuple[int, ...]], base: Config) -> Config:
    vocab, dim = shapes["embed.weight"]
    rows, bigram_dim = shapes["bigram_embed.weight"]
    return dataclasses.replace(base, vocab_size=vocab, n_layer=shapes["mlp_bank"][0] - 1, n_embd=dim,
                               n_head=shapes["ve_gate_bank"][1], bigram_vocab_size=rows, bigram_dim=bigram_dim,
                               bigram_sign_rows=shapes["bigram_sign_table"][0])


__all__ = ["ComposedAttention", "Composition", "Config", "GPT", "GateLayout", "LayerControls", "RECORDS",
           "TokenGated", "TokenGatedAttention", "TokenGatedPairedAttention", "config_from_shapes",
           "gate_bias_init", "init", "mudd_bias_init", "small_mlp", "unpack"]
