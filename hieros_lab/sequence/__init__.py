"""Sequence models of the world model (kind ``sequence``): S5WM and RSSM."""
