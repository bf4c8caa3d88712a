#!/usr/bin/env bash
# Runs lint and the whole test suite against the PostgreSQL in DATABASE_URL
# (default postgres://postgres@127.0.0.1:5432/deals). Installs the Python
# dependencies into .venv first, so a fresh clone needs only python3 and PostgreSQL.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/venv.sh

.venv/bin/ruff check .
.venv/bin/ruff format --check .
exec .venv/bin/pytest "$@"
