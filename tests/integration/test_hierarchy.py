"""End to end with 1..3 levels on the fake env: per-level metrics and tags in MLflow."""

from __future__ import annotations

import pytest


@pytest.mark.parametrize("levels", [2, 3])
def test_multi_level_run_logs_every_level(train, client, only_run, levels):
    code, _ = train(f"Agent.num_levels = {levels}", "Agent.k = 2", "Trainer.steps = 120")
    assert code == 0
    run = only_run()
    assert run.info.status == "FINISHED"
    assert run.data.tags["hierarchy.levels"] == str(levels)
    assert run.data.tags["component.reward_source"] == "extrinsic,subgoal,novelty"
    metrics = run.data.metrics
    for i in range(levels):
        for key in ("world_model/loss", "behavior/actor_loss", "subgoal/loss"):
            assert f"level{i}/{key}" in metrics, f"level{i}/{key}"
    assert f"level{levels}/world_model/loss" not in metrics
    assert run.data.params["Agent.num_levels"] == str(levels)


def test_resume_with_levels_restores_every_replay(train, client, only_run):
    code, run_dir = train("Agent.num_levels = 2", "Agent.k = 2", "Trainer.steps = 60")
    assert code == 0
    latest = run_dir / "checkpoints" / (run_dir / "checkpoints" / "latest").read_text().strip()
    assert (latest / "replay0.bin").is_file() and (latest / "replay1.bin").is_file()
    code, _ = train("Trainer.steps = 90", resume=True)
    assert code == 0 and only_run().info.status == "FINISHED"


def test_bad_level_count_fails_before_any_run(train, client, capsys):
    code, _ = train("Agent.num_levels = 0")
    assert code == 2
    assert "Agent.num_levels" in capsys.readouterr().err
    exp = client.get_experiment_by_name("hieros_lab")
    assert exp is None or not client.search_runs([exp.experiment_id])


def test_official_variants_train_end_to_end(train, client, only_run):
    """The authors' named variants (hieros_official.gin's deltas) on the tiny config."""
    files = ("debug.gin", "replay/etbs_official.gin", "rewards/per_critic.gin",
             "rewards/subgoal_director.gin", "rewards/novelty_official.gin")
    code, _ = train("Agent.num_levels = 2", "Agent.k = 2", "Trainer.steps = 80",
                    "ActorCritic.normalize_advantages = False",
                    "Abstraction.period_reward = @period_mean", gin=files)
    assert code == 0
    tags = only_run().data.tags
    assert tags["component.reward_mixer"] == "per_critic"
    assert tags["component.sampler"] == "etbs_official"
    assert tags["component.reward_source"] == "extrinsic,subgoal_director,novelty_official"
    metrics = only_run().data.metrics
    assert "level0/behavior/critic_loss/subgoal" in metrics


def test_subgoal_pictures_are_logged_at_evaluation(train, client, only_run):
    code, _ = train("Agent.num_levels = 3", "Agent.k = 2", "Trainer.steps = 100")
    assert code == 0
    run_id = only_run().info.run_id
    paths = [a.path for a in client.list_artifacts(run_id, "subgoals")]
    assert paths == ["subgoals/step_000000100.png"]  # debug.gin: eval at 100 (= final)
    import numpy as np
    from PIL import Image

    local = client.download_artifacts(run_id, paths[0])
    image = np.asarray(Image.open(local))
    # observation + goals of levels 0 and 1, 16x16 each, 2-pixel gaps
    assert image.shape[:2] == (16, 3 * 16 + 2 * 2)


def test_decompressed_goal_ablation_trains(train, only_run):
    code, _ = train("Agent.num_levels = 2", "Agent.k = 2", "Trainer.steps = 60",
                    "Level.decompress_goal = True")
    assert code == 0 and only_run().info.status == "FINISHED"


@pytest.mark.parametrize("binding, needle", [
    ("SubgoalAutoencoder.code_groups = 0", "SubgoalAutoencoder.code_groups"),
    ("level0/weighted_sum.weights = {'extrinsic': 1.0, 'novelty': 0.1}", "novelty"),
    ("ReplayBuffer.sampler = @etbs", "etbs.temperature"),
])
def test_bad_hierarchy_input_names_the_binding(train, client, capsys, binding, needle):
    extra = ("etbs.temperature = 1.5",) if "etbs" in binding else ()
    code, _ = train("Agent.num_levels = 2", binding, *extra)
    assert code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and needle in err[0], err
    exp = client.get_experiment_by_name("hieros_lab")
    assert exp is None or not client.search_runs([exp.experiment_id])
