"""Settings and the gunicorn config, each loaded in a fresh interpreter with chosen variables, and
gunicorn itself run with that config."""

import json
import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from http import HTTPStatus
from pathlib import Path

import pytest
from django.core.management import call_command
from django.test import Client

from project import settings as project_settings

ROOT = Path(__file__).resolve().parent.parent
CONFIG_VARIABLES = ("DJANGO_SECRET_KEY", "DJANGO_SECRET_KEY_FILE", "DJANGO_DEBUG")


def load(module: str, names: list[str], **env: str) -> subprocess.CompletedProcess:
    """Import `module` with only these variables of ours set; print the named attributes."""
    environment = {k: v for k, v in os.environ.items() if k not in CONFIG_VARIABLES}
    environment.update(env)
    code = (
        f"import json, importlib; m = importlib.import_module({module!r}); "
        f"print(json.dumps({{n: getattr(m, n) for n in {names!r}}}))"
    )
    return subprocess.run(  # noqa: S603 - this interpreter, code written here
        [sys.executable, "-c", code], cwd=ROOT, env=environment, capture_output=True, text=True
    )


def test_settings_refuse_to_start_without_a_secret_in_production():
    result = load("project.settings", ["DEBUG"])

    assert result.returncode == 1
    assert "Set DJANGO_SECRET_KEY (or DJANGO_DEBUG=1 for local development)." in result.stderr


def test_debug_is_off_by_default():
    result = load("project.settings", ["DEBUG", "SECRET_KEY"], DJANGO_SECRET_KEY="k")

    assert json.loads(result.stdout) == {"DEBUG": False, "SECRET_KEY": "k"}


def test_secret_key_read_from_a_file(tmp_path):
    key_file = tmp_path / "secret_key"
    key_file.write_text("from-the-file\n")

    result = load("project.settings", ["SECRET_KEY"], DJANGO_SECRET_KEY_FILE=str(key_file))

    assert json.loads(result.stdout) == {"SECRET_KEY": "from-the-file"}


def test_gunicorn_runs_threaded_workers_sized_from_the_environment():
    names = ["worker_class", "workers", "threads", "timeout", "bind"]

    result = load(
        "project.gunicorn",
        names,
        WEB_CONCURRENCY="3",
        GUNICORN_THREADS="8",
        GUNICORN_TIMEOUT="30",
        GUNICORN_BIND="127.0.0.1:9000",
    )

    assert json.loads(result.stdout) == {
        "worker_class": "gthread",
        "workers": 3,
        "threads": 8,
        "timeout": 30,
        "bind": "127.0.0.1:9000",
    }


def test_gunicorn_listens_on_the_loopback_without_a_control_socket_by_default():
    environment = {k: v for k, v in os.environ.items() if k != "GUNICORN_BIND"}
    code = (
        "import json, project.gunicorn as c; print(json.dumps([c.bind, c.control_socket_disable]))"
    )

    result = subprocess.run(  # noqa: S603 - this interpreter, code written here
        [sys.executable, "-c", code], cwd=ROOT, env=environment, capture_output=True, text=True
    )

    assert json.loads(result.stdout) == ["127.0.0.1:8000", True]


ACCESS_LOG_ONE_REQUEST = """
import datetime, sys, types
from gunicorn.config import Config
import project.gunicorn as conf
cfg = Config()
for name in ("accesslog", "logger_class"):
    cfg.set(name, getattr(conf, name))
logger = cfg.logger_class(cfg)
path, status = sys.argv[1:]
environ = {"REQUEST_METHOD": "GET", "RAW_URI": path, "PATH_INFO": path,
           "SERVER_PROTOCOL": "HTTP/1.1", "REMOTE_ADDR": "10.0.0.7"}
logger.access(types.SimpleNamespace(status=status, sent=2, headers=[]), [], environ,
              datetime.timedelta(0))
"""


def access_log(path: str, status: str, **env: str) -> list[str]:
    """The access-log lines gunicorn, configured by project/gunicorn.py, writes for one request
    (the timestamp replaced by [time])."""
    environment = {k: v for k, v in os.environ.items() if k != "GUNICORN_ACCESS_LOG"} | env
    result = subprocess.run(  # noqa: S603 - this interpreter, code written here
        [sys.executable, "-c", ACCESS_LOG_ONE_REQUEST, path, status],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        check=True,
    )
    return [re.sub(r"\[[^]]*\]", "[time]", line) for line in result.stdout.splitlines()]


def test_gunicorn_access_log_leaves_out_passing_health_checks():
    assert access_log("/api/health/", "200 OK") == []
    assert access_log("/api/health/", "503 Service Unavailable") == [
        '10.0.0.7 - - [time] "GET /api/health/ HTTP/1.1" 503 2 "-" "-"'
    ]
    assert access_log("/api/deals/", "200 OK") == [
        '10.0.0.7 - - [time] "GET /api/deals/ HTTP/1.1" 200 2 "-" "-"'
    ]


def test_gunicorn_access_log_off_when_its_variable_is_empty():
    assert access_log("/api/deals/", "200 OK", GUNICORN_ACCESS_LOG="") == []


@pytest.fixture
def gunicorn_address(tmp_path) -> Iterator[tuple[str, int]]:
    """gunicorn with project/gunicorn.py on a free port; no database is needed, as the requests
    sent to it never reach Django."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        address = probe.getsockname()
    environment = os.environ | {
        "DJANGO_SETTINGS_MODULE": "project.settings",
        "DJANGO_SECRET_KEY": "tests-only-not-a-secret",
        "GUNICORN_BIND": "{}:{}".format(*address),
        "WEB_CONCURRENCY": "1",
    }
    log = (tmp_path / "gunicorn.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-c", "project/gunicorn.py", "project.wsgi"],
        cwd=ROOT,
        env=environment,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(address, timeout=1).close()
                break
            except OSError:
                assert time.monotonic() < deadline, "gunicorn did not start"
                time.sleep(0.05)
        yield address
    finally:
        process.terminate()
        process.wait(timeout=30)


def raw_answer(address: tuple[str, int], request: bytes) -> tuple[str, str, dict]:
    """Status line, Content-Type and JSON body of the answer to `request`, sent as is."""
    with socket.create_connection(address, timeout=10) as sock:
        sock.sendall(request)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    status, *headers = head.decode("latin-1").split("\r\n")
    content_type = dict(line.split(": ", 1) for line in headers)["Content-Type"]
    return status, content_type, json.loads(body)


@pytest.mark.slow
def test_gunicorn_answers_requests_it_cannot_parse_in_the_api_shape(gunicorn_address):
    content_length = b"POST /api/deals/ HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: abc\r\n\r\n"
    large_header = b"GET /api/deals/ HTTP/1.1\r\nHost: 127.0.0.1\r\nCookie: " + b"c" * 9000
    large_header += b"\r\n\r\n"

    assert raw_answer(gunicorn_address, content_length) == (
        "HTTP/1.1 400 Bad Request",
        "application/json",
        {"Status": "Error", "Desc": "bad request: Invalid HTTP Header: 'CONTENT-LENGTH'"},
    )
    assert raw_answer(gunicorn_address, large_header) == (
        "HTTP/1.1 431 Request Header Fields Too Large",
        "application/json",
        {
            "Status": "Error",
            "Desc": "request header fields too large: "
            "Error parsing headers: 'limit request headers fields size'",
        },
    )


@pytest.mark.slow
def test_gunicorn_error_status_line_and_desc_agree(gunicorn_address):
    # gunicorn itself passes "Bad Request" as the reason of its 501.
    unknown_coding = (
        b"POST /api/deals/ HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: foo\r\n"
        b"Content-Type: text/csv\r\n\r\n"
    )

    assert raw_answer(gunicorn_address, unknown_coding) == (
        "HTTP/1.1 501 Not Implemented",
        "application/json",
        {"Status": "Error", "Desc": "not implemented: Unsupported transfer coding: 'foo'"},
    )


@pytest.mark.django_db
def test_debug_off_serves_the_admin_and_the_docs_once_static_files_are_collected(
    settings, tmp_path
):
    # README, Running locally: with DEBUG off, `collectstatic` once, and then the admin and the
    # API docs load with their hashed assets, served by whitenoise as in the image.
    settings.DEBUG = False
    settings.STATIC_ROOT = tmp_path
    settings.STORAGES = project_settings.STORAGES
    settings.WHITENOISE_USE_FINDERS = False
    settings.WHITENOISE_AUTOREFRESH = False
    call_command("collectstatic", interactive=False, verbosity=0)
    browser = Client()

    for page in ("/admin/login/", "/api/docs/"):
        response = browser.get(page)
        assert response.status_code == HTTPStatus.OK, page
        assets = re.findall(r'(?:src|href)="(/static/[^"]+)"', response.content.decode())
        assert assets, page
        for asset in assets:
            assert re.search(r"\.[0-9a-f]{12}\.\w+$", asset), asset  # from the manifest
            served = browser.get(asset)
            assert served.status_code == HTTPStatus.OK, asset
            b"".join(served.streaming_content)  # close the file whitenoise opened


# Read by the code or the compose file, but set by the stack itself, never by a user.
STACK_VARIABLES = {"PATH_INFO", "DEALS_PROXY_TIMEOUT"}
ENV_EXAMPLE = ROOT / ".env.example"
README = ROOT / "README.md"


def variables_read() -> set[str]:
    """Every environment variable the code, the test settings or a compose file reads."""
    sources = [*ROOT.glob("project/*.py"), *ROOT.glob("deals/**/*.py"), ROOT / "tests/settings.py"]
    names = set()
    for path in sources:
        names |= set(
            re.findall(r'(?:environ\.get|env_\w+)\(\s*"([A-Z][A-Z0-9_]+)"', path.read_text())
        )
    for path in ROOT.glob("docker-compose*.yml"):
        names |= set(re.findall(r"\$\{([A-Z][A-Z0-9_]+)", path.read_text()))
    return names - STACK_VARIABLES


def readme_defaults() -> dict[str, str]:
    """The README's configuration tables: variable name -> its default cell."""
    rows = re.findall(r"^\| `([A-Z][A-Z0-9_]+)` \| ([^|]*) \|", README.read_text(), re.M)
    return dict(rows)


def env_example_settings() -> dict[str, str]:
    """.env.example's settings: every `# NAME=value` line, name -> value."""
    return dict(re.findall(r"^# ([A-Z][A-Z0-9_]+)=(.*)$", ENV_EXAMPLE.read_text(), re.M))


def test_every_variable_is_documented_in_the_readme_and_env_example():
    read = variables_read()

    assert "DJANGO_SECRET_KEY" in read and "POSTGRES_PASSWORD" in read  # the search finds them
    assert read - readme_defaults().keys() == set()
    assert read - env_example_settings().keys() == set()


def test_env_example_lines_can_be_uncommented_as_they_are():
    # docker-compose 1.29 reads `NAME=value # note` as the value "value # note".
    for line in ENV_EXAMPLE.read_text().splitlines():
        if line and not line.startswith("##"):
            assert re.fullmatch(r"# [A-Z][A-Z0-9_]*=[^#\s]*", line), line


def test_env_example_shows_the_readme_defaults():
    defaults = readme_defaults()
    for name, value in env_example_settings().items():
        if value and name != "COMPOSE_FILE":  # shown with its opt-in value, as its note says
            assert f"`{value}`" in defaults[name], (name, value, defaults[name])
