"""``python -m proofs`` and ``smeq prove``: print the certificate, exit 1 unless certified."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from ._certificate import certify

__all__ = ["main"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options shared by ``python -m proofs`` and ``smeq prove``."""
    parser.add_argument("--markdown", metavar="FILE", type=Path,
                        help="also write the certificate as Markdown with LaTeX to FILE")
    parser.add_argument("--only", metavar="NAME", action="append",
                        help="check only this derivation (repeatable)")


def run(args: argparse.Namespace) -> int:
    """Print the certificate; write Markdown if asked; return the exit code."""
    certificate = certify(args.only)
    print(certificate.to_text())
    if args.markdown is not None:
        args.markdown.write_text(certificate.to_markdown(), encoding="utf-8")
        print(f"markdown certificate written to {args.markdown}")
    return 0 if certificate.ok else 1


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``python -m proofs``."""
    parser = argparse.ArgumentParser(prog="python -m proofs", description=__doc__)
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
