#!/usr/bin/env bash
# Container start: make sure there is a signing key, bring the schema up to date, create the admin
# and the analysts' role from the environment (manage.py prepare_database), then hand the process
# over to the command (gunicorn by default) with exec, so that it receives the container's signals.
# It waits for nothing: compose starts this container once the database is healthy.
set -euo pipefail

# In the `secrets` volume (docker-compose.yml).
secret_key_file=/var/lib/deals/secret_key

if [ -z "${DJANGO_SECRET_KEY:-}" ]; then
  if [ ! -s "$secret_key_file" ]; then
    # Generated once and kept in a volume, so admin sessions survive restarts and rebuilds.
    # Written aside and moved without overwriting: of two containers starting at once, the first wins.
    tmp=$(mktemp "$secret_key_file.XXXXXX")
    python -c 'import secrets; print(secrets.token_urlsafe(50))' >"$tmp"
    mv -n "$tmp" "$secret_key_file"
    rm -f "$tmp"
    echo "entrypoint: generated a secret key in $secret_key_file"
  fi
  DJANGO_SECRET_KEY=$(cat "$secret_key_file")
  export DJANGO_SECRET_KEY
fi

# One Django process for migrate, the superuser and the analysts' role; replicas take turns.
python manage.py prepare_database

exec "$@"
