"""World model: encoder, sequence model (swap point), decoder, reward/continue heads, losses."""
