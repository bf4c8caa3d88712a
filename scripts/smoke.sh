#!/usr/bin/env bash
# Smoke test of the running compose stack (`docker-compose up`, any number of web replicas):
#   - the front door answers on the published port; the shipped sample uploads and the report
#     equals examples/deals.expected.json byte for byte; the API docs and their assets load;
#   - requests a client can get wrong answer the API's JSON error (scripts/smoke_http.py);
#   - with several web replicas: requests reach every one, and uploads sent at once through
#     different replicas all succeed, one after another;
#   - the slow-client test through nginx (p99 < 100 ms, no errors: the check), then the same
#     straight to gunicorn inside the compose network (figures only: nothing protects it).
# It REPLACES the stack's deals with the sample. Needs bash, curl and docker-compose; the HTTP
# clients run in one-off containers of the web image, on the compose networks. About 2 minutes.
set -euo pipefail
cd "$(dirname "$0")/.."

failures=0
pass() { printf 'ok   %s\n' "$*"; }
fail() { printf 'FAIL %s\n' "$*"; failures=$((failures + 1)); }
# scripts/smoke_http.py in a one-off container on the compose networks (no service alias, so
# nginx does not take it for a web replica); compose's own "Creating ..." and exit-status lines
# are left out.
in_network() {
  docker-compose run --rm --no-deps -T --entrypoint python web - "$@" <scripts/smoke_http.py \
    2> >(grep -vE "^(Creating|[0-9]+$)" >&2)
}

# The published address, as compose has it (.env, the shell, or the default).
address=$(docker-compose port nginx 80 2>/dev/null || true)
if [ -z "$address" ]; then
  echo "smoke: nginx is not running; start the stack with docker-compose up" >&2
  exit 2
fi
base="http://$address"
echo "smoke: $base"

if curl -fsS -o /dev/null "$base/api/health/"; then pass "health"; else fail "health"; fi

answer=$(curl -sS -F deals=@examples/deals.csv "$base/api/deals/")
if [[ $answer =~ ^\{\"Status\":\ \"OK\",\ \"upload_id\":\ [0-9]+,\ \"rows\":\ 767\}$ ]]; then
  pass "upload examples/deals.csv: $answer"
else
  fail "upload examples/deals.csv: $answer"
fi
if diff <(curl -sS "$base/api/deals/"; echo) examples/deals.expected.json >/dev/null; then
  pass "GET /api/deals/ equals examples/deals.expected.json"
else
  fail "GET /api/deals/ differs from examples/deals.expected.json"
fi

docs=$(curl -sS "$base/api/docs/")
assets=$(grep -o '/static/[^"]*swagger-ui[^"]*' <<<"$docs" | sort -u || true)
if [ -z "$assets" ]; then fail "/api/docs/ names no swagger-ui asset"; fi
for asset in $assets; do
  if curl -fsS -o /dev/null "$base$asset"; then pass "docs asset $asset"; else fail "docs asset $asset"; fi
done

echo "smoke: malformed requests, through nginx (the stalled ones take 20 s)"
if in_network malformed http://nginx; then pass "every malformed request answered in JSON"; else fail "malformed requests"; fi

replicas=$(docker-compose ps -q web | wc -l)
if [ "$replicas" -gt 1 ]; then
  echo "smoke: $replicas web replicas"
  for _ in $(seq 1 $((replicas * 10))); do curl -fsS -o /dev/null "$base/api/deals/"; done
  served=$(docker-compose logs --no-color --tail=$((replicas * 10 + 20)) nginx \
    | grep -a '"GET /api/deals/ ' | tail -n $((replicas * 10)) | grep -ao 'upstream=[0-9a-f.:]*:8000' | sort -u | wc -l)
  if [ "$served" -eq "$replicas" ]; then pass "$((replicas * 10)) GETs reached all $replicas replicas"; else fail "GETs reached $served of $replicas replicas"; fi

  results=$(mktemp -d)
  for n in $(seq 1 "$replicas"); do
    curl -sS -F deals=@examples/deals.csv "$base/api/deals/" >"$results/$n" &
  done
  wait
  ok=$(grep -l '"Status": "OK"' "$results"/* | wc -l)
  rm -rf "$results"
  uploads=$(docker-compose logs --no-color --tail=100 nginx | grep -a '"POST /api/deals/ ' | tail -n "$replicas" \
    | grep -ao 'upstream=[0-9a-f.:]*:8000' | sort -u | wc -l)
  if [ "$ok" -eq "$replicas" ] && diff <(curl -sS "$base/api/deals/"; echo) examples/deals.expected.json >/dev/null; then
    pass "$replicas uploads at once through $uploads replicas: all OK, the report is the sample's"
  else
    fail "$replicas uploads at once: $ok OK"
  fi
fi

echo "smoke: slow clients through nginx (30 s)"
if figures=$(in_network slow http://nginx --check); then pass "with nginx: $figures"; else fail "with nginx: $figures"; fi
echo "smoke: slow clients straight to gunicorn, for comparison (30 s)"
figures=$(in_network slow http://web:8000 || true)
echo "info without nginx: $figures"

if [ "$failures" -gt 0 ]; then
  echo "smoke: $failures check(s) failed"
  exit 1
fi
echo "smoke: all checks passed"
