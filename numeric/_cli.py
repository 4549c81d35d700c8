"""The ``smeq`` console script: ``verify`` (the main job), ``prove`` and ``guard``.

Each subcommand lives in its own module with ``add_arguments(parser)`` and ``run(args) -> int``;
they are imported only when chosen, so ``smeq prove`` never pays for the numeric side.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence
from typing import Any

__all__ = ["main"]

_SUBCOMMANDS = {
    "verify": ("numeric.verify", "prove and measure SM = DSM + C(t); write smeq-report/"),
    "prove": ("proofs._main", "print the symbolic certificate"),
    "guard": ("numeric.guard._cli", "check that a user's loss is score matching"),
}


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``smeq`` command."""
    parser = argparse.ArgumentParser(prog="smeq", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    argv = list(sys.argv[1:] if argv is None else argv)
    chosen = argv[0] if argv and argv[0] in _SUBCOMMANDS else None
    for name, (module, summary) in _SUBCOMMANDS.items():
        sub = commands.add_parser(name, help=summary, description=summary)
        sub.set_defaults(_module=module)
        if chosen in (None, name):  # import only the chosen subcommand's module
            _load(module).add_arguments(sub)
    args = parser.parse_args(argv)
    return int(_load(args._module).run(args))


def _load(module: str) -> Any:
    return importlib.import_module(module)


if __name__ == "__main__":
    sys.exit(main())
