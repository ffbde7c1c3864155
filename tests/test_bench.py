"""`python -m bench` runs and reports (what it measures is for benchmarks, never asserted here)."""

from __future__ import annotations

import json

import pytest

from bench.__main__ import main


def test_bench_reports_a_jax_step_and_writes_json(tmp_path, capsys):
    out = tmp_path / "b.json"
    assert main(["--record", "2", "--seq", "64", "--batch", "2", "--warmup", "0", "--reps", "2",
                 "--json", str(out)]) == 0
    result = json.loads(out.read_text())
    assert (result["record"], result["seq"], result["batch"], result["step"]) == ("2", 64, 2, 0)
    jax_side = result["jax"]
    assert jax_side["reps"] == 2 and 0 < jax_side["p10_s"] <= jax_side["median_s"] <= jax_side["p90_s"]
    assert jax_side["compile_s"] > 0 and jax_side["tokens_per_s"] > 0 and "ratio" not in result
    assert "step" in capsys.readouterr().out


def test_bench_refuses_an_unknown_record(capsys):
    with pytest.raises(SystemExit) as e:
        main(["--record", "999"])
    assert e.value.code == 2 and "valid records" in capsys.readouterr().err
