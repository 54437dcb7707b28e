"""``hieros-lab bench``: speed and memory measured on the current machine."""
