#!/usr/bin/env bash
# Install the third-party libraries of the integration tests (tests/integration) beside the
# CPU build of torch. Idempotent: a second run finds everything satisfied and changes nothing.
# Never pulls a CUDA torch or any torchvision: torch is held by constraints/cpu-torch.txt, and the
# packages whose metadata asks for torchvision are installed with --no-deps.
set -euo pipefail
cd "$(dirname "$0")/../.."
python="${PYTHON:-python3}"
pip=("$python" -m pip install -qq --disable-pip-version-check -c constraints/cpu-torch.txt)

"${pip[@]}" -r tests/integration/requirements.txt
"${pip[@]}" --no-deps -r tests/integration/requirements-nodeps.txt

# Refuse a broken environment loudly rather than let the tests skip.
"$python" - <<'PY'
import importlib.metadata as md
import sys

import torch

problems = []
if torch.version.cuda is not None:
    problems.append(f"torch {torch.__version__} is a CUDA build; expected the CPU build")
try:
    problems.append(f"torchvision {md.version('torchvision')} is installed; it must not be")
except md.PackageNotFoundError:
    pass
for name in ("diffusers", "k-diffusion", "toy-gradlogp", "dctorch", "einops", "torchsde",
             "denoising-diffusion-pytorch", "torchcfm", "score-models", "POT", "torch-ema"):
    try:
        md.version(name)
    except md.PackageNotFoundError:
        problems.append(f"{name} is missing after the install")
if problems:
    sys.exit("tests/integration/install.sh: " + "; ".join(problems))
print(f"tests/integration/install.sh: ok (torch {torch.__version__}, "
      f"diffusers {md.version('diffusers')}, k-diffusion {md.version('k-diffusion')}, "
      f"toy-gradlogp {md.version('toy-gradlogp')}, "
      f"denoising-diffusion-pytorch {md.version('denoising-diffusion-pytorch')}, "
      f"torchcfm {md.version('torchcfm')}, score-models {md.version('score-models')})")
PY
