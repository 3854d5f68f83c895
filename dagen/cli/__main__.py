"""``python -m dagen.cli``: the ``dagen`` command."""

from dagen.cli import main

__all__ = ["main"]

if __name__ == "__main__":
    main()
