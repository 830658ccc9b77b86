"""What the tests share and the shipped package must not carry: tiny real media files (``media``), synthetic
thinker inputs in the processor's layout (``dummy``), the tiny model/tokenizer and batches (``model``), the
shared tiny training run (``train``), the import tests' data root and fixtures (``importdata``) and the
golden-value computations (``goldens``), a tiny untrained prediction checkpoint (``predict``).

Tests import it as ``helpers`` (pytest puts ``tests/`` on ``sys.path``); scripts and benchmarks that need a
piece of it put ``tests/`` on ``sys.path`` first, saying so.
"""
