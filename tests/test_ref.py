"""The reference loader on record-shaped files we write here (the genuine files are tested in
test_parity.py when JNANO_UPSTREAM / JNANO_LLMC name checkouts)."""

import subprocess
import textwrap
from pathlib import Path

import pytest

import ref
from ref import source as source_mod
from ref.extract import execute, extract
from ref.manifest import Entry
from ref.source import SEPARATOR, SourceError, code_from_log, sha256_text

FAKE_RECORD = textwrap.dedent('''\
    import os
    import torch
    from dataclasses import dataclass
    with open(sys.argv[0]) as f:
        code = f.read()

    @torch.compile
    def double(x):
        return 2 * x

    @dataclass
    class Hyperparameters:
        learning_rate: float = 0.5
        num_iterations: int = 10
    args = Hyperparameters()
    SCALE = 3 * 4
    backends = dict(double=double)

    @dataclass
    class GPTConfig:
        vocab_size: int = 8

    class GPT(torch.nn.Module):
        def __init__(self, config):
            super().__init__()
            self.wte = torch.nn.Embedding(config.vocab_size, 4)

    ddp_rank = int(os.environ["RANK_THAT_IS_NOT_SET"])
    model = GPT(GPTConfig())
    raise SystemExit("the top level ran")
    if __name__ == "__main__":
        def get_lr(it):
            return args.learning_rate * it
        raise SystemExit("main ran")
    ''')


def test_extract_keeps_definitions_and_drops_the_top_level():
    module = execute(FAKE_RECORD, "<fake record>", {})
    kept = module.__extracted__.kept
    assert kept == ["double", "Hyperparameters", "args", "SCALE", "backends", "GPTConfig", "GPT", "get_lr"]
    assert module.double(3) == 6 and type(module.double).__name__ == "function"  # torch.compile dropped
    assert module.args.learning_rate == 0.5 and module.SCALE == 12
    assert module.get_lr(4) == 2.0  # nested in the main guard, reads the global args
    assert not hasattr(module, "ddp_rank") and not hasattr(module, "model")
    dropped = " ".join(module.__extracted__.dropped)
    assert "RANK_THAT_IS_NOT_SET" in dropped and "GPT(GPTConfig())" in dropped and "SystemExit" in dropped


SELF_SHIFT = """
import torch

def shift(k):
    k[:, 1:, 2:4] = k[:, :-1, 2:4]
    return k

def disjoint(k):
    k[:, :, 0:2] = k[:, :, 2:4]
    return k

def keyed(settings):
    settings["first"] = settings["rate"]
    return settings
"""


def test_an_assignment_between_overlapping_views_reads_before_it_writes():
    """#49's in-place key shift, as its compiled graph computes it: a shift by one position
    (eager CPU torch would spread position 0 down the sequence)."""
    import torch

    module = execute(SELF_SHIFT, "<self shift>", {})
    assert module.__extracted__.read_before_write == [5, 9]  # the source counts from its leading newline
    k = torch.arange(2 * 5 * 6, dtype=torch.float32).reshape(2, 5, 6)
    shifted = module.shift(k.clone())
    assert torch.equal(shifted[:, 1:, 2:4], k[:, :-1, 2:4])
    assert torch.equal(shifted[:, :1], k[:, :1]) and torch.equal(shifted[..., :2], k[..., :2])
    assert torch.equal(module.disjoint(k.clone())[..., :2], k[..., 2:4])
    assert module.keyed({"rate": 0.5}) == {"rate": 0.5, "first": 0.5}  # a key, not a view: untouched


def test_tracebacks_point_into_the_upstream_file():
    src = "def boom():\n    raise ValueError('x')\n"
    module = execute(src, "/some/upstream/train_gpt.py", {})
    with pytest.raises(ValueError) as e:
        module.boom()
    import traceback

    frames = traceback.extract_tb(e.value.__traceback__)
    assert (frames[-1].filename, frames[-1].lineno, frames[-1].line) == (
        "/some/upstream/train_gpt.py", 2, "raise ValueError('x')")


def test_missing_cuda_only_import_is_reported():
    with pytest.raises(ImportError, match="no CPU stand-in"):
        execute("import triton_kernels_that_do_not_exist\n", "<x>", {})
    module = execute("import triton_kernels_that_do_not_exist\nY = 1\n", "<x>",
                     {"triton_kernels_that_do_not_exist": object()})
    assert module.Y == 1


def test_code_from_log_both_layouts():
    code = "import os\nclass GPT: pass\n"
    log_tail = SEPARATOR + "\nRunning pytorch ...\nstep:0/10 val_loss:10.8\n"
    assert code_from_log(code + log_tail) == code
    assert code_from_log(SEPARATOR + "\n" + code + log_tail) == code


@pytest.fixture
def fake_entry(monkeypatch):
    text = FAKE_RECORD
    entry = Entry("7", "someone/repo", "", "records/fake/abc.txt", sha256_text(text), "record_muon")
    monkeypatch.setattr(source_mod, "entry_for", lambda record: entry)
    monkeypatch.setattr(source_mod, "entries", lambda: (entry,))
    return entry


def test_read_log_file_verifies_hash(tmp_path, fake_entry):
    log = tmp_path / "run.txt"
    log.write_text(SEPARATOR + "\n" + FAKE_RECORD + SEPARATOR + "\nstep:0\n")
    src = source_mod.locate("7", log)
    assert src.verified and src.text == FAKE_RECORD
    edited = tmp_path / "edited.py"
    edited.write_text(FAKE_RECORD + "# my change\n")
    assert not source_mod.locate("7", edited).verified  # a modified record still loads, flagged


def test_not_a_record_file(tmp_path, fake_entry):
    other = tmp_path / "notes.txt"
    other.write_text("just some text\n")
    with pytest.raises(SourceError, match="not a modded-nanogpt/llm.c record file"):
        source_mod.locate("7", other)


def test_another_records_file_is_named(tmp_path, monkeypatch, fake_entry):
    mine = Entry("8", "someone/repo", "", "x.py", "0" * 64, "record_muon")
    monkeypatch.setattr(source_mod, "entry_for", lambda record: mine)
    monkeypatch.setattr(source_mod, "entries", lambda: (fake_entry, mine))
    f = tmp_path / "r.py"
    f.write_text(FAKE_RECORD)
    with pytest.raises(SourceError, match="record 7's code, not record 8's"):
        source_mod.locate("8", f)


def test_missing_path():
    with pytest.raises(SourceError, match="does not exist"):
        ref.load(4, "/nonexistent/modded-nanogpt")


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True, text=True,
                          env={"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t",
                               "GIT_COMMITTER_EMAIL": "t@t", "PATH": "/usr/bin:/bin"}).stdout.strip()


def test_reads_a_file_from_git_history(tmp_path, monkeypatch, fake_entry):
    repo = tmp_path / "repo"
    (repo / "records" / "fake").mkdir(parents=True)
    _git(repo, "init", "-q")
    (repo / "records" / "fake" / "abc.txt").write_text(FAKE_RECORD + SEPARATOR + "\nlog\n")
    _git(repo, "add", "-A")
    _git(repo, "commit", "-qm", "record")
    commit = _git(repo, "rev-parse", "HEAD")
    (repo / "records" / "fake" / "abc.txt").write_text("gone\n")  # the work tree moved on
    _git(repo, "commit", "-qam", "later")
    entry = Entry("7", "someone/repo", commit, "records/fake/abc.txt", fake_entry.sha256, "record_muon")
    monkeypatch.setattr(source_mod, "entry_for", lambda record: entry)
    src = source_mod.locate("7", repo)
    assert src.verified and src.checkout == repo and commit[:8] in src.origin

    missing = Entry("7", "someone/repo", "f" * 40, "train_gpt2.py", fake_entry.sha256, "record_muon")
    monkeypatch.setattr(source_mod, "entry_for", lambda record: missing)
    with pytest.raises(SourceError) as e:
        source_mod.locate("7", repo)
    assert "git fetch --unshallow" in str(e.value) and "git show ffffffff:train_gpt2.py" in str(e.value)


def test_root_script_brings_the_kernel_modules_beside_it(tmp_path, monkeypatch):
    """#86 and HEAD are a root `train_gpt.py` importing `triton_kernels` and `dc_triton_kernels`
    from its own commit: the source carries them as a log does (`split_modules`), the hash is the
    script's own, and a later edit of a module in the work tree is not read."""
    script = FAKE_RECORD + "from triton_kernels import fused\nimport os\n"
    repo = tmp_path / "repo"
    repo.mkdir()
    _git(repo, "init", "-q")
    (repo / "train_gpt.py").write_text(script)
    (repo / "triton_kernels.py").write_text("def fused():\n    return 1\n")
    _git(repo, "add", "-A")
    _git(repo, "commit", "-qm", "record")
    commit = _git(repo, "rev-parse", "HEAD")
    (repo / "triton_kernels.py").write_text("def fused():\n    return 2\n")
    entry = Entry("7", "someone/repo", commit, "train_gpt.py", sha256_text(script), "record_muon")
    monkeypatch.setattr(source_mod, "entry_for", lambda record: entry)
    monkeypatch.setattr(source_mod, "entries", lambda: (entry,))
    for where in (repo, repo / "train_gpt.py"):  # the commit; the file the user names (its folder's)
        src = source_mod.locate("7", where)
        modules = source_mod.split_modules(src.text)
        assert src.verified and set(modules) == {"main", "triton_kernels.py"}
        assert modules["main"].startswith(script)
    assert "return 1" in source_mod.split_modules(source_mod.locate("7", repo).text)["triton_kernels.py"]


def test_fetch_directory_layout(tmp_path, fake_entry):
    (tmp_path / fake_entry.local_name).write_text(FAKE_RECORD + SEPARATOR + "\n")
    assert source_mod.locate("7", tmp_path).verified


def test_fetch_offline_fails_fast_and_clearly(tmp_path, monkeypatch):
    import time

    from ref import fetch

    monkeypatch.setattr(fetch, "BASE_URL", "http://127.0.0.1:9")  # discard port: refused at once
    t0 = time.time()
    with pytest.raises(fetch.FetchError, match="could not download record 4"):
        fetch.fetch(ref.entry_for(4), tmp_path, timeout=5)
    assert time.time() - t0 < 10 and not any(tmp_path.iterdir())


def test_fetch_from_a_server_verifies_and_writes(tmp_path, monkeypatch, fake_entry):
    import http.server
    import threading

    from ref import fetch

    root = tmp_path / "srv" / "someone" / "repo" / "c0ffee" / "records" / "fake"
    root.mkdir(parents=True)
    (root / "abc.txt").write_text(FAKE_RECORD + SEPARATOR + "\nlog\n")
    handler = lambda *a, **k: http.server.SimpleHTTPRequestHandler(*a, directory=str(tmp_path / "srv"), **k)  # noqa: E731
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        monkeypatch.setattr(fetch, "BASE_URL", f"http://127.0.0.1:{server.server_port}")
        entry = Entry("7", "someone/repo", "c0ffee", "records/fake/abc.txt", fake_entry.sha256, "record_muon")
        path = fetch.fetch(entry, tmp_path / "out")
        assert path.name == "record_7.txt" and code_from_log(path.read_text()) == FAKE_RECORD
        bad = Entry("7", "someone/repo", "c0ffee", "records/fake/abc.txt", "0" * 64, "record_muon")
        with pytest.raises(fetch.FetchError, match="sha256 differs"):
            fetch.fetch(bad, tmp_path / "out2")
    finally:
        server.shutdown()


def test_extract_summary_lists_dropped_lines():
    ex = extract(FAKE_RECORD)
    assert any(d.startswith("line 5:") or "sys.argv" in d for d in ex.dropped)


def test_accurate_norms_stand_in():
    import numpy as np
    import torch

    from ref.shims import accurate_norms

    big = torch.from_numpy(np.random.default_rng(0).standard_normal(3_000_000).astype(np.float32))
    exact = float(np.linalg.norm(big.numpy().astype(np.float64)))
    small = torch.randn(64, 32)
    with accurate_norms():
        for value in (big.norm(), torch.linalg.vector_norm(big), torch._foreach_norm([big])[0]):
            assert value.dtype == torch.float32
            assert abs(value.item() - exact) <= 1e-7 * exact  # one rounding of the fp64 sum
        accurate_small = small.norm().item()
        assert small.norm(dim=0).shape == (32,)  # other forms pass through
        p = torch.nn.Parameter(torch.zeros(3))
        p.grad = torch.full((3,), 2.0)
        torch.nn.utils.clip_grad_norm_([p], 1.0)
        assert torch.allclose(p.grad, torch.full((3,), 3 ** -0.5))
    assert abs(accurate_small - small.norm().item()) <= 2e-7 * accurate_small  # same function
    assert torch.Tensor.norm is not None and big.norm().item() != 0  # restored, still works


def test_fp32_newton_schulz_switch():
    import torch

    from ref.shims import fp32_newton_schulz

    x = torch.randn(3)
    with fp32_newton_schulz():
        assert x.bfloat16().dtype == torch.float32
    assert x.bfloat16().dtype == torch.bfloat16


def test_split_modules_of_a_late_log():
    code = "import os\nX = 1\n" + "-" * 40 + "\n# triton_kernels.py\n" + "-" * 40 + "\ndef k(): pass\n"
    mods = source_mod.split_modules(code)
    assert mods == {"main": "import os\nX = 1\n", "triton_kernels.py": "def k(): pass\n"}
    assert source_mod.split_modules("a = 1\n") == {"main": "a = 1\n"}


def test_cpu_tensor_stand_ins():
    import torch

    from ref.data import cpu_tensors

    with cpu_tensors():
        t = torch.empty(4, dtype=torch.uint16, pin_memory=True)
        t2 = torch.empty_like(t, pin_memory=True)
        x = torch.arange(3).to(device="cuda", dtype=torch.int32, non_blocking=True)
        assert x.device.type == "cpu" and x.dtype == torch.int32 and x.cuda() is x
        assert torch.arange(2).to("cuda:3").device.type == "cpu" and t2.shape == (4,)
    assert torch.Tensor.to is torch.Tensor.to and torch.arange(2).to(torch.float64).dtype == torch.float64


def test_only_some_definitions_tolerates_missing_imports():
    src = "import triton_that_does_not_exist as triton\ndef keep(): return 1\n@triton.jit\ndef kernel(): pass\n"
    module = execute(src, "<x>", {}, only={"keep"})
    assert module.keep() == 1 and not hasattr(module, "kernel")
    with pytest.raises(ImportError, match="not available on this machine"):
        module.triton.jit


def test_records_beyond_the_zoo_have_no_model_driver_yet():
    from ref.manifest import entries

    beyond = next(e.record for e in entries() if e.family is None)
    with pytest.raises(NotImplementedError, match="parity.loaders"):
        ref.load(beyond, "/nonexistent")
