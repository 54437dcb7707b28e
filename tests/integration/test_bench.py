"""``hieros-lab bench --quick`` produces every key of the flat JSON object."""

from __future__ import annotations

import json
import math

import hieros_lab.components  # noqa: F401  (every registration)
from hieros_lab import cli, registry

#: every registered sequence model is measured, a new one with no edit to the bench
PER_SEQUENCE = [f"{key}_{seq}" for seq in sorted(registry.entries("sequence"))
                for key in ("update_s", "imagine_steps_per_s", "peak_rss_gib", "mfu", "params")]
KEYS = [*PER_SEQUENCE, "mamba_scan_max_abs_err", "transformer_cache_max_abs_err",
        "world_model_s_s5",
        "imagination_s_s5",
        "flops_per_update_s5", "matmul_peak_flops", "mfu_s5", "peak_rss_gib",
        "imagine_steps_per_s", "env_steps_per_s", "env_steps_per_s_8envs", "scan_max_abs_err",
        "hierarchy_train_call_s", "hierarchy_peak_rss_gib", "etbs_cv_ratio", "etbs_cv_ratio_tau1",
        "sampler_us_per_sample_etbs_1000", "sampler_us_per_sample_uniform_1000",
        # mixed precision (Trainer.precision = 'bf16'), same run
        "update_s_s5_bf16", "update_s_rssm_bf16", "mfu_s5_bf16", "matmul_peak_flops_bf16",
        "bf16_speedup_s5", "bf16_speedup_rssm", "hierarchy_train_call_s_bf16",
        # compiled training (Trainer.compile = 'default'), same run; --quick compiles S5 only
        "update_s_s5_compiled", "world_model_s_s5_compiled", "imagination_s_s5_compiled",
        "mfu_s5_compiled", "compile_s_s5", "compiled_speedup_s5"]


def test_bench_quick_writes_all_keys(tmp_path, monkeypatch, mlflow_uri):
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "bench.json"
    assert cli.main(["bench", "--quick", "--json", str(path)]) == 0
    result = json.loads(path.read_text())
    for key in KEYS:
        assert key in result, key
        assert isinstance(result[key], int | float) and math.isfinite(result[key]), key
        assert result[key] >= 0, key
    assert 0 < result["mfu_s5"] < 1.5
    assert result["bf16_speedup_s5"] == result["update_s_s5"] / result["update_s_s5_bf16"]
    assert result["scan_max_abs_err"] < 1e-3
    assert result["mamba_scan_max_abs_err"] <= 1e-4  # issue #11's target, float32
    assert result["transformer_cache_max_abs_err"] <= 1e-4
    assert result["graph_breaks_s5"] == 0
    assert result["compiled_speedup_s5"] == result["update_s_s5"] / result["update_s_s5_compiled"]
    assert result["flops_per_update_s5"] > 1e6
    # figures compare only within one machine kind, so the result names it
    from hieros_lab.trainer import host

    assert result["machine_kind"] == host.kind_name(host.machine_kind())


def test_task_cost_times_updates_and_steps_of_a_config():
    from hieros_lab.bench.task_cost import task_cost

    cost = task_cost(["debug.gin"], ["Agent.batch_size = 2"], updates=2, steps=5)
    assert cost["update_s"] > 0 and cost["step_s"] > 0
    assert cost["replayed_steps_per_update"] == 2 * 16  # batch 2 x length 16 (scale/tiny.gin)


def test_task_cost_times_the_higher_levels_too():
    from hieros_lab.bench.task_cost import task_cost

    cost = task_cost(["debug.gin", "hierarchy/levels_2.gin"], ["Agent.batch_size = 2"],
                     updates=4, steps=5)  # K = 4: level 1 trains once in 4 calls
    assert cost["levels_trained"] == 2


def test_phase_times_split_every_levels_training_call():
    from hieros_lab.bench.phases import phase_times

    out = phase_times(["debug.gin", "hierarchy/levels_2.gin"], ["Agent.batch_size = 2"], calls=4)
    for level in (0, 1):
        parts = [out[f"level{level}/{p}_ms"] for p in
                 ("world_model", "imagine", "rewards", "actor_critic", "autoencoder")]
        assert all(p > 0 for p in parts)
        # the phases are parts of the level's step, which is part of the call
        assert sum(parts) <= out[f"level{level}/total_ms"] + 1e-6
    assert out["level0/total_ms"] + out["level1/total_ms"] <= out["call_ms"] + 1e-6
