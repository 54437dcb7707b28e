"""Rewards of a level (spec §4.2, §5.4-§5.6): reward sources and the mixers combining them.

Protocols and the context in :mod:`hieros_lab.rewards.base`; registered components in
:mod:`hieros_lab.rewards.sources` (kind ``reward_source``) and :mod:`hieros_lab.rewards.mixers`
(kind ``reward_mixer``).
"""

from hieros_lab.rewards.base import RewardContext, RewardMixer, RewardSource

__all__ = ["RewardContext", "RewardMixer", "RewardSource"]
