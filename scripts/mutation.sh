#!/usr/bin/env bash
# Mutation testing of the core that decides what a valid file is, what the report is and how
# errors answer: mutmut (pinned in requirements-dev.txt, configured under [tool.mutmut] in
# pyproject.toml) changes deals/ingest/, deals/selectors.py and deals/api/exception_handler.py
# one small edit at a time, in a copy under mutants/, and runs for each mutant only the fast
# tests that reach the mutated function. A mutant the tests do not notice "survived".
#
#   scripts/mutation.sh                          # every mutant; 45-60 minutes on 2 shared cores
#   scripts/mutation.sh 'deals.ingest.fields*'   # only these mutants
#
# Survivors judged equivalent (no test can tell them from the original) are listed with the
# reason in scripts/mutation-equivalent.txt. The score is killed / (all - equivalent), a hang
# counting as killed; below 90% the script exits with status 1. Needs what scripts/test.sh
# needs: Python 3.11+ and PostgreSQL on DATABASE_URL. MUTATION_JOBS mutants run at once (2).
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/venv.sh

# One kept test database (pytest --reuse-db) per mutant running at once, so that a mutant that
# hangs holding a lock cannot make another's tests wait (tests/settings.py gives each process a
# free slot: <DEALS_TEST_DATABASE>_mutation_1, _2, ...; one more for mutmut's own first run).
# Dropped at the end.
JOBS="${MUTATION_JOBS:-2}"
export DEALS_TEST_DATABASE="${DEALS_TEST_DATABASE:-test_deals}_mutation"
export DEALS_TEST_DATABASE_SLOTS=$((JOBS + 2))
drop_database() {
  for slot in $(seq 1 "$DEALS_TEST_DATABASE_SLOTS"); do
    DEALS_TEST_DATABASE_SLOTS=0 .venv/bin/python manage.py shell --settings=tests.settings -c \
      "from django.db import connection; connection.creation._destroy_test_db('${DEALS_TEST_DATABASE}_$slot', 0)" \
      >/dev/null 2>&1 || true
  done
}
trap drop_database EXIT

rm -rf mutants
echo "mutmut: generating and running mutants (progress in mutants/run.log)"
mkdir -p mutants
.venv/bin/mutmut run --max-children "$JOBS" "$@" >mutants/run.log 2>&1 || {
  tr '\r' '\n' <mutants/run.log | tail -n 40
  exit 1
}
.venv/bin/mutmut results --all true >mutants/results.txt
.venv/bin/python scripts/mutation_score.py mutants/results.txt scripts/mutation-equivalent.txt
