FROM python:3.12-slim AS base

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_ROOT_USER_ACTION=ignore

# The app runs as this user; /app stays owned by root, so the process cannot rewrite its code.
# /var/lib/deals holds the generated secret key; a named volume mounted there inherits its owner.
RUN groupadd --system --gid 10001 deals \
 && useradd --system --uid 10001 --gid deals --home-dir /nonexistent --no-create-home \
      --shell /usr/sbin/nologin deals \
 && install -d -o deals -g deals -m 700 /var/lib/deals

WORKDIR /app

# Dependencies first: this layer is rebuilt only when requirements.txt changes.
COPY requirements.txt ./
RUN pip install --no-cache-dir -r requirements.txt

COPY manage.py ./
COPY project/ project/
COPY sql/ sql/
COPY deals/ deals/
COPY docker/entrypoint.sh docker/entrypoint.sh

# Settings refuse to load without a secret key (DEBUG is off); collectstatic signs nothing, so a
# throwaway value that lives only in this one command is enough.
RUN DJANGO_SECRET_KEY=collectstatic-build-only python manage.py collectstatic --noinput -v 0


# The service image: no dev tools, no tests. Before the `tests` stage because the classic builder
# builds every stage up to its target, in file order: `web` (target runtime) never builds `tests`.
FROM base AS runtime

# Where the entrypoint keeps the generated key; settings read it, so `exec` shells find it too.
# gunicorn listens on every interface of the container (its default is the loopback).
ENV DJANGO_SECRET_KEY_FILE=/var/lib/deals/secret_key \
    GUNICORN_BIND=0.0.0.0:8000
USER deals
EXPOSE 8000
ENTRYPOINT ["/app/docker/entrypoint.sh"]
CMD ["gunicorn", "-c", "project/gunicorn.py", "project.wsgi:application"]


# `docker-compose run --rm tests`: the application plus the dev requirements and the test suite,
# run against the compose database. Last, so a plain `docker build .` makes this image;
# compose names its targets. pytest-django makes its own test database and tests.settings
# its own key, so there is no entrypoint.
FROM base AS tests

COPY requirements-dev.txt pyproject.toml ./
RUN pip install --no-cache-dir -r requirements-dev.txt
COPY tests/ tests/
# The canonical sample and its report, which the tests compare against.
COPY examples/ examples/
# The performance guard generates its file with the benchmark's generator.
COPY bench/ bench/
# pytest and hypothesis keep their caches in the working directory, which the user cannot write.
RUN install -d -o deals -g deals /app/.pytest_cache /app/.hypothesis
# The documents whose settings tables tests/test_settings.py compares with the code; last, so
# that editing the README rebuilds only this layer.
COPY README.md .env.example docker-compose.yml docker-compose.analysts.yml ./

USER deals
CMD ["pytest"]
