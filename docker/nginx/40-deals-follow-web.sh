#!/bin/sh
# Run by the nginx image's entrypoint before nginx starts; leaves a loop behind that
#   1. prints the one line a user needs, once the whole chain answers (nginx -> web -> db);
#   2. follows the replicas of the `web` service: nginx resolves `web` (every replica's address)
#      only when it loads its configuration, so when the set of addresses changes
#      (`docker-compose up --scale web=N`, a replica restarted with a new address) the loop
#      reloads nginx. A reload keeps the upstream block and its keepalive connections, which a
#      `resolver` with a variable in proxy_pass would lose; old workers finish their requests
#      first. (nginx 1.27.3 and later can `resolve` upstream servers by itself; this loop also
#      works on 1.22, which cannot.)
set -eu

upstream=${DEALS_UPSTREAM_HOST:-web}
interval=${DEALS_UPSTREAM_POLL_SECONDS:-2}

addresses() {
  getent ahosts "$upstream" | awk '{ print $1 }' | sort -u | tr '\n' ' ' || true
}

follow() {
  known=$1
  until curl -fsS -o /dev/null --max-time 2 http://127.0.0.1/api/health/ 2>/dev/null; do
    sleep 0.2
  done
  echo "deals-csv is ready: open ${DEALS_PUBLIC_URL:-http://127.0.0.1:8000}/api/docs/"
  while sleep "$interval"; do
    current=$(addresses)
    # No address at all (every replica stopped): keep the last configuration, which still
    # answers 502 in JSON, rather than a reload that cannot resolve the name and fails.
    if [ -n "$current" ] && [ "$current" != "$known" ]; then
      echo "$0: $upstream is now ${current% } (was ${known% }); reloading nginx"
      nginx -s reload && known=$current
    fi
  done
}

# Taken before nginx starts: any change from here on is seen by the loop.
follow "$(addresses)" &
