"""The ``crabplus`` console script: one plain function per subcommand (``main(argv)`` for tests)."""

from crabplus.cli.main import main

__all__ = ["main"]
