"""The GPU check of issue #10: one JSON file of what one accelerator does with the paper sizes.

Run by ``scripts/gpu_check.sh`` (on the device machine, or here with ``--quick``). Each part runs
in its own process with its own time limit, so its memory peak is its own and a part that fails
or hangs is recorded (``errors``) while the others still run:

- ``update_s_<seq>`` (+ ``world_model_s``, ``imagination_s``, ``peak_gpu_mem_gib``): the level-0
  update at paper sizes, :mod:`hieros_lab.bench.update`, for the S5WM and the RSSM, once per
  mode in :data:`MODES` (eager fp32 is the key without a suffix, ``_bf16`` the bf16 autocast,
  ``_compiled_bf16`` and ``_cuda_graphs_bf16`` compiled, with ``compile_s_<seq>_<mode>``);
- ``hierarchy_train_call_s``: one three-level training call with every level due
  (:mod:`hieros_lab.bench.hierarchy`) and ``hierarchy_over_level0``, its ratio to the S5 update
  of the same run and mode (issue #10 target: <= 2), per mode too;
- ``pong_*``: a Pong run at paper sizes and the paper's train ratio, acting and training as the
  trainer does, for ``--pong-steps`` env steps or ``--pong-seconds``, whichever ends first; its
  seconds per env step once training runs, and ``atari100k_hours``: that per-step time times the
  100,000 env steps of an Atari100k game; it trains at ``Trainer.precision``'s default (``auto``:
  bf16 on a GPU that supports it), named in ``pong_precision``.

Parts a mode does not run (:data:`PARTS`) are listed in ``not_measured`` with the reason,
never silently left out. On a machine without CUDA, or with ``--quick``, the sizes are the debug
ones: that checks the script, it measures nothing worth reporting (``quick: true`` in the file).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import torch

from hieros_lab.bench.measure import peak_gpu_mem_gib, peak_rss_gib

#: mode name -> arguments of the update and hierarchy parts; "" is eager fp32 (keys without a
#: suffix, as in ``hieros-lab bench``), "bf16" is ``Trainer.precision = 'bf16'``,
#: "compiled_bf16" adds ``Trainer.compile = 'default'`` and "cuda_graphs_bf16"
#: ``Trainer.compile = 'reduce-overhead'`` (CUDA graphs on a GPU; plain inductor on a CPU)
MODES: dict[str, tuple[str, ...]] = {
    "": ("--precision", "fp32"),
    "bf16": ("--precision", "bf16"),
    "compiled_bf16": ("--precision", "bf16", "--compile", "default"),
    "cuda_graphs_bf16": ("--precision", "bf16", "--compile", "reduce-overhead"),
}
SEQUENCES = ("s5", "rssm")
#: what each mode measures: its sequence models and whether it runs the three-level call. Each
#: compiled part compiles for minutes, so the check stays within its 8 minutes by compiling
#: each graph once per mode that issue #10 asks for.
PARTS: dict[str, tuple[tuple[str, ...], bool]] = {
    "": (SEQUENCES, True), "bf16": (SEQUENCES, True), "compiled_bf16": (SEQUENCES, False),
    "cuda_graphs_bf16": (("s5",), False)}
#: with --quick (a CPU, debug sizes: a check of the script) only S5 compiles, once: on a CPU
#: reduce-overhead compiles what default compiles (CUDA graphs need CUDA), and each compile
#: costs minutes of the test suite
QUICK_PARTS = {**PARTS, "compiled_bf16": (("s5",), False), "cuda_graphs_bf16": ((), False)}
PAPER = "presets/hieros.gin"
QUICK = "debug.gin"
#: env steps of one Atari100k game (100k agent steps at action repeat 4 = 400k frames)
ATARI100K_STEPS = 100_000
#: per-part time limits in seconds (paper sizes on a GPU; startup and CUDA init included)
LIMIT_S = {"update": 300, "hierarchy": 240}


def _sizes(quick: bool) -> list[str]:
    return ["--batch", "2", "--length", "8", "--repeats", "1", "--preset", QUICK] if quick else []


def run_part(args: list[str], limit_s: float) -> dict[str, Any]:
    """``python -m <args>`` in a fresh process; its last stdout line is a JSON object. A failure
    or timeout becomes ``{"error": ...}`` with the end of its stderr."""
    cmd = [sys.executable, "-m", *args]
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=limit_s, check=False)
    except subprocess.TimeoutExpired as err:
        tail = (err.stderr or b"")[-2000:]
        return {"error": f"timed out after {limit_s:g} s: {tail!r}"}
    if out.returncode != 0:
        return {"error": f"exit {out.returncode}: {out.stderr[-2000:]}"}
    return json.loads(out.stdout.strip().splitlines()[-1])


def pong(preset: str, device: str, steps: int, seconds: float,
         bindings: tuple[str, ...] = ()) -> dict[str, Any]:
    """Act and train on Pong as ``Trainer.fit`` does (no evaluations, checkpoints or logging)
    for ``steps`` env steps or ``seconds``; returns per-step times before and after training
    starts and the Atari100k extrapolation."""
    from hieros_lab import config
    from hieros_lab.trainer.loop import Trainer

    config.parse([preset], ["Trainer.env = @atari", "atari.game = 'Pong'", "atari.size = 64",
                            "Trainer.tracker = @null", f"Trainer.device = '{device}'",
                            f"Trainer.steps = {steps}", "ReplayBuffer.capacity = 100000",
                            *bindings])
    trainer = Trainer()
    trainer.build()
    agent, driver = trainer.agent, trainer.driver
    sync = torch.cuda.synchronize if trainer.device.type == "cuda" else (lambda: None)
    step = updates = 0
    begin = time.perf_counter()
    trained_from: tuple[int, float] | None = None  # (step, time) of the first update
    while step < steps and time.perf_counter() - begin < seconds:
        before = driver.env_steps
        driver.step(agent.step)
        if driver.env_steps == before:
            continue
        step += 1
        if agent.can_train():
            if trained_from is None:
                sync()
                trained_from = (step, time.perf_counter())
            for _ in range(trainer.ratio(step)):
                agent.train()
                updates += 1
    sync()
    end = time.perf_counter()
    out: dict[str, Any] = {"pong_steps": step, "pong_updates": updates, "pong_wall_s": end - begin,
                           "pong_train_ratio": trainer.train_ratio,
                           "pong_precision": trainer.precision,  # Trainer.precision resolved
                           "pong_peak_rss_gib": peak_rss_gib(),
                           **{f"pong_{k}": v for k, v in peak_gpu_mem_gib(trainer.device).items()}}
    if trained_from is not None:
        acting = trained_from[0] - 1
        out["pong_acting_s_per_step"] = (trained_from[1] - begin) / max(acting, 1)
        if step > trained_from[0]:
            per_step = (end - trained_from[1]) / (step - trained_from[0])
            out["pong_s_per_step"] = per_step
            out["atari100k_hours"] = per_step * ATARI100K_STEPS / 3600
    return out


def device_info(device: str) -> dict[str, Any]:
    info: dict[str, Any] = {"torch": torch.__version__, "device": device,
                            "cpu_capability": torch.backends.cpu.get_cpu_capability(),
                            "cpus": os.cpu_count()}
    if device.startswith("cuda"):
        props = torch.cuda.get_device_properties(device)
        info |= {"gpu": props.name, "gpu_capability": f"{props.major}.{props.minor}",
                 "gpu_mem_gib": props.total_memory / 1024**3, "cuda": torch.version.cuda,
                 "bf16_supported": torch.cuda.is_bf16_supported()}
    return info


def check(device: str, quick: bool, pong_steps: int, pong_seconds: float,
          say=lambda _: None) -> dict[str, Any]:
    """Every part; the JSON object that the check writes."""
    begin = time.perf_counter()
    result: dict[str, Any] = {"quick": quick, **device_info(device)}
    errors: dict[str, str] = {}

    def part(name: str, args: list[str], limit_s: float) -> dict[str, Any]:
        say(f"gpu_check: {name}")
        got = run_part(args, limit_s)
        if "error" in got:
            errors[name] = got.pop("error")
            say(f"gpu_check: {name} failed: {errors[name].splitlines()[0][:200]}")
        return got

    dev = ["--device", device]
    not_measured: dict[str, str] = {}
    for mode, extra in MODES.items():
        suffix = f"_{mode}" if mode else ""
        sequences, with_hierarchy = (QUICK_PARTS if quick else PARTS)[mode]
        for seq in SEQUENCES:
            if seq not in sequences:
                not_measured[f"update_{seq}{suffix}"] = "not run in this mode (PARTS)"
                continue
            got = part(f"update_{seq}{suffix}",
                       ["hieros_lab.bench.update", "--sequence", seq, *dev, *extra,
                        *_sizes(quick)], LIMIT_S["update"])
            for key in ("update_s", "world_model_s", "imagination_s", "imagine_steps_per_s",
                        "peak_gpu_mem_gib", "peak_rss_gib", "compile_s", "graph_breaks"):
                if key in got:
                    result[f"{key}_{seq}{suffix}"] = got[key]
        if not with_hierarchy:
            not_measured[f"hierarchy{suffix}"] = "not run in this mode (PARTS)"
            continue
        got = part(f"hierarchy{suffix}", ["hieros_lab.bench.hierarchy", *dev, *extra,
                                          *_sizes(quick)], LIMIT_S["hierarchy"])
        result |= {f"{k}{suffix}": v for k, v in got.items()}
        call, level0 = f"hierarchy_train_call_s{suffix}", f"update_s_s5{suffix}"
        if call in result and level0 in result:
            result[f"hierarchy_over_level0{suffix}"] = result[call] / result[level0]
    preset = QUICK if quick else PAPER
    result |= part("pong", ["hieros_lab.bench.gpu_check", "--part", "pong", "--preset", preset,
                            *dev, "--pong-steps", str(pong_steps),
                            "--pong-seconds", str(pong_seconds)], pong_seconds + 180)
    result["not_measured"] = not_measured
    result["errors"] = errors
    result["check_wall_s"] = time.perf_counter() - begin
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("gpu_check.json"))
    parser.add_argument("--device", default="auto", help="auto (cuda when there is one), cpu, cuda")
    parser.add_argument("--quick", action="store_true",
                        help="debug sizes (the default without CUDA): checks the script only")
    parser.add_argument("--pong-steps", type=int, default=None,
                        help="env steps of the Pong run (default 5,000; 60 with --quick)")
    parser.add_argument("--pong-seconds", type=float, default=240.0)
    parser.add_argument("--part", choices=["pong"], help=argparse.SUPPRESS)  # one part, in-process
    parser.add_argument("--preset", default=PAPER, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    device = ("cuda" if torch.cuda.is_available() else "cpu") if args.device == "auto" \
        else args.device
    quick = args.quick or not device.startswith("cuda")
    steps = args.pong_steps or (60 if quick else 5000)
    if args.part == "pong":
        got = pong(args.preset, device, steps, args.pong_seconds)
        sys.stdout.write(json.dumps(got) + "\n")  # the parent reads this line
        return 0
    result = check(device, quick, steps, args.pong_seconds,
                   say=lambda m: sys.stderr.write(m + "\n"))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    sys.stderr.write(f"gpu_check: wrote {args.out} ({len(result['errors'])} parts failed, "
                     f"{result['check_wall_s']:.0f} s)\n")
    return 1 if result["errors"] else 0


if __name__ == "__main__":
    sys.exit(main())
