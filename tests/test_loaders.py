"""Every loader era: against upstream's golden streams (CI), its own semantics on hand-made
shards, and live against upstream's loader code when JNANO_UPSTREAM / JNANO_LLMC are set."""

import dataclasses

import numpy as np
import pytest

from parity import loaders as P
from train.data import loaders as L
from train.data.shards import write_shard

GOLDENS = __import__("json").loads(P.GOLDENS.read_text())


@pytest.fixture(scope="module")
def synthetic():
    with P.synthetic_data() as root:
        yield root


@pytest.mark.parametrize("case", P.CASES, ids=lambda c: c.name)
def test_loader_matches_upstream_golden(case, synthetic):
    assert P.digest(P.ours_stream(case, synthetic)) == GOLDENS[case.name]["steps"]


def test_golden_catches_a_wrong_shard_switch(synthetic):
    case = P.case_by_name("stride, #4-#11")  # upstream: pos + L*W + 1 > n, i.e. >= n
    theirs, ours = P._stride(L.StrideSwitch.GE_PLUS_1, False, None)
    wrong = dataclasses.replace(case, ours=ours)
    assert P.digest(P.ours_stream(wrong, synthetic)) != GOLDENS[case.name]["steps"]


def test_loaders_are_deterministic(synthetic):
    case = P.case_by_name("HEAD")
    assert P.digest(P.ours_stream(case, synthetic)) == P.digest(P.ours_stream(case, synthetic))


# --- semantics on hand-made shards ---------------------------------------------------------------

BOS = L.BOS_ID


def shards(tmp_path, *token_lists):
    return [write_shard(tmp_path / f"t_train_{i + 1:06d}.bin", t) for i, t in enumerate(token_lists)]


def test_stride_high_ranks_switch_one_read_early(tmp_path):
    files = shards(tmp_path, np.arange(30_011) % 1000, np.arange(30_011) % 1000 + 1000)
    loader = L.StrideLoader(files, 512, 8, L.StrideSwitch.GE)
    for _ in range(6):
        loader.next_batch()
    # rank r's 7th window would start at r*512 + 6*4096 and must end before 30,011 - 4096 ... :
    # r*512 + 7*4096 >= 30,011 for r >= 3, so ranks 3-7 have switched after 6 reads, 0-2 read a 7th
    assert loader.shard_indices == [0, 0, 0, 1, 1, 1, 1, 1]
    x, _ = loader.next_batch()
    assert x[0, 0] == (6 * 4096) % 1000 and x[6, 0] == 1000 + (6 * 512) % 1000


def test_stride_wraps_and_rejects_small_shards(tmp_path):
    files = shards(tmp_path, np.arange(5000) % 7)
    loader = L.StrideLoader(files, 128, 8, L.StrideSwitch.GE)
    first = loader.next_batch()[0].copy()
    for _ in range(3):
        loader.next_batch()
    np.testing.assert_array_equal(loader.next_batch()[0], first)  # 4 reads per shard, then wrap
    with pytest.raises(ValueError, match="fewer than one step needs"):
        L.StrideLoader(files, 1024, 8, L.StrideSwitch.GE)


def test_sequential_runs_out_clearly(tmp_path):
    files = shards(tmp_path, np.arange(3000) % 9)
    gen = L.sequential_batches(files, 8 * 128, 8)
    next(gen), next(gen)
    with pytest.raises(L.DataExhausted, match="used all 1 training shard.*--train-shards"):
        next(gen)


def test_find_batch_starts_greedy_chain():
    tokens = np.zeros(100, np.int64)
    tokens[[3, 5, 9, 20, 22, 31, 40]] = BOS
    starts, consumed = L.find_batch_starts(tokens, 0, 8, 100, 3)
    assert starts == [3, 20, 31] and consumed == 40  # next start >= prev + 8; 40 ends the chain
    with pytest.raises(ValueError, match="fewer than 4 document starts"):
        L.find_batch_starts(tokens, 0, 8, 100, 4)


def test_packer_truncates_cuts_and_records_cu_seqlens(tmp_path):
    doc = lambda n: [BOS] + [7] * (n - 1)  # noqa: E731
    tokens = np.array(doc(3) + doc(10) + doc(4) + doc(6) + doc(5) + doc(5), np.int64)
    packer = L.DocumentPacker(tokens, world=2)
    segs = packer.next_batch(local=8, max_seq_len=6)
    # rank 0: doc0 (3) + doc1 cut at max 6 = 9 = local+1; rank 1: doc2 (4) + doc3 cut to fit 9-4=5
    assert segs == [[(0, 3), (3, 9)], [(13, 17), (17, 22)]] and packer.i == 4
    files = shards(tmp_path, tokens)
    batch = next(L.packed_batches(files, 16, 6, 2, max_num_docs=lambda local: 4))
    np.testing.assert_array_equal(batch.cu_seqlens, [[0, 3, 8, 8], [0, 4, 8, 8]])  # last segment one short
    np.testing.assert_array_equal(batch.targets[0], tokens[1:9])  # doc0's last target is doc1's BOS
    assert batch.inputs.dtype == np.int32 and batch.bigram is None


def test_packer_drops_a_step_the_shard_cannot_fill(tmp_path):
    doc = lambda n: [BOS] + [1] * (n - 1)  # noqa: E731
    first = np.array(doc(9) + doc(9) + doc(9), np.int64)  # one step of 2 ranks x 9, then a partial one
    second = np.array([5, 5] + doc(9) + doc(9), np.int64)  # starts mid-document
    gen = L.packed_batches(shards(tmp_path, first, second), 16, 100, 2)
    b0, b1 = next(gen), next(gen)
    np.testing.assert_array_equal(b0.inputs[1], first[9:17])
    np.testing.assert_array_equal(b1.inputs[0], second[2:10])  # restarts at the next shard's first BOS
    with pytest.raises(L.DataExhausted):
        next(gen)


def test_packer_send_changes_batch_and_length(tmp_path):
    tokens = np.array(([BOS] + [2] * 99) * 40, np.int64)
    gen = L.packed_batches(shards(tmp_path, tokens), 2 * 64, 100, 2)
    assert next(gen).inputs.shape == (2, 64)
    b = gen.send((2 * 128, 50, 1))
    assert b.inputs.shape == (2, 128) and b.cu_seqlens[0, :4].tolist() == [0, 50, 100, 128]
    b = gen.send((4 * 64, 50, 2))  # accumulation: the step's tokens split over 2 micro-batches
    assert b.inputs.shape == (2, 64)
    with pytest.raises(ValueError, match="not divisible"):
        gen.send((101, 50, 1))


def test_cu_seqlens_cap_is_an_error(tmp_path):
    tokens = np.array(([BOS] + [3]) * 100, np.int64)
    gen = L.packed_batches(shards(tmp_path, tokens), 2 * 32, 100, 2, max_num_docs=lambda local: 8)
    with pytest.raises(ValueError, match="do not fit cu_seqlens of length 8"):
        next(gen)


def test_bigram_hash_check_values():
    x = np.array([50256, 464, 3290, 50256, 50256, 0, 1, 50255])
    # M = 251519 (#62-#82): position 1 hashes against M with int32 wraparound (CPU versions)
    assert L.bigram_hash(x, 251519).tolist() == [251519, 204580, 223622, 73608, 35060, 8169, 36313, 113303]
    assert L.bigram_hash(x, 251519, "token")[1] == 19030  # #68/#73 on the GPU: the true x[0]
    assert L.bigram_hash(x, 377279).tolist()[:3] == [377279, 86771, 349207]  # HEAD
    big = np.random.default_rng(0).integers(0, 50257, 10_000)
    h = L.bigram_hash(big, 754559)
    assert h.dtype == np.int32 and h[0] == 754559 and h[1:].min() >= 0 and h[1:].max() < 754559
    # beyond position 1 no wraparound happens: plain integer math agrees
    ref = ((36313 * big[2:].astype(np.int64)) ^ (27191 * big[1:-1].astype(np.int64))) % 754559
    np.testing.assert_array_equal(h[2:], ref)


def test_validation_chunks_and_length_check(tmp_path):
    tokens = np.where(np.arange(200) % 50 == 0, BOS, np.arange(200) % 50)  # a BOS every 50 tokens
    val = write_shard(tmp_path / "v_val_000000.bin", tokens)
    batches = list(L.validation_batches(val, 10, 4, 2, documents=True))
    np.testing.assert_array_equal(batches[1].inputs[2], tokens[60:70])  # step 1, rank 2: 1*40 + 2*10
    np.testing.assert_array_equal(batches[1].targets[3], tokens[71:81])
    # rank 0 starts on a BOS: its first segment is empty (upstream's duplicated 0); padded with 10
    assert batches[0].cu_seqlens.shape == (4, 128) and batches[0].cu_seqlens[0, :3].tolist() == [0, 0, 10]
    with pytest.raises(ValueError, match="lower --val-tokens"):
        next(L.validation_batches(val, 100, 4, 2))


# --- live against upstream's loader code ---------------------------------------------------------


# upstream's background shard loaders (#33+) raise in their thread when the files run out
@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
@pytest.mark.upstream
@pytest.mark.parametrize("case", P.CASES, ids=lambda c: c.name)
def test_loader_matches_upstream_live(case, synthetic, request):
    import ref.data

    fixture = "llmc_checkout" if case.record == "1" else "modded_checkout"
    reference = ref.data.load(case.record, request.getfixturevalue(fixture))
    assert P.compare_live(case, synthetic, reference) is None


@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
@pytest.mark.upstream
def test_goldens_regenerate_identically(synthetic, modded_checkout):
    import ref.data

    for case in P.CASES:
        if case.record == "1":
            continue
        reference = ref.data.load(case.record, modded_checkout)
        assert P.digest(P.theirs_stream(case, synthetic, reference)) == GOLDENS[case.name]["steps"], case.name
