"""The web demo (``crabplus serve``): a Gradio page over a loaded checkpoint that shows the answer, the
structured prediction, the mask or the events, and the I-LoRA routing of each answer token.

Gradio is an optional dependency (``scripts/setup.sh web`` installs the pinned set); only
:mod:`crabplus.web.app`'s ``build_demo`` imports it.
"""
