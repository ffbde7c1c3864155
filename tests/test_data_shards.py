"""Shard format: round trip, and every way a shard can be broken."""

import numpy as np
import pytest

from train.data.shards import HEADER_BYTES, MAGIC, ShardError, read_header, read_shard, shard_files, write_shard


def raw_shard(path, tokens, magic=MAGIC, version=1, count=None, extra=b""):
    header = np.zeros(256, "<i4")
    header[:3] = (magic, version, len(tokens) if count is None else count)
    path.write_bytes(header.tobytes() + np.asarray(tokens, "<u2").tobytes() + extra)
    return path


def test_round_trip_is_memory_mapped(tmp_path):
    tokens = np.random.default_rng(0).integers(0, 50257, 1000)
    path = write_shard(tmp_path / "x_train_000001.bin", tokens)
    assert path.stat().st_size == HEADER_BYTES + 2 * 1000
    got = read_shard(path)
    assert isinstance(got, np.memmap) and got.dtype == np.uint16 and not got.flags.writeable
    np.testing.assert_array_equal(got, tokens)
    np.testing.assert_array_equal(read_shard(path, mmap=False), tokens)


def test_empty_shard(tmp_path):
    path = write_shard(tmp_path / "e.bin", [])
    assert read_header(path) == 0 and read_shard(path).size == 0


@pytest.mark.parametrize("case, message", [
    ("magic", "wrong magic number 20240801"),
    ("version", "unsupported version 7"),
    ("short_header", "truncated header: 100 of 1024 bytes"),
    ("empty_file", "truncated header: 0 of 1024 bytes"),
    ("truncated", "truncated: the header says 100 tokens (1,224 bytes) but the file has 1,124 bytes"),
    ("trailing", "has trailing bytes"),
    ("negative", "negative token count"),
])
def test_bad_shards_name_file_and_problem(tmp_path, case, message):
    p = tmp_path / f"{case}.bin"
    tokens = np.arange(100)
    if case == "magic":
        raw_shard(p, tokens, magic=20240801)
    elif case == "version":
        raw_shard(p, tokens, version=7)
    elif case == "short_header":
        p.write_bytes(b"\0" * 100)
    elif case == "empty_file":
        p.write_bytes(b"")
    elif case == "truncated":
        raw_shard(p, tokens[:50], count=100)
    elif case == "trailing":
        raw_shard(p, tokens, extra=b"\1\2")
    elif case == "negative":
        raw_shard(p, [], count=-5)
    with pytest.raises(ShardError) as e:
        read_shard(p)
    assert str(p) in str(e.value) and message in str(e.value)


def test_missing_and_directory(tmp_path):
    with pytest.raises(ShardError, match="no such file"):
        read_shard(tmp_path / "nope.bin")
    with pytest.raises(ShardError, match="is a directory"):
        read_shard(tmp_path)


def test_writer_rejects_out_of_range_tokens(tmp_path):
    with pytest.raises(ValueError, match="65536"):
        write_shard(tmp_path / "x.bin", [0, 70000])
    assert not list(tmp_path.iterdir())  # nothing half-written


def test_shard_files_sorted_by_split(tmp_path):
    for name in ["d_train_000002.bin", "d_val_000000.bin", "d_train_000001.bin", "notes.txt"]:
        (tmp_path / name).write_bytes(b"")
    assert [p.name for p in shard_files(tmp_path, "train")] == ["d_train_000001.bin", "d_train_000002.bin"]
    assert [p.name for p in shard_files(tmp_path, "val")] == ["d_val_000000.bin"]
