"""Every batch-sampling era of the speedrun, each its own small loader, byte-exact with upstream.

| loader | records | what it does |
|---|---|---|
| `StrideLoader`        | llm.c py, #2-#17 | rank r reads `L+1` tokens at `r*L + k*L*W`; per-rank shard switch; files wrap |
| `GlobalBatchLoader`   | #18 | global position, shard switch checked before the read; files wrap |
| `sequential_batches`  | #19-#25 | `distributed_data_generator`: one pass over the files |
| `bos_aligned_batches` | #26-#28 | each rank's window starts at a BOS (greedy chain of starts) |
| `packed_batches`      | #29-HEAD | whole documents packed per rank, max doc length, `cu_seqlens`, optional bigram hash, `send()` for stage changes |
| `validation_batches`  | every era | contiguous chunk per rank from the start of the val shard |

Each loader simulates all `world` ranks of upstream's 8-GPU run (upstream runs one instance per
GPU; the high ranks of #2-#17 even switch shards one batch early). A batch is a `Batch` with
arrays of shape (world, local): stack the ranks to get the global batch.
"""

from train.data.loaders.bigram import bigram_hash
from train.data.loaders.common import BOS_ID, Batch, DataExhausted, ShardSequence
from train.data.loaders.packed import DocumentPacker, max_num_docs_formula, max_num_docs_table, packed_batches
from train.data.loaders.sequential import GlobalBatchLoader, bos_aligned_batches, find_batch_starts, sequential_batches
from train.data.loaders.stride import StrideLoader, StrideSwitch
from train.data.loaders.validation import validation_batches

__all__ = [
    "BOS_ID", "Batch", "DataExhausted", "DocumentPacker", "GlobalBatchLoader", "ShardSequence", "StrideLoader",
    "StrideSwitch", "bigram_hash", "bos_aligned_batches", "find_batch_starts", "max_num_docs_formula",
    "max_num_docs_table", "packed_batches", "sequential_batches", "validation_batches",
]
