#!/usr/bin/env bash
# Creates .venv when it is missing and installs the pinned requirements-dev.txt into it, so a
# fresh clone needs only python3 (PYTHON picks another interpreter). Used by test.sh and
# mutation.sh.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
