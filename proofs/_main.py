"""``python -m proofs`` and ``smeq prove``: print the certificate, exit 1 unless certified."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from ._certificate import certify
from ._errors import SmeqError, invalid

__all__ = ["main"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options shared by ``python -m proofs`` and ``smeq prove``."""
    parser.add_argument("--markdown", metavar="FILE", type=Path,
                        help="also write the certificate as Markdown with LaTeX to FILE")
    parser.add_argument("--only", metavar="NAME", action="append",
                        help="check only this derivation (repeatable)")


EXIT_USAGE = 2


def run(args: argparse.Namespace) -> int:
    """Print the certificate; write Markdown if asked; return the exit code (0 certified,
    1 not, 2 a usage error: an unknown name or an unwritable ``--markdown`` path, found before
    any step is checked)."""
    try:
        _check_markdown(args.markdown)
        certificate = certify(args.only)
    except SmeqError as exc:
        print(f"smeq prove: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    print(certificate.to_text())
    if args.markdown is not None:
        try:
            args.markdown.write_text(certificate.to_markdown(), encoding="utf-8")
        except OSError as exc:
            print(f"smeq prove: error: --markdown {args.markdown}: {exc.strerror}", file=sys.stderr)
            return EXIT_USAGE
        print(f"markdown certificate written to {args.markdown}")
    return 0 if certificate.ok else 1


def _check_markdown(path: Path | None) -> None:
    """Refuse a ``--markdown`` target that cannot be written, before the (slow) certificate."""
    if path is None:
        return
    if path.is_dir():
        raise invalid("--markdown", f"{str(path)!r} is a directory",
                      "name a file, e.g. --markdown certificate.md")
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.is_dir():
        raise invalid("--markdown", f"the directory {str(parent)!r} does not exist",
                      "create it first or write the file elsewhere")


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``python -m proofs``."""
    parser = argparse.ArgumentParser(prog="python -m proofs", description=__doc__)
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
