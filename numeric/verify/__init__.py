"""``smeq verify``: the main job, an application on top of proofs, numeric and the guard.

It runs the symbolic certificate, the numeric confirmations and the guard on reference losses,
and writes the report (markdown, self-contained HTML, figures). Nothing in proofs, numeric or the
guard imports from here.
"""

from ._app import add_arguments as add_arguments
from ._app import run as run

__all__ = ["add_arguments", "run"]
