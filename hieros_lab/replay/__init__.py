"""Replay storage and the ``sampler`` swap point."""
