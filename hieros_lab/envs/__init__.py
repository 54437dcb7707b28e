"""Environment factories (kind ``env``): ALE Atari100k, gymnasium control tasks, a fake env."""
