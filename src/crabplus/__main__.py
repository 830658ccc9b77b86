"""``python -m crabplus`` (and ``torchrun -m crabplus``) runs the console script."""

from crabplus.cli.main import console

if __name__ == "__main__":
    console()
