"""Download upstream's pre-tokenized FineWeb shards from the Hugging Face Hub.

As upstream's `data/cached_fineweb10B.py`: dataset repo `kjj0/fineweb10B-gpt2`, files
`fineweb_val_000000.bin` and `fineweb_train_000001.bin` ... (100M tokens each; 103 in all, 9 are
enough for the latest record). Files already present and valid are skipped; an interrupted
download resumes (huggingface_hub keeps the partial file).
"""

from __future__ import annotations

import os
import socket
from pathlib import Path
from urllib.parse import urlparse

from train.data.shards import ShardError, read_header

REPO_ID = "kjj0/fineweb10B-gpt2"
SHARD_TOKENS = 10**8
TRAIN_SHARDS_TOTAL = 103


class DownloadError(RuntimeError):
    pass


def fineweb_files(train_shards: int) -> list[str]:
    if not 0 <= train_shards <= TRAIN_SHARDS_TOTAL:
        raise DownloadError(f"--train-shards must be in 0..{TRAIN_SHARDS_TOTAL}, got {train_shards}")
    return ["fineweb_val_000000.bin"] + [f"fineweb_train_{i:06d}.bin" for i in range(1, train_shards + 1)]


def _valid(path: Path) -> bool:
    try:
        read_header(path)
        return True
    except ShardError:
        return False


def check_hub_reachable(timeout: float = 5.0) -> None:
    """Fail in seconds, not after huggingface_hub's retries (~25 s), when offline."""
    from huggingface_hub import constants

    if os.environ.get("HF_HUB_OFFLINE", "0") not in ("", "0", "false", "False"):
        raise DownloadError("HF_HUB_OFFLINE is set: downloads are disabled")
    url = urlparse(constants.ENDPOINT)
    host, port = url.hostname, url.port or (443 if url.scheme == "https" else 80)
    try:
        socket.create_connection((host, port), timeout=timeout).close()
    except OSError as e:
        raise DownloadError(
            f"cannot reach the Hugging Face Hub at {constants.ENDPOINT} ({e}). FineWeb needs internet "
            f"access: run this command on a machine that has it and copy the .bin files into --dir. "
            "To try the trainer without FineWeb: python -m train --preset smoke"
        ) from None


def download_fineweb(train_shards: int, directory: os.PathLike | str, repo_id: str = REPO_ID) -> list[Path]:
    """Fetch the val shard and the first `train_shards` train shards into `directory`."""
    from huggingface_hub import hf_hub_download

    directory = Path(directory)
    names = fineweb_files(train_shards)
    missing = [n for n in names if not _valid(directory / n)]
    print(f"{len(names) - len(missing)} of {len(names)} shards already in {directory}", flush=True)
    if missing:
        check_hub_reachable()
    for name in missing:
        stale = directory / name
        if stale.exists():  # present but invalid: a corrupt or partial file
            print(f"{stale} is not a valid shard; downloading it again", flush=True)
            stale.unlink()
        hf_hub_download(repo_id=repo_id, filename=name, repo_type="dataset", local_dir=str(directory))
        if not _valid(stale):
            read_header(stale)  # raises with what is wrong
    return [directory / n for n in names]
