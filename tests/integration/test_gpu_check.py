"""``scripts/gpu_check.sh`` on a machine without CUDA: debug sizes, every part, one JSON file."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

from hieros_lab.bench import gpu_check

ROOT = Path(__file__).resolve().parents[2]
KEYS = ["update_s_s5", "update_s_rssm", "world_model_s_s5", "imagination_s_rssm",
        "hierarchy_train_call_s", "hierarchy_over_level0", "pong_s_per_step",
        "pong_acting_s_per_step", "atari100k_hours", "check_wall_s", "update_s_s5_bf16",
        "update_s_rssm_bf16", "hierarchy_train_call_s_bf16", "hierarchy_over_level0_bf16",
        "update_s_s5_compiled_bf16", "compile_s_s5_compiled_bf16"]


def test_the_script_writes_every_figure_on_cpu(tmp_path):
    env = {**os.environ, "PYTHON": sys.executable, "OUT": str(tmp_path), "OMP_NUM_THREADS": "1"}
    out = subprocess.run(["bash", str(ROOT / "scripts" / "gpu_check.sh"), "--pong-steps", "40"],
                         env=env, capture_output=True, text=True, timeout=600, check=False)
    assert out.returncode == 0, out.stderr[-3000:]
    result = json.loads((tmp_path / "gpu_check.json").read_text())
    assert result["quick"] is True and result["device"] == "cpu" and result["errors"] == {}
    for key in KEYS:
        value = result[key]
        assert isinstance(value, float) and math.isfinite(value) and value > 0, key
    assert result["pong_steps"] == 40 and result["pong_updates"] > 0
    assert result["hierarchy_over_level0"] == pytest.approx(
        result["hierarchy_train_call_s"] / result["update_s_s5"])
    assert result["atari100k_hours"] == pytest.approx(result["pong_s_per_step"] * 1e5 / 3600)
    assert result["hierarchy_over_level0_bf16"] == pytest.approx(
        result["hierarchy_train_call_s_bf16"] / result["update_s_s5_bf16"])
    assert result["pong_precision"] == "fp32"  # Trainer.precision 'auto' on a CPU
    assert result["graph_breaks_s5_compiled_bf16"] == 0
    # --quick compiles S5 only; what it leaves out is named
    assert set(result["not_measured"]) == {
        "update_rssm_compiled_bf16", "update_s5_cuda_graphs_bf16", "update_rssm_cuda_graphs_bf16",
        "hierarchy_compiled_bf16", "hierarchy_cuda_graphs_bf16"}


def test_a_failing_part_is_recorded_and_the_others_still_run(monkeypatch):
    def fake(args, limit_s):
        if args[0] == "hieros_lab.bench.hierarchy":
            return {"error": "exit 1: CUDA error: out of memory"}
        if args[0] == "hieros_lab.bench.update":
            return {"update_s": 2.0, "world_model_s": 1.0}
        return {"pong_s_per_step": 0.5}

    monkeypatch.setattr(gpu_check, "run_part", fake)
    result = gpu_check.check("cpu", False, 10, 5.0)  # every part of every mode
    assert result["errors"] == {"hierarchy": "exit 1: CUDA error: out of memory",
                                "hierarchy_bf16": "exit 1: CUDA error: out of memory"}
    assert "update_s_s5_compiled_bf16" in result and "update_s_s5_cuda_graphs_bf16" in result
    assert result["update_s_s5"] == 2.0 and result["update_s_rssm"] == 2.0
    assert "hierarchy_over_level0" not in result and result["pong_s_per_step"] == 0.5


def test_a_part_that_fails_or_hangs_becomes_an_error():
    bad = gpu_check.run_part(["hieros_lab.bench.update", "--sequence", "nope", "--batch", "2",
                              "--length", "8", "--repeats", "1", "--preset", "debug.gin"], 300)
    assert bad["error"].startswith("exit ") and "nope" in bad["error"]
    slow = gpu_check.run_part(["hieros_lab.bench.gpu_check", "--part", "pong"], 0.5)
    assert slow["error"].startswith("timed out after 0.5 s")
