"""The repository cites nothing outside itself: a clone must be readable on its own.

The design lives in docs/design.md; a reference to a sibling folder of the checkout (the team's
notes), to an absolute path of one machine, or to the notes' file names is dead in any clone.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# Built from parts so that this file does not match itself.
_FORBIDDEN = re.compile("|".join([
    re.escape("shared" + "/"),            # the team's notes beside the checkout
    re.escape("../" + "shared"),
    re.escape("DESIGN" + ".md"),          # their file names (ours is docs/design.md)
    re.escape("STYLE" + ".md"),
    re.escape("/" + "work/"),             # an absolute path of one machine
]))
_TEXT = {".py", ".md", ".toml", ".ini", ".cfg", ".txt", ".sh", ".yaml", ".yml", ".cff", ""}


def _tracked_files() -> list[Path]:
    try:
        out = subprocess.run(["git", "ls-files", "-co", "--exclude-standard"], cwd=ROOT,
                             capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        pytest.skip("not a git checkout: nothing to list")
    return [ROOT / line for line in out.splitlines() if line]


def test_no_reference_points_outside_the_repository() -> None:
    hits = []
    for path in _tracked_files():
        if path.suffix not in _TEXT or not path.is_file():
            continue
        for number, line in enumerate(path.read_text(errors="replace").splitlines(), 1):
            if _FORBIDDEN.search(line):
                hits.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()[:100]}")
    assert not hits, ("these lines cite paths outside the repository; point at docs/design.md "
                      "(or the paper) instead:\n" + "\n".join(hits))


def test_the_design_document_is_in_the_repository() -> None:
    design = ROOT / "docs" / "design.md"
    assert design.is_file(), "docs/design.md is missing"
    text = design.read_text()
    for heading in ("Notation", "derivation", "Posterior-coupled", "pipeline", "checker",
                    "Public contracts", "Tolerances"):
        assert heading in text, f"docs/design.md has no section on {heading!r}"
