"""Experiments built from the parts: the demo (the README's main job) and the transfer study."""
