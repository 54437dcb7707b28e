"""One training call of the three-level agent at paper sizes with every level due.

Run as ``python -m hieros_lab.bench.hierarchy`` (own process: its peak memory is its own);
prints one JSON object with ``hierarchy_train_call_s`` and ``hierarchy_peak_rss_gib`` (and, with
``--device cuda``, ``hierarchy_peak_gpu_mem_gib``); ``--precision bf16`` trains under bf16
autocast (``Trainer.precision``); ``--compile MODE`` compiles every level (``Trainer.compile``)
and adds ``hierarchy_compile_s`` (the first call less a later one); ``--binding`` adds gin
bindings.
"""

from __future__ import annotations

import argparse
import json
import sys
import time

import gymnasium as gym
import numpy as np
import torch

from hieros_lab import config
from hieros_lab.bench.measure import median_time, peak_gpu_mem_gib, peak_rss_gib
from hieros_lab.nn import allocator, compiled

NUM_ACTIONS = 18


def fill(agent, steps: int, seed: int = 0) -> None:
    """Random steps into every level's replay (enough windows for one batch each)."""
    rng = np.random.default_rng(seed)
    for replay in agent.replays:
        space, groups = replay.obs_space, replay.action_groups
        classes = replay.num_actions // groups
        for t in range(steps):
            if space.dtype == np.uint8:
                obs = rng.integers(0, 256, space.shape, np.uint8)
            else:
                obs = rng.normal(size=space.shape).astype(np.float32)
            action = np.zeros(replay.num_actions, np.float32)
            action[np.arange(groups) * classes + rng.integers(0, classes, groups)] = 1.0
            goal = None
            if replay.goal_dim:
                goal = (rng.random(replay.goal_dim) < 0.125).astype(np.float32)
            replay.add(obs, action, float(rng.normal()), t == 0, False, False, goal=goal)


def measure(preset: str, levels: int, batch: int, length: int, repeats: int,
            device: str = "cpu", bindings: tuple[str, ...] = (), precision: str = "fp32",
            compile_mode: str = "off") -> dict:
    config.parse([preset], [f"Agent.num_levels = {levels}", f"Agent.batch_size = {batch}",
                            f"ReplayBuffer.length = {length}", "ReplayBuffer.capacity = 4096",
                            *bindings])
    torch.manual_seed(0)
    space = gym.spaces.Box(0, 255, (64, 64, 3), np.uint8)
    agent = config.configurable("Agent")(obs_space=space, num_actions=NUM_ACTIONS, seed=0,
                                         device=torch.device(device), precision=precision,
                                         compile=compile_mode)
    fill(agent, length + batch)

    def call() -> None:
        agent.train_calls = 0  # call 0: every level is due (0 mod K^i == 0)
        metrics = agent.train()
        assert all(f"level{i}/world_model/loss" in metrics for i in range(levels))

    first = time.perf_counter()
    call()  # the warm-up call (compiles every level when compile_mode is not off)
    first = time.perf_counter() - first
    out = {"hierarchy_train_call_s": median_time(call, repeats=repeats, warmup=0),
           "hierarchy_peak_rss_gib": peak_rss_gib()}
    if compile_mode != "off":
        out["hierarchy_compile_s"] = first - out["hierarchy_train_call_s"]
    return out | {f"hierarchy_{k}": v for k, v in peak_gpu_mem_gib(device).items()}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--preset", default="presets/hieros.gin")
    parser.add_argument("--levels", type=int, default=3)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--length", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--device", default="cpu", help="cpu or cuda[:N]")
    parser.add_argument("--binding", action="append", default=[], help="extra gin binding")
    parser.add_argument("--precision", choices=["fp32", "bf16"], default="fp32")
    parser.add_argument("--compile", choices=compiled.MODES, default="off")
    parser.add_argument("--no_retain_memory", action="store_true",
                        help="leave malloc as it is (a training run retains freed memory: "
                             "Trainer.retain_freed_memory, hieros_lab/nn/allocator.py)")
    args = parser.parse_args()
    if not args.no_retain_memory:
        allocator.retain_freed_memory()
    result = measure(args.preset, args.levels, args.batch, args.length, args.repeats,
                     args.device, tuple(args.binding), args.precision, args.compile)
    sys.stdout.write(json.dumps(result) + "\n")  # the parent bench reads this line


if __name__ == "__main__":
    main()
