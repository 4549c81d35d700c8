"""Every code example in README.md runs, so the README cannot rot.

- each ```python block is executed in a fresh namespace (an ``assert`` in it is a real check);
  a block right after ``<!-- readme: pytest -->`` is a test file instead, run with pytest;
- each ```bash block is syntax-checked with ``bash -n``, and every ``smeq ...`` line in it is
  parsed by the real ``smeq`` argument parser (the subcommand is not run);
- the Quick start test command is the one .ci/run runs, verbatim.
"""

from __future__ import annotations

import importlib
import os
import re
import shlex
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")
_BLOCK = re.compile(r"(?P<marker><!-- readme: (?P<kind>[a-z-]+) -->\s*\n)?"
                    r"^```(?P<lang>[a-z]*)\n(?P<code>.*?)^```", re.S | re.M)


def _blocks(lang: str) -> list[tuple[str, str, str | None]]:
    """(id, code, marker kind) for each fenced block in ``lang``; id = its section + number."""
    found = []
    for match in _BLOCK.finditer(README):
        if match["lang"] == lang:
            section = _section(match.start())
            slug = re.sub(r"[^a-z0-9]+", "-", section.lower()).strip("-")
            found.append((f"{slug}-{len(found) + 1}", match["code"], match["kind"]))
    return found


def _section(position: int) -> str:
    """The heading of the ``##`` section that ``position`` lies in."""
    headings = re.findall(r"^## (.+)$", README[:position], re.M)
    return headings[-1].strip() if headings else "top"


PYTHON = _blocks("python")
BASH = _blocks("bash")


@pytest.fixture(autouse=True, scope="module")
def _one_torch_thread() -> Iterator[None]:
    """The examples are many small tensor operations: one thread runs them fastest."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def test_readme_has_examples() -> None:
    assert len(PYTHON) >= 3, "README.md lost its Python examples"
    assert BASH, "README.md lost its shell examples"


@pytest.mark.parametrize(("code", "kind"), [pytest.param(c, k, id=i) for i, c, k in PYTHON])
def test_python_example_runs(code: str, kind: str | None, tmp_path: Path,
                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    if kind == "pytest":
        (tmp_path / "test_example.py").write_text(code, encoding="utf-8")
        env = {**os.environ, "OMP_NUM_THREADS": "1"}
        done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                               "test_example.py"], cwd=tmp_path, env=env, capture_output=True,
                              text=True, timeout=300)
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
        assert " passed" in done.stdout, done.stdout[-2000:]
        return
    namespace: dict[str, object] = {"__name__": "__readme__"}
    exec(compile(code, "README.md", "exec"), namespace)  # our own README's examples


@pytest.mark.parametrize("code", [pytest.param(c, id=i) for i, c, _ in BASH])
def test_bash_example_is_valid(code: str, monkeypatch: pytest.MonkeyPatch) -> None:
    done = subprocess.run(["bash", "-n"], input=code, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    for line in _commands(code):
        words = shlex.split(line)
        if words and words[0] == "smeq":
            _parse_smeq(words[1:], monkeypatch)


def _commands(code: str) -> list[str]:
    """Shell commands in a block, split at ``&&`` and ``;``, comments and prompts dropped."""
    text = re.sub(r"\\\n", " ", code)
    commands = []
    for line in text.splitlines():
        line = line.split(" #", 1)[0].strip().removeprefix("$ ")
        if line and not line.startswith("#"):
            commands += [part.strip() for part in re.split(r"&&|;", line) if part.strip()]
    return commands


def _parse_smeq(argv: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    """Parse ``smeq argv`` with the real parser; the subcommand's ``run`` is replaced by a stub."""
    from numeric import _cli

    seen: list[object] = []
    if argv and argv[0] in _cli._SUBCOMMANDS:
        module = importlib.import_module(_cli._SUBCOMMANDS[argv[0]][0])
        monkeypatch.setattr(module, "run", lambda args, **_: seen.append(args) or 0)
    assert _cli.main(argv) == 0
    assert seen, f"smeq {' '.join(argv)} did not reach a subcommand"


def test_quick_start_is_exactly_two_commands_and_matches_ci() -> None:
    blocks = [m["code"] for m in _BLOCK.finditer(README) if _section(m.start()) == "Quick start"]
    commands = [line.strip() for block in blocks for line in block.splitlines()
                if line.strip() and not line.strip().startswith("#")]
    assert commands == [
        'python3 -m pip install -c constraints/cpu-torch.txt ".[report]" && smeq verify',
        'python3 -m pip install -c constraints/cpu-torch.txt -e ".[test]" && pytest -n auto',
    ]
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    install, test = (part.strip() for part in commands[1].split("&&"))
    assert re.search(rf"^{re.escape(install)}$", ci, re.M), ".ci/run installs differently"
    assert re.search(rf"^run_pytest {re.escape(test)}$", ci, re.M), ".ci/run tests differently"
