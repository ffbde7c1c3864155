import dataclasses
import subprocess
import sys

import pytest

from jnano import records
from jnano.hparams import AdamW, Muon, OrthogonalNesterov
from jnano.stages import STAGES, get_stage
from ref.manifest import entries, entry_for


def test_get_by_number_string_and_hash():
    assert records.get(4) is records.get("4") is records.get("#4")
    assert records.get("latest").id == records.LATEST


def test_head_is_not_the_latest_record_under_another_name():
    """`--record head` means upstream HEAD (f411b3d3, #85-#89 merged), which is not a record of the
    zoo yet: a clear error, not the latest record in its place."""
    if "head" in records.RECORDS:
        pytest.skip("HEAD is in the zoo")
    with pytest.raises(KeyError, match="not in the zoo yet"):
        records.get("head")


def test_unknown_record_lists_valid_ones():
    with pytest.raises(KeyError) as e:
        records.get(999)
    message = e.value.args[0]
    assert "999" in message
    for rid in records.RECORDS:
        assert rid in message


def test_unknown_stage_lists_valid_ones():
    with pytest.raises(KeyError) as e:
        get_stage("s99_nothing")
    assert all(name in e.value.args[0] for name in STAGES)


@pytest.mark.parametrize("rid", list(records.RECORDS))
def test_every_record_builds_its_stage_config(rid):
    rec = records.get(rid)
    stage = get_stage(rec.stage)
    assert rid in stage.RECORDS
    cfg = stage.Config(**rec.model)
    assert dataclasses.is_dataclass(cfg)
    t = rec.training
    assert t.batch_tokens == t.device_batch * t.seq_len * t.world  # one micro-batch per GPU step


@pytest.mark.parametrize("rid", list(records.RECORDS))
def test_record_upstream_matches_manifest(rid):
    rec, entry = records.get(rid), entry_for(rid)
    assert (rec.upstream.repo, rec.upstream.commit, rec.upstream.path) == (entry.repo, entry.commit, entry.path)


def test_manifest_covers_every_record():
    ids = [e.record for e in entries()]
    assert len(ids) == len(set(ids)) == 92  # #1-#89, 21b, 21c, head
    assert ids[:4] == list(records.RECORDS)[:4] and ids[-1] == "head"
    with_driver = {e.record for e in entries() if e.family}
    assert with_driver == set(records.RECORDS)  # a driver exactly for each record in the zoo


def test_numbers_from_history():
    # history.md §2.2: llm.c lr 6e-4 warmup 700; #2 lr 0.0018; #3 10x lr on OrthogonalNesterov;
    # #4 Muon at 0.1 x 0.0036, warmdown 1800 of 6200
    r1, r2, r3, r4 = (records.get(i) for i in "1234")
    assert r1.optimizer.groups[0].rule == AdamW(lr=6e-4, weight_decay=0.1)
    assert r1.optimizer.schedule.warmup == 700
    assert r2.optimizer.groups[0].rule.lr == 0.0018
    ortho = r3.optimizer.groups[1].rule
    assert isinstance(ortho, OrthogonalNesterov) and ortho.lr == pytest.approx(10 * 0.0018)
    muon = r4.optimizer.groups[1].rule
    assert isinstance(muon, Muon) and muon.lr == pytest.approx(3.6e-4)
    assert (r4.optimizer.schedule.warmdown, r4.training.num_iterations) == (1800, 6200)


def test_cli_table_and_detail():
    out = subprocess.run([sys.executable, "-m", "jnano.records"], capture_output=True, text=True, check=True)
    for rid in records.RECORDS:
        assert records.get(rid).description in out.stdout
    out = subprocess.run([sys.executable, "-m", "jnano.records", "4"], capture_output=True, text=True, check=True)
    assert "Muon improvements" in out.stdout and "s2_muon" in out.stdout
    bad = subprocess.run([sys.executable, "-m", "jnano.records", "999"], capture_output=True, text=True)
    assert bad.returncode == 2 and "valid records" in bad.stderr


def test_records_and_ref_import_without_jax():
    code = ("import sys, jnano.records, ref, ref.manifest; "
            "assert 'jax' not in sys.modules, 'jax imported'; print('ok')")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr


def test_jnano_never_imports_torch():
    code = ("import sys, jnano; m = jnano.build_model(1, n_layer=1, n_embd=32, n_head=2, vocab_size=64); "
            "import jnano.optim, jnano.api; assert 'torch' not in sys.modules; print('ok')")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
