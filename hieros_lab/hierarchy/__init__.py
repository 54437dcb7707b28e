"""Levels of the agent and the agent that stacks them."""
