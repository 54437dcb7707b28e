"""Level-0 training update at the paper's sizes (spec §0.1), measured in its own process.

Run as ``python -m hieros_lab.bench.update --sequence s5`` (the bench does this so each
sequence model's peak memory is its own); prints one JSON object. ``--device cuda`` measures on
a GPU (``scripts/gpu_check.sh``), adding ``peak_gpu_mem_gib``; ``--precision bf16`` runs the
update under bf16 autocast as a ``Trainer.precision = 'bf16'`` run does (imagination included);
``--compile MODE`` compiles the level as ``Trainer.compile = MODE`` does and adds ``compile_s``
(the first update's time less a compiled update's: what compiling cost) and ``graph_breaks``;
the FLOP count is then the eager one (the computation is the same). ``--binding`` adds gin
bindings after the preset.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any

import gymnasium as gym
import numpy as np
import torch

from hieros_lab import config
from hieros_lab.behavior.imagination import imagine
from hieros_lab.bench.measure import count_flops, median_time, peak_gpu_mem_gib, peak_rss_gib
from hieros_lab.nn import allocator, compiled
from hieros_lab.nn import precision as prec

NUM_ACTIONS = 18  # full Atari action set: the largest level-0 action space


def random_batch(batch: int, length: int, size: int, seed: int = 0) -> dict[str, torch.Tensor]:
    """A replay-like batch ``[B, T, ...]`` of random 64x64 frames and one-hot actions."""
    rng = np.random.default_rng(seed)
    actions = rng.integers(0, NUM_ACTIONS, (batch, length))
    is_first = np.zeros((batch, length), bool)
    is_first[:, 0] = True
    return {
        "obs": torch.from_numpy(rng.integers(0, 256, (batch, length, size, size, 3), np.uint8)),
        "action": torch.nn.functional.one_hot(torch.from_numpy(actions), NUM_ACTIONS).float(),
        "reward": torch.from_numpy(rng.normal(size=(batch, length)).astype(np.float32)),
        "is_first": torch.from_numpy(is_first),
        "is_last": torch.zeros(batch, length, dtype=torch.bool),
        "is_terminal": torch.zeros(batch, length, dtype=torch.bool),
    }


def measure(sequence: str, batch: int, length: int, size: int, repeats: int,
            preset: str = "presets/hieros.gin", device: str = "cpu",
            bindings: tuple[str, ...] = (), precision: str = "fp32",
            compile_mode: str = "off") -> dict[str, Any]:
    # Paper sizes by default; the sequence model is swapped by a binding like any user would.
    config.parse([preset], [f"WorldModel.sequence = @{sequence}", *bindings])
    torch.manual_seed(0)
    space = gym.spaces.Box(0, 255, (size, size, 3), np.uint8)
    # Built, then moved, as the Agent builds its levels.
    level = config.configurable("Level")(obs_space=space, num_actions=NUM_ACTIONS).to(device)
    wm, ac = level.world_model, level.actor_critic
    data = {k: v.to(device) for k, v in random_batch(batch, length, size).items()}
    state: dict[str, Any] = {}
    mode = lambda: prec.autocast(torch.device(device), precision)  # noqa: E731

    def wm_step() -> None:
        with mode():
            state["post"], state["prior"], _ = wm.train_step(data)

    def ac_step() -> None:  # imagination, rewards and the behaviour update, as Level does them
        with mode():
            start = wm.start_states(state["post"], state["prior"])
            traj = ac.imagine(wm, start)
            rewards = level.mixer.head_rewards(level.rewards(traj, None))
            ac.update(traj, rewards, mix=level.mixer.mix)

    def update() -> None:
        with mode():
            level.train_step(data)

    # FLOPs counted eager in every mode (a FLOP counter inside compiled code would count nothing
    # or recompile; the computation is the same); this call also warms the eager update up.
    flops = count_flops(update)
    extra: dict[str, Any] = {}
    if compile_mode != "off":
        level.set_compile(compile_mode)
        first = time.perf_counter()
        update()  # the first compiled call, which compiles
        extra["compile_s"] = time.perf_counter() - first
    update_s = median_time(update, repeats=repeats, warmup=0)
    world_model_s = median_time(wm_step, repeats=repeats, warmup=0)
    imagination_s = median_time(ac_step, repeats=repeats, warmup=0)
    if compile_mode != "off":
        extra["compile_s"] -= update_s
        extra["graph_breaks"] = compiled.graph_breaks()
    start = wm.start_states(state["post"], state["prior"])
    with torch.no_grad(), mode():
        policy = lambda x: ac.act(x, sample=True)  # noqa: E731
        rollout_s = median_time(lambda: imagine(wm, policy, start, ac.horizon),
                                repeats=repeats)
    starts = start.stoch.shape[0]
    return {"update_s": update_s, "world_model_s": world_model_s, "imagination_s": imagination_s,
            "flops_per_update": flops, "imagine_steps_per_s": starts * ac.horizon / rollout_s,
            "peak_rss_gib": peak_rss_gib(), **peak_gpu_mem_gib(device),
            "params": sum(p.numel() for p in level.parameters()), **extra}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sequence", required=True, help="registered sequence model name")
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--length", type=int, default=64)
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--preset", default="presets/hieros.gin", help="gin file with the sizes")
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
    result = measure(args.sequence, args.batch, args.length, args.size, args.repeats, args.preset,
                     args.device, tuple(args.binding), args.precision, args.compile)
    sys.stdout.write(json.dumps(result) + "\n")  # the parent bench reads this line


if __name__ == "__main__":
    main()
