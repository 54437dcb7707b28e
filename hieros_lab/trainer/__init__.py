"""The shared trainer: env driver, update schedule, evaluation, checkpoints, the training loop."""
