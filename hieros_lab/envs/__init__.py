"""Environment factories (kind ``env``): ALE Atari100k, MinAtar, Visual Pinpad, gymnasium control
tasks, a fake env."""
