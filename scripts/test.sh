#!/usr/bin/env bash
# Runs lint and the whole test suite against the PostgreSQL in DATABASE_URL
# (default postgres://postgres@127.0.0.1:5432/deals). Installs the Python
# dependencies into .venv first, so a fresh clone needs only python3 and PostgreSQL.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt

.venv/bin/ruff check .
.venv/bin/ruff format --check .
.venv/bin/python manage.py makemigrations --check --dry-run --settings=tests.settings >/dev/null
exec .venv/bin/pytest "$@"
