"""Environment factories (kind ``env``): ALE Atari100k, MinAtar, gymnasium control tasks, a fake
env."""
