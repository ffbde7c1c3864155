"""The GPT-2 tokenizer (tiktoken `gpt2`), from the BPE ranks file shipped with the package.

tiktoken downloads its BPE files on first use; we ship `assets/gpt2.tiktoken` (checked by hash)
so tokenization works offline. The ids are GPT-2's: 50,257 tokens, `<|endoftext|>` = 50256.
"""

from __future__ import annotations

import hashlib
import os
from functools import lru_cache
from pathlib import Path

BPE_FILE = Path(__file__).parent / "assets" / "gpt2.tiktoken"
BPE_SHA256 = "306cd27f03c1a714eca7108e03d66b7dc042abe8c258b44c199a7ed9838dd930"
EOT = 50256


class TokenizerError(RuntimeError):
    pass


def _bpe_path() -> Path:
    return Path(os.environ.get("JNANO_GPT2_BPE", BPE_FILE))


@lru_cache(maxsize=1)
def gpt2_encoding():
    """A tiktoken Encoding equal to `tiktoken.get_encoding("gpt2")`, built offline."""
    try:
        import tiktoken
        from tiktoken.load import load_tiktoken_bpe
        from tiktoken_ext.openai_public import r50k_pat_str  # tiktoken's own gpt2 split pattern
    except ImportError:
        raise TokenizerError("tokenizing needs tiktoken: pip install tiktoken") from None
    path = _bpe_path()
    if not path.is_file():
        raise TokenizerError(
            f"GPT-2 BPE file not found at {path}. It ships with the package (train/data/assets); "
            "reinstall jnanogpt, or point JNANO_GPT2_BPE at a copy of gpt2.tiktoken (e.g. from the "
            "openai-whisper sdist: whisper/assets/gpt2.tiktoken, or "
            "https://openaipublic.blob.core.windows.net/encodings/r50k_base.tiktoken)."
        )
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    if digest != BPE_SHA256:
        raise TokenizerError(f"{path} is not the GPT-2 BPE file: sha256 {digest}, expected {BPE_SHA256}")
    return tiktoken.Encoding(
        name="gpt2",
        pat_str=r50k_pat_str,
        mergeable_ranks=load_tiktoken_bpe(str(path), expected_hash=BPE_SHA256),
        special_tokens={"<|endoftext|>": EOT},
    )


def encode_document(text: str) -> list[int]:
    """`[<|endoftext|>] + encode_ordinary(text)`: how fineweb.py tokenizes each document."""
    return [EOT] + gpt2_encoding().encode_ordinary(text)
