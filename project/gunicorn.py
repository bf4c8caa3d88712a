"""Gunicorn configuration: threaded workers, sized from the environment."""

import json
import os
from http import HTTPStatus

from gunicorn import util
from gunicorn.glogging import Logger

# The health endpoint (deals/api/urls.py); this file is read before Django is set up.
HEALTH_PATH = "/api/health/"


class QuietHealthChecksLogger(Logger):
    """Gunicorn's logger without the access lines of passing health checks.

    The container's check runs every few seconds and would bury the real log; a failing one
    (503: the database does not answer) is still written.
    """

    def access(self, resp, req, environ, request_time):
        if environ.get("PATH_INFO") == HEALTH_PATH and str(resp.status).startswith("200"):
            return
        super().access(resp, req, environ, request_time)


def write_json_error(sock, status_int: int, reason: str, mesg: str) -> None:
    """gunicorn's own error answers in the API's shape instead of its HTML page.

    gunicorn answers by itself, before Django sees anything, a request it cannot parse: a bad
    request line or header, headers over its limits, an unsupported transfer coding. Its
    workers call `gunicorn.util.write_error`, which has no hook: this replaces it, keeping its
    status and Connection: close. `mesg` is gunicorn's own text ("Invalid HTTP Header:
    'X-A'"), quoted by json.dumps. The reason phrase is the status's own: gunicorn passes
    "Bad Request" with its 501 for an unknown transfer coding.
    """
    phrase = HTTPStatus(status_int).phrase
    desc = f"{phrase.lower()}: {mesg}" if mesg else phrase.lower()
    body = json.dumps({"Status": "Error", "Desc": desc}).encode()
    head = (
        f"HTTP/1.1 {status_int} {phrase}\r\n"
        "Connection: close\r\n"
        "Content-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    util.write_nonblock(sock, head.encode("latin-1") + body)


# Read by the workers, which the master forks after loading this file.
util.write_error = write_json_error

# Loopback by default: a local run is not reachable from the network (and has no proxy in
# front). The image listens on every interface of its container (Dockerfile).
bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")
# No control socket: it would go to ~/.gunicorn, shared by every local run of the user (and
# the image's user has no home); signals manage the server.
control_socket_disable = True
worker_class = "gthread"
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
threads = int(os.environ.get("GUNICORN_THREADS", "4"))
# Uploads of large files take a while; a worker silent for longer than this is restarted.
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "120"))
graceful_timeout = 30
# Idle client connections are closed after this; nginx closes its idle ones to us sooner (4 s),
# so it never reuses a connection that gunicorn is closing.
keepalive = 5
logger_class = QuietHealthChecksLogger
# "-" is stdout; empty turns it off (under compose nginx writes the access log, one line a request).
accesslog = os.environ.get("GUNICORN_ACCESS_LOG", "-") or None
errorlog = "-"
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")
