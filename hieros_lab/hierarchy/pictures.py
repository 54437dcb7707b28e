"""What the agent is aiming at: each level's current subgoal decoded to pixels (spec §5.7).

The code that level i+1 holds is decoded by level i's autoencoder into a target h, paired with
level i's current z and decoded by level i's world model. Above level 0 that gives the K stacked
latents of the level below; the newest one is decoded again, down to level 0's image.
"""

from __future__ import annotations

import numpy as np
import torch

from hieros_lab.hierarchy.level import Level
from hieros_lab.hierarchy.runtime import HierarchyState


@torch.no_grad()
def goal_images(levels: list[Level], state: HierarchyState) -> list[np.ndarray]:
    """One ``[H, W, C]`` uint8 image per level that has a parent (levels 0 .. L-2)."""
    images = []
    for i, level in enumerate(levels[:-1]):
        goal_h = level.autoencoder.decode(state.outputs[i + 1])  # [1, D_i]
        feat = torch.cat([state.policy[i].latent.stoch, goal_h], -1)
        for j in range(i, 0, -1):  # level j's observation = K latents of level j-1
            feat = levels[j].world_model.decode_feat(feat)[..., -levels[j - 1].encoding_dim:]
        image = levels[0].world_model.decode_feat(feat)[0]
        images.append(image.round().to(torch.uint8).cpu().numpy())
    return images


def picture_grid(observation: np.ndarray, goals: list[np.ndarray], gap: int = 2) -> np.ndarray:
    """[observation | goal of level 0 | goal of level 1 | ...] side by side, RGB uint8."""
    tiles = [np.asarray(observation, np.uint8), *goals]
    tiles = [np.repeat(t, 3, -1) if t.shape[-1] == 1 else t for t in tiles]
    height = tiles[0].shape[0]
    spacer = np.full((height, gap, 3), 255, np.uint8)
    parts: list[np.ndarray] = []
    for tile in tiles:
        parts += [tile, spacer]
    return np.concatenate(parts[:-1], axis=1)
