import io
import json
import os
from pathlib import Path

import psycopg2
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.client import ClientHandler
from hypothesis import HealthCheck, settings
from rest_framework.test import APIClient

from deals.services import STARTUP_LOCK_KEY

# Every hypothesis test runs under one named profile. "deals" (the default, and CI's): the same
# examples on every run and machine (derandomize), so a failure reproduces anywhere, with the
# @reproduce_failure blob printed; no deadline, since each example is a real request to
# PostgreSQL on a shared machine. "explore" draws new random examples, ten times as many, to
# hunt for bugs locally: HYPOTHESIS_PROFILE=explore scripts/test.sh tests/test_properties.py
PROFILE = os.environ.get("HYPOTHESIS_PROFILE", "deals")
EXPLORE_FACTOR = 10
settings.register_profile(
    "deals",
    derandomize=True,
    print_blob=True,
    max_examples=100,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile(
    "explore",
    settings.get_profile("deals"),
    derandomize=False,
    max_examples=100 * EXPLORE_FACTOR,
)
settings.load_profile(PROFILE)


def examples(count: int) -> int:
    """How many examples a test that sets its own count tries: `count` under the "deals"
    profile, ten times as many under "explore" (a test's own count wins over its profile's)."""
    return count * EXPLORE_FACTOR if PROFILE == "explore" else count


# The canonical sample the repository ships (examples/): 767 deals, CRLF, and its exact report.
EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
URL = "/api/deals/"


@pytest.fixture
def deals_csv() -> bytes:
    """The canonical deals file (767 deals, CRLF line endings)."""
    return (EXAMPLES / "deals.csv").read_bytes()


@pytest.fixture
def expected_report() -> dict:
    return json.loads((EXAMPLES / "deals.expected.json").read_text(encoding="utf-8"))


@pytest.fixture
def api_client() -> APIClient:
    return APIClient()


def post_csv(client: APIClient, content: bytes, name: str = "deals.csv"):
    upload = SimpleUploadedFile(name, content, content_type="text/csv")
    return client.post(URL, {"deals": upload}, format="multipart")


def get_report(client: APIClient):
    return client.get(URL)


def csv_bytes(*lines: str, newline: str = "\r\n") -> bytes:
    return "".join(line + newline for line in lines).encode("utf-8")


@pytest.fixture
def other_session(db):
    """A second session on the test database, as another container would have (autocommit)."""
    params = connection.settings_dict
    session = psycopg2.connect(
        host=params["HOST"] or "127.0.0.1",
        port=params["PORT"] or 5432,
        dbname=params["NAME"],
        user=params["USER"],
        password=params["PASSWORD"],
    )
    session.autocommit = True
    yield session
    session.close()


def startup_lock_free(session) -> bool:
    """Whether `session` could take the start-up lock now (it lets go of it at once)."""
    with session.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s)", [STARTUP_LOCK_KEY])
        (taken,) = cursor.fetchone()
        if taken:
            cursor.execute("SELECT pg_advisory_unlock(%s)", [STARTUP_LOCK_KEY])
    return taken


CLIENT_WENT_AWAY = OSError("client went away")


class WsgiInput(io.BytesIO):
    """wsgi.input that counts what the application read, and can break after some bytes: by
    raising `breaks_with` (a connection reset, a server's parse error), or, when it is None, by
    ending there as a client that closes its side early does (reads give b"")."""

    def __init__(
        self,
        content: bytes,
        break_after: int | None = None,
        breaks_with: Exception | None = CLIENT_WENT_AWAY,
    ):
        super().__init__(content)
        self.bytes_read = 0
        self.break_after = break_after
        self.breaks_with = breaks_with

    def read(self, size=-1):
        if self.break_after is not None:
            if self.bytes_read >= self.break_after:
                if self.breaks_with is None:
                    return b""
                raise self.breaks_with
            left = self.break_after - self.bytes_read
            size = left if size < 0 else min(size, left)
        data = super().read(size)
        self.bytes_read += len(data)
        return data

    readline = read


def wsgi_environ(body: WsgiInput, content_type: str, *, length: int | None = None, **environ):
    """The environ a WSGI server hands over for a POST of `body` to the upload URL."""
    return {
        "REQUEST_METHOD": "POST",
        "PATH_INFO": URL,
        "SERVER_NAME": "localhost",
        "SERVER_PORT": "80",
        "HTTP_HOST": "localhost",
        "wsgi.url_scheme": "http",
        "wsgi.input": body,
        "wsgi.errors": io.StringIO(),
        "CONTENT_TYPE": content_type,
        **({} if length is None else {"CONTENT_LENGTH": str(length)}),
        **environ,
    }


def wsgi_post(body: WsgiInput, content_type: str, *, length: int | None = None, **environ):
    """POST `body` to the upload URL as a WSGI server would (the test client always sends a
    Content-Length; a server may send none, for a chunked body)."""
    # ClientHandler is the WSGI handler without the connection closing around requests,
    # which would end the test's transaction.
    environ = wsgi_environ(body, content_type, length=length, **environ)
    return ClientHandler(enforce_csrf_checks=False)(environ)
