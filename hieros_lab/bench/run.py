"""``hieros-lab bench``: measure, print a table, log to MLflow, write a flat JSON object.

Keys (issue #2): update_s_<seq>, world_model_s_<seq>, imagination_s_<seq>, flops_per_update_<seq>,
mfu_<seq>, imagine_steps_per_s_<seq>, peak_rss_gib_<seq> for every <seq> of SEQUENCES (every
registered sequence model: s5, rssm, and mamba and transformer from issue #11),
matmul_peak_flops, peak_rss_gib (S5 update process), imagine_steps_per_s (S5),
env_steps_per_s (Atari Pong, policy in the loop; env_steps_per_s_8envs: 8 envs, one batched
policy call for all, issue #10), scan_max_abs_err, mamba_scan_max_abs_err (the selective scan
against its recurrence, issue #11), transformer_cache_max_abs_err (attention over the window
against its key/value-cached steps, issue #11). Replay samplers (issue #3,
bench/samplers.py): sampler_us_per_sample_<sampler>_<size>, sampler_cv_uniform,
etbs_cv_ratio, etbs_cv_ratio_tau1, etbs_official_cv_ratio. Hierarchy (issue #3, bench/hierarchy.py):
hierarchy_train_call_s (one training call, three levels due, paper sizes), hierarchy_peak_rss_gib.
Mixed precision (issue #10, ``Trainer.precision = 'bf16'``): update_s_<seq>_bf16,
world_model_s_<seq>_bf16, imagination_s_<seq>_bf16, mfu_<seq>_bf16 (against
matmul_peak_flops_bf16, a bf16 matmul's peak), hierarchy_train_call_s_bf16, and
bf16_speedup_<seq> = update_s_<seq> / update_s_<seq>_bf16. Compiled training (issue #10,
``Trainer.compile = 'default'``, float32): update_s_<seq>_compiled, world_model_s_<seq>_compiled,
imagination_s_<seq>_compiled, mfu_<seq>_compiled (the eager FLOP count: the computation is the
same), compile_s_<seq> (the first compiled update less a later one), graph_breaks_<seq> and
compiled_speedup_<seq> = update_s_<seq> / update_s_<seq>_compiled.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import time
from typing import Any

import torch

import hieros_lab.components  # noqa: F401  (every registration)
from hieros_lab import registry
from hieros_lab.bench import samplers
from hieros_lab.bench.measure import matmul_peak_flops
from hieros_lab.trainer import host

#: Every registered sequence model (``update_s_<seq>``, ``imagine_steps_per_s_<seq>``, ...):
#: a newly registered one is measured with no edit here
SEQUENCES = tuple(sorted(registry.entries("sequence")))
#: Sequence models the full bench also measures compiled (a compile takes minutes on a CPU)
COMPILED_SEQUENCES = ("s5", "rssm")
#: precision -> key suffix (fp32 keeps the keys of issue #2)
PRECISIONS = {"fp32": "", "bf16": "_bf16"}
#: Envs of the batched-acting figure (``env_steps_per_s_<n>envs``, ``Trainer.num_envs``)
BATCHED_ENVS = 8
PAPER = "presets/hieros.gin"
QUICK = "debug.gin"  # tiny sizes: a smoke test of the bench itself, not a measurement


QUICK_ARGS = ["--batch", "2", "--length", "8", "--repeats", "1", "--preset", QUICK]


def _child(module: str, args: list[str], quick: bool) -> dict[str, Any]:
    """Run a measurement module in a fresh process so its peak memory is its own."""
    cmd = [sys.executable, "-m", module, *args, *(QUICK_ARGS if quick else [])]
    out = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if out.returncode != 0:
        raise RuntimeError(f"bench {' '.join(cmd[2:])} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def env_steps_per_s(steps: int, preset: str = PAPER, num_envs: int = 1) -> float:
    """Atari (Pong, 64x64, action repeat 4) stepped by the S5 agent's policy (paper sizes);
    ``num_envs``: that many envs, one batched policy call for all (``Trainer.num_envs``)."""
    from hieros_lab import config
    from hieros_lab.trainer.loop import Trainer

    config.parse([preset], ["Trainer.env = @atari", "atari.game = 'Pong'", "atari.size = 64",
                            "Trainer.tracker = @null", "Trainer.device = 'cpu'",
                            "ReplayBuffer.capacity = 10000", f"Trainer.num_envs = {num_envs}"])
    trainer = Trainer()
    trainer.build()
    agent, drivers = trainer.agent, trainer.drivers

    def round_() -> None:
        for driver, action in zip(drivers, agent.step_batch([d.current() for d in drivers]),
                                  strict=True):
            driver.advance(action)

    for _ in range(5):
        round_()
    count = lambda: sum(d.env_steps for d in drivers)  # noqa: E731
    start, before = time.perf_counter(), count()
    while count() - before < steps:
        round_()
    return (count() - before) / (time.perf_counter() - start)


def compiled_keys(seq: str, result: dict[str, Any], child: dict[str, Any]) -> dict[str, Any]:
    """The ``*_compiled`` keys of ``seq`` from a ``--compile`` child, next to ``result``'s
    eager float32 figures of the same run."""
    out = {f"{key}_{seq}_compiled": child[key]
           for key in ("update_s", "world_model_s", "imagination_s")}
    out[f"mfu_{seq}_compiled"] = (result[f"flops_per_update_{seq}"] / child["update_s"]
                                  / result["matmul_peak_flops"])
    out[f"compile_s_{seq}"] = child["compile_s"]
    out[f"graph_breaks_{seq}"] = child["graph_breaks"]
    out[f"compiled_speedup_{seq}"] = result[f"update_s_{seq}"] / child["update_s"]
    return out


def collect(quick: bool) -> dict[str, Any]:
    from hieros_lab.sequence.mamba_layers import scan_max_abs_err as mamba_scan_max_abs_err
    from hieros_lab.sequence.s5_layers import scan_max_abs_err
    from hieros_lab.sequence.transformer_layers import cache_max_abs_err

    result: dict[str, Any] = {"matmul_peak_flops": matmul_peak_flops(),
                              "matmul_peak_flops_bf16": matmul_peak_flops(dtype=torch.bfloat16)}
    for precision, sfx in PRECISIONS.items():
        for seq in SEQUENCES:
            child = _child("hieros_lab.bench.update",
                           ["--sequence", seq, "--precision", precision], quick)
            result[f"update_s_{seq}{sfx}"] = child["update_s"]
            result[f"world_model_s_{seq}{sfx}"] = child["world_model_s"]
            result[f"imagination_s_{seq}{sfx}"] = child["imagination_s"]
            result[f"flops_per_update_{seq}{sfx}"] = child["flops_per_update"]
            result[f"mfu_{seq}{sfx}"] = child["flops_per_update"] / child["update_s"] / result[
                f"matmul_peak_flops{sfx}"]
            result[f"peak_rss_gib_{seq}{sfx}"] = child["peak_rss_gib"]
            if sfx:
                result[f"bf16_speedup_{seq}"] = result[f"update_s_{seq}"] / child["update_s"]
                continue
            result[f"params_{seq}"] = child["params"]
            result[f"imagine_steps_per_s_{seq}"] = child["imagine_steps_per_s"]
            if seq == "s5":
                result["peak_rss_gib"] = child["peak_rss_gib"]
                result["imagine_steps_per_s"] = child["imagine_steps_per_s"]
        hierarchy = _child("hieros_lab.bench.hierarchy", ["--precision", precision], quick)
        result.update({f"{k}{sfx}": v for k, v in hierarchy.items()})
    for seq in ("s5",) if quick else COMPILED_SEQUENCES:  # --quick: one compile is enough
        result.update(compiled_keys(seq, result, _child(
            "hieros_lab.bench.update", ["--sequence", seq, "--compile", "default"], quick)))
    result["env_steps_per_s"] = env_steps_per_s(50, QUICK) if quick else env_steps_per_s(500)
    result[f"env_steps_per_s_{BATCHED_ENVS}envs"] = (
        env_steps_per_s(50, QUICK, BATCHED_ENVS) if quick else
        env_steps_per_s(1000, num_envs=BATCHED_ENVS))
    result["scan_max_abs_err"] = scan_max_abs_err()
    result["mamba_scan_max_abs_err"] = mamba_scan_max_abs_err()
    result["transformer_cache_max_abs_err"] = cache_max_abs_err()
    result.update(samplers.sampler_bench(**(samplers.QUICK if quick else {})))
    result["quick"] = quick
    result["machine"] = f"{platform.machine()} {os.cpu_count()} cpus torch {torch.__version__}"
    # figures compare only within one machine kind (CPU model and capability, trainer/host.py)
    result["machine_kind"] = host.kind_name(host.machine_kind())
    return result


def table(result: dict[str, Any]) -> str:
    rows = []
    for key, value in result.items():
        text = f"{value:.4g}" if isinstance(value, float) else str(value)
        rows.append(f"  {key:<28} {text}")
    return "\n".join(rows)


def log_mlflow(result: dict[str, Any]) -> str:
    from hieros_lab.tracking.mlflow_tracker import MlflowTracker

    tracker = MlflowTracker(experiment="hieros_lab_bench", system_metrics="off")
    tracker.check()
    run_id = tracker.start("bench-quick" if result["quick"] else "bench")
    tracker.set_tags({"bench.machine": result["machine"], "bench.quick": str(result["quick"]),
                      "bench.machine_kind": result["machine_kind"]})
    tracker.log_metrics({k: float(v) for k, v in result.items()
                         if isinstance(v, int | float) and not isinstance(v, bool)}, step=0)
    tracker.log_text(json.dumps(result, indent=2), "bench/bench.json")
    tracker.end("FINISHED")
    return run_id
