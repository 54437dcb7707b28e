"""The shared metric/tag/artifact names are well formed and valid MLflow keys."""

from __future__ import annotations

import pytest

from hieros_lab.tracking import keys
from hieros_lab.tracking.base import sanitize_key


def _constants() -> dict[str, str]:
    return {k: v for k, v in vars(keys).items() if k.isupper() and isinstance(v, str)}


def test_level_and_component_names():
    assert keys.level(0, "world_model", "kl") == "level0/world_model/kl"
    assert keys.level(2, "behavior", "actor_loss") == "level2/behavior/actor_loss"
    assert keys.component_tag("sequence") == "component.sequence"
    with pytest.raises(ValueError):
        keys.level(-1, "world_model", "kl")
    with pytest.raises(ValueError):
        keys.level(0, "", "kl")
    with pytest.raises(ValueError):
        keys.component_tag("")


def test_documented_names():
    assert keys.EPISODE_SCORE == "episode/score" and keys.EVAL_SCORE == "eval/score"
    assert keys.REPLAY_SIZE == "replay/size" and keys.UPDATES_PER_S == "perf/updates_per_s"
    assert keys.HIERARCHY_LEVELS == "hierarchy.levels" and keys.GIT_SHA == "git_sha"
    assert keys.OPERATIVE_CONFIG == "config/operative_config.gin"
    assert keys.COMMAND == "config/command.txt" and keys.ERROR == "error/traceback.txt"


def test_every_name_is_unique_and_a_valid_mlflow_key():
    names = _constants()
    assert len(names) >= 20
    assert len(set(names.values())) == len(names), "two constants share one name"
    for const, name in names.items():
        assert sanitize_key(name) == name, f"keys.{const} = {name!r} is not a valid MLflow key"
