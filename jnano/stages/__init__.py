"""Architecture stages by name. Each stage module defines `Config`, `init(config, key)`,
`config_from_shapes(shapes, base)` and `RECORDS`; its model class subclasses
`jnano.stages.base.LanguageModel`."""

from __future__ import annotations

import importlib
from types import ModuleType

STAGES: dict[str, str] = {
    "s0_llmc": "llm.c GPT-2 baseline (record 1)",
    "s1_rotary": "RoPE, RMSNorm, no biases, tuned AdamW (record 2)",
    "s2_muon": "first Muon: OrthogonalNesterov (3), Muon with QKV split (4)",
    "s3_modern": "padded vocab, 6x128 heads, QK-norm, ReLU^2, zero-init projections (5-7)",
    "s4_untied": "untied zero-init head, N(0,1) normed embedding (8)",
    "s5_shortcuts": "value residual, x0 lambdas, tanh softcap 30 (9-10)",
    "s6_unet": "U-net skip connections (11)",
    "s7_flex": "FlexAttention on one packed 64K sequence, document mask, token window (12-13)",
    "s8_value_embeds": "12 value-embedding chunks replace the layer-0 value residual (14)",
    "s8b_unet_value_embeds": "6 U-net value-embedding chunks, lambdas pair, token window in blocks (15)",
    "s8c_block_window": "6 value tables, module renames, 128-token block window (16)",
    "s9_sparse_value_embeds": "3 value tables, no attention in block 7, half-truncated RoPE (17-18)",
    "s10_fp8_head": "FP8 head in training, 30 sigmoid(z/7.5) logits, new init (19)",
    "s11_merged_qkv": "merged qkv_w, attention scale 0.12, long/short windows (20-21)",
    "s12_list_value_embeds": "value tables as a plain list (21b)",
    "s12b_scaled_logits": "FP8 divide convention, 30 sigmoid(z/(7.5 sqrt(d))), summed train loss (21c-23)",
    "s13_packed_scalars": "all scalars packed in one parameter for DistAdam (24-25; 26 = S14, BOS-aligned loader)",
    "s15_qkvo_bank": "qkvo_w (4, d, d) bank, (d, 4d) MLP matrices, Triton Newton-Schulz (27)",
    "s16_attention_gate": "sigmoid gate per head from dim/64 input channels, 30 sigmoid(z/7.5) logits (28)",
    "s17_varlen": "FlashAttention-3 varlen: token windows q - k <= 128 n, n in (3, 7, 11); 12-channel gate (29)",
    "s17b_no_first_mlp": "no MLP in block 0 (30)",
    "s18_yarn": "YaRN RoPE rescaling and attention scale per window, final validation window 13 (31)",
    "s18b_skip_gates": "sigmoid skip gates (init -1.5), bf16 RoPE tables, bf16 Linear weights and Adam moments (32)",
    "s18c_final_layer_window": "the last layer's window apart: 20 blocks at the final validation (33)",
    "s18d_smear": "each token's embedding takes in a gated share of the previous one's (34)",
    "s19_drop_first_attention": "empty block 0, skips 1-5 -> 6-10, long layers at the final window, 40 extension steps (35)",
    "s19b_flat_qkvo_bank": "qkvo_w stored flat (d, 4d), Muon grouped by module: banks orthogonalised blockwise (36)",
    "s19c_bf16_cross_entropy": "bf16 logits through the sigmoid, bf16 training cross entropy (37; 38 Polar Express, 39 Adam every 2nd step)",
    "s20_backout": "the stream gives back a learned share of block 8's output before the norm (40; 41-42 NorMuon, 43-44 cautious weight decay)",
    "s21_single_skip": "one skip, block 4 -> block 7, block lambdas start at 1.1 (45; 46 batch-size stages)",
    "s22_lambda_on_weights": "the attention's lambda_0 scales the q/k/v weights, v + lambda_1 ve (47)",
    "s22b_premul_out": "matrices stored output rows first, lambda_1 pre-multiplies W_O (48)",
    "s23_partial_key_offset": "11 blocks (empty block 0 gone), x0 mixed outside the blocks, long layers' keys offset by one (49; 50 cautious decay on Adam)",
    "s23b_retied_head": "the head's weight embeds the tokens again, N(0, 0.005), fixed FP8 head scales (51)",
    "s23c_x0_lambdas": "x0 lambdas a parameter of their own (52: smear gate on Adam, scalars frozen at transitions)",
    "s24_multi_token": "multi-token prediction loss; embed untied from the head at 2/3 with Adam's state (53)",
    "s25_logit_rescale": "logits 23 sigmoid((z + 5) / 7.5) (54: the loop rewritten around a TrainingManager)",
    "s26_value_skip_gates": "per-head gates on the value embeddings, a per-token gate on the skip (55)",
    "s27_gate_banks": "the attention and value gates moved into two banks trained by Adam (56)",
    "s28_bf16_weights": "attention and MLP matrices stored in bf16, NorMuon's float32 master in a mantissa (57)",
    "s29_paired_heads": "interleaved RoPE; layers 0, 2, 5, 9 attend in head pairs over the doubled row (58-59)",
    "s29b_fused_softcapped_loss": "the training loss from the raw head output, softcap and CE in float32 (60)",
    "s30_unified_banks": "attention and MLP weights in two banks, the head stored transposed, embed synced (61)",
    "s31_bigram_embed": "bigram hash embedding added at every layer's mix; key offset on the position-free half (62)",
    "s31b_untied_value_embeds": "five value tables, one per value layer (63)",
    "s31c_mimetic_init": "mimetic W_V / W_O initialisation, +-sqrt(0.05) I per head (64)",
    "s32_fused_value_embeds": "the value tables one bf16 parameter, the loss x2 (grad_scale), staged schedules (65-66)",
    "s33_fp8_in_loss": "the FP8 head inside the loss kernel (float32 gradient to e5m2), all attention drawn (67)",
    "s33b_device_bigram_hash": "#65's function with #67's init; the bigram hash with the true first token (68)",
    "s33c_kernel_tuning": "#65's function with #67's init (69, 71)",
    "s34_shifted_value_embeds": "value tables on layers 1, 2, 8-10, gates reading the embedding too, N(0, .01) (70)",
    "s35_short_window": "#67 with grad_scale 1 and a 2-block short window in the third stage (72)",
    "s36_partitioned_lanes": "two residual lanes from layer 7, per-sublayer bf16 lambdas; #67's loss, #68's hash (73)",
    "s37_flattened_forward": "#73 merged with #70-#72; lambdas by layer, no post-attention lambda on one lane (74)",
    "s38_single_saved_activation": "one stream; layers 8-10 attend from the stream saved after layer 7 (77)",
    "s39_fused_ce_kernel": "the loss as #79's CUDA kernel: bf16 sigmoid, the last rows' gradient quirk (79)",
    "s40_head_pair_banks": "#78 with the attention bank as head-pair Q/K blocks and V/O, orthogonalised apart (80)",
    "s41_mudd": "#80 with #79's loss; MUDD connections into and after the last layer, no backout scalar (81)",
    "s42_xsa": "#80 with #79's loss; learnable XSA (own-value part out of the output) on the unpaired layers (82)",
    "s43_bigram_signs": "#80 with #79's loss; a (754560, 192) bigram table times +-1 sign rows, into 192 channels (83)",
    "s44_fp8_mlp_up": "#80 with #79's loss; the MLP up-projection's training forward in FP8, dynamic scales (84)",
    "s45_mudd_gates_dc": "#81-#84 merged: MUDD in its own layout, a MUDD gate MLP for the XSA, head, injection and skip gates, DC attention on layer 10 (85)",
    "s46_xsa_rewrite": "XSA as y - tanh(a) (y.v / |v|^2) v: #85's function, rounded at other points (86)",
}


def get_stage(name: str) -> ModuleType:
    if name not in STAGES:
        raise KeyError(f"unknown stage {name!r}; valid stages: {', '.join(STAGES)}")
    return importlib.import_module(f"jnano.stages.{name}")
