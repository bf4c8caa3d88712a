"""Faults against the real service (gunicorn in a subprocess): a worker killed mid-upload, and a
database that goes away and comes back.

The tests commit for real (transaction=True): the service's own connections must see the data.
"""

import contextlib
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import threading
from dataclasses import dataclass
from http import HTTPStatus
from pathlib import Path
from urllib.parse import quote

import pytest
from django.db import connection

from deals.api.exception_handler import DATABASE_UNAVAILABLE
from deals.models import Deal, Upload
from deals.services import INTERRUPTED
from tests.conftest import URL, get_report, post_csv
from tests.transactional import (
    HEADER,
    advisory_locks,
    copy_gate,
    deal_sequence,
    generated_file,
    reports_emptied,
    wait_until,
    wait_until_waiting_for,
)

pytestmark = pytest.mark.django_db(transaction=True)

ROOT = Path(__file__).resolve().parent.parent
BOUNDARY = "faults-boundary"
UNAVAILABLE = {"Status": "Error", "Desc": DATABASE_UNAVAILABLE}
# settings.py cuts off a database that does not answer after 5 s; the client waits far longer,
# so a request that would hang fails the test without any assertion on time.
CLIENT_TIMEOUT = 60


@pytest.fixture(autouse=True)
def empty_reports(transactional_db):
    yield
    reports_emptied()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class Answer:
    status: int
    content_type: str
    body: bytes

    def json(self):
        return json.loads(self.body)


@dataclass
class Service:
    """The real deals service, gunicorn with one worker, on a free local port."""

    process: subprocess.Popen
    port: int
    log: Path

    def request(self, method: str, path: str, body: bytes = b"", headers=None) -> Answer:
        client = http.client.HTTPConnection("127.0.0.1", self.port, timeout=CLIENT_TIMEOUT)
        try:
            client.request(method, path, body=body or None, headers=headers or {})
            response = client.getresponse()
            content = response.read()
        finally:
            client.close()
        return Answer(response.status, response.getheader("Content-Type", ""), content)

    def upload(self, content: bytes) -> Answer:
        body = (
            (
                f"--{BOUNDARY}\r\n"
                'Content-Disposition: form-data; name="deals"; filename="deals.csv"\r\n'
                "Content-Type: text/csv\r\n\r\n"
            ).encode()
            + content
            + f"\r\n--{BOUNDARY}--\r\n".encode()
        )
        headers = {"Content-Type": f"multipart/form-data; boundary={BOUNDARY}"}
        return self.request("POST", URL, body, headers)

    def workers(self) -> list[int]:
        return [pid for pid, parent in _processes() if parent == self.process.pid]

    def output(self) -> str:
        return self.log.read_text(errors="replace")[-3000:]


def _processes() -> list[tuple[int, int]]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            after_name = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:  # the process ended while we looked
            continue
        found.append((int(stat.parent.name), int(after_name[1])))
    return found


def database_url(port: int | None = None) -> str:
    settings = connection.settings_dict  # during tests, NAME is the test database
    user = quote(settings["USER"] or "")
    password = f":{quote(settings['PASSWORD'])}" if settings["PASSWORD"] else ""
    # The proxy listens on this machine's loopback, whatever host the settings name (`db` in
    # the compose tests container).
    host = "127.0.0.1" if port else settings["HOST"] or "127.0.0.1"
    db_port = port or settings["PORT"] or 5432
    return f"postgres://{user}{password}@{host}:{db_port}/{settings['NAME']}"


@pytest.fixture
def start_service(tmp_path):
    started: list[Service] = []

    def start(url: str) -> Service:
        port = free_port()
        environment = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "project.settings",
            "DJANGO_SECRET_KEY": "tests-only-not-a-secret",
            "DATABASE_URL": url,
            "DJANGO_ALLOWED_HOSTS": "127.0.0.1",
            "DJANGO_CONN_MAX_AGE": "60",
            "DEALS_UPLOAD_TOKEN": "",
            "WEB_CONCURRENCY": "1",
            "GUNICORN_THREADS": "4",
            "GUNICORN_BIND": f"127.0.0.1:{port}",
        }
        log = tmp_path / f"gunicorn-{port}.log"
        process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-c", "project/gunicorn.py", "project.wsgi"],
            cwd=ROOT,
            env=environment,
            stdout=log.open("wb"),
            stderr=subprocess.STDOUT,
        )
        service = Service(process, port, log)
        started.append(service)
        wait_until(lambda: _answers(service), "the service answering")
        return service

    yield start
    for service in started:
        service.process.send_signal(signal.SIGTERM)
        try:
            service.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            service.process.kill()
            service.process.wait()


def _answers(service: Service) -> bool:
    try:
        return service.request("GET", "/api/health/").status > 0
    except OSError:
        return False


def running_upload_backend() -> int | None:
    running = Upload.objects.filter(status=Upload.Status.RUNNING)
    return running.values_list("backend_pid", flat=True).first()


@pytest.mark.slow
def test_worker_killed_mid_upload_loses_nothing_and_leaves_no_lock(
    api_client, deals_csv, expected_report, start_service
):
    assert post_csv(api_client, deals_csv).status_code == HTTPStatus.OK
    service = start_service(database_url())
    (worker,) = service.workers()
    large = generated_file("k", 60_000)
    outcome: list[object] = []

    def upload() -> None:
        try:
            outcome.append(service.upload(large))
        except OSError as exc:  # the worker died with the connection open
            outcome.append(exc)

    sender = threading.Thread(target=upload)
    with copy_gate():  # the upload stops inside COPY, holding its lock, until the gate opens
        sender.start()
        wait_until_waiting_for(deal_sequence(), running_upload_backend)
        assert advisory_locks() == 1
        os.kill(worker, signal.SIGKILL)
        sender.join(timeout=60)

    assert outcome and isinstance(outcome[0], OSError), outcome
    wait_until(lambda: advisory_locks() == 0, "the killed upload's lock released")
    assert get_report(api_client).json() == expected_report
    assert Deal.objects.count() == 767
    # The dead process could not record its own end: the next upload does.
    killed = Upload.objects.latest("pk")
    assert killed.status == Upload.Status.RUNNING
    wait_until(lambda: service.workers() not in ([], [worker]), "a new worker")
    answer = service.upload(deals_csv)
    assert (answer.status, answer.json()["rows"]) == (HTTPStatus.OK, 767), service.output()
    assert get_report(api_client).json() == expected_report
    killed.refresh_from_db()
    assert (killed.status, killed.error) == (Upload.Status.ERROR, INTERRUPTED)


class Proxy:
    """A TCP relay to PostgreSQL that can refuse connections, swallow them, or relay them."""

    def __init__(self, target: tuple[str, int]):
        self.target = target
        self.port = free_port()
        self.mode = "relay"
        self._sockets: list[socket.socket] = []
        self._stop = threading.Event()
        self._listener: threading.Thread | None = None

    def relay(self) -> None:
        self._close_all()
        self.mode = "relay"
        self._listen()

    def refuse(self) -> None:
        """Nothing listens: connections are refused at once."""
        self._close_all()

    def swallow(self) -> None:
        """Connections are accepted and never answered: the database hangs."""
        self._close_all()
        self.mode = "swallow"
        self._listen()

    def _listen(self) -> None:
        self._stop.clear()
        server = socket.create_server(("127.0.0.1", self.port))
        server.settimeout(0.1)
        self._sockets.append(server)
        self._listener = threading.Thread(target=self._accept, args=(server,), daemon=True)
        self._listener.start()

    def _accept(self, server: socket.socket) -> None:
        while not self._stop.is_set():
            try:
                client, _ = server.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self._sockets.append(client)
            if self.mode == "relay":
                upstream = socket.create_connection(self.target)
                self._sockets.append(upstream)
                for source, sink in ((client, upstream), (upstream, client)):
                    threading.Thread(target=_pump, args=(source, sink), daemon=True).start()

    def _close_all(self) -> None:
        self._stop.set()
        if self._listener:
            self._listener.join()
        for sock in self._sockets:
            _shut(sock)
            sock.close()
        self._sockets.clear()


def _pump(source: socket.socket, sink: socket.socket) -> None:
    try:
        while data := source.recv(1 << 16):
            sink.sendall(data)
    except OSError:
        pass  # the proxy cut the connection: that is the point
    for sock in (source, sink):
        _shut(sock)


def _shut(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):  # never connected, or already closed by the other side
        sock.shutdown(socket.SHUT_RDWR)


@pytest.fixture
def proxy():
    settings = connection.settings_dict
    relay = Proxy((settings["HOST"] or "127.0.0.1", int(settings["PORT"] or 5432)))
    relay.relay()
    yield relay
    relay.refuse()


def assert_unavailable(answer: Answer) -> None:
    assert (answer.status, answer.content_type) == (
        HTTPStatus.SERVICE_UNAVAILABLE,
        "application/json",
    )
    assert answer.json() == UNAVAILABLE


@pytest.mark.slow
def test_database_outage_answers_503_json_and_the_service_recovers(
    api_client, deals_csv, expected_report, proxy, start_service
):
    assert post_csv(api_client, deals_csv).status_code == HTTPStatus.OK
    service = start_service(database_url(proxy.port))
    assert service.request("GET", "/api/health/").json() == {"status": "ok"}
    assert service.request("GET", URL).json() == expected_report

    proxy.refuse()
    assert_unavailable(service.request("GET", URL))
    assert_unavailable(service.upload(HEADER))
    assert_unavailable(service.request("GET", "/api/health/"))

    # Without connect_timeout these would hang until the client gives up (an OSError here).
    proxy.swallow()
    assert_unavailable(service.request("GET", URL))
    assert_unavailable(service.request("GET", "/api/health/"))

    proxy.relay()
    assert service.request("GET", "/api/health/").json() == {"status": "ok"}
    assert service.request("GET", URL).json() == expected_report
    answer = service.upload(HEADER)
    assert answer.status == HTTPStatus.OK, service.output()
    assert service.request("GET", URL).json() == {"response": []}
    assert Upload.objects.latest("pk").status == Upload.Status.OK
