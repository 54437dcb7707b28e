"""Sweeps: experiment files (arms x games x seeds) run as tracked ``hieros-lab train`` children.

``experiment`` reads and validates ``experiments/*.toml``; ``sweep`` runs one (parent MLflow run,
skip/resume, failures, Ctrl-C); ``runner`` is the local process pool, ``ray_runner`` the Ray one.
"""
