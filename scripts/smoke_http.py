"""HTTP checks for scripts/smoke.sh, run inside the compose network (standard library only).

    python smoke_http.py malformed http://nginx
        Requests a client can get wrong, each sent raw; every answer must be the API's JSON
        error with the expected status. Exit status 1 if any is not.
    python smoke_http.py slow http://nginx [--check] [--connections 100]
        The slow-client test: 100 connections each send an upload body at 1 byte every 2 s for
        30 s, while a reader sends GET /api/deals/ every 50 ms on a new connection. Prints the
        reader's figures as one JSON line; with --check, exit status 1 unless the reader had no
        errors and a p99 under 100 ms. --connections 0: the reader alone, for comparison.

smoke.sh feeds this file to `python -` in a one-off container of the web image, which has
Python but no copy of scripts/.
"""

import argparse
import json
import os
import re
import socket
import sys
import threading
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

UPLOAD_LIMIT_MB = int(os.environ.get("DEALS_MAX_UPLOAD_MB", "512"))
ANSWER_TIMEOUT = 5.0  # seconds a GET may take before it counts as an error


@dataclass
class Answer:
    status: int
    content_type: str
    body: bytes


def send_raw(address: tuple[str, int], request: bytes, timeout: float = 30) -> Answer | None:
    """Send `request` as is; read the answer (None if the server closed without one)."""
    with socket.create_connection(address, timeout=timeout) as sock:
        sock.sendall(request)
        received = b""
        while not answer_complete(received):
            chunk = sock.recv(65536)
            if not chunk:
                break
            received += chunk
    if not received:
        return None
    head, _, body = received.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = dict(line.lower().split(": ", 1) for line in lines[1:] if ": " in line)
    if headers.get("transfer-encoding") == "chunked":
        body = unchunked(body)
    return Answer(int(lines[0].split()[1]), headers.get("content-type", ""), body)


def answer_complete(received: bytes) -> bool:
    """Whether the answer is all there: its Content-Length read, or its last chunk."""
    head, separator, body = received.partition(b"\r\n\r\n")
    length = re.search(rb"(?im)^content-length: *(\d+)", head)
    if length:
        return len(body) >= int(length.group(1))
    return bool(separator) and body.endswith(b"0\r\n\r\n")


def unchunked(body: bytes) -> bytes:
    content = b""
    while body:
        size, _, body = body.partition(b"\r\n")
        if int(size, 16) == 0:
            break
        content, body = content + body[: int(size, 16)], body[int(size, 16) + 2 :]
    return content


def request(
    method: str, target: str, *headers: str, body: bytes = b"", host: str = "127.0.0.1"
) -> bytes:
    lines = [f"{method} {target} HTTP/1.1", f"Host: {host}", *headers, "", ""]
    return "\r\n".join(lines).encode("latin-1") + body


# name, raw request, expected status, expected Desc (None: any text)
MALFORMED = [
    (
        "Content-Length: abc",
        request("POST", "/api/deals/", "Content-Length: abc"),
        400,
        "bad request: the HTTP request is malformed",
    ),
    (
        "a 9 KB header (large cookies)",
        request("GET", "/api/deals/", "Cookie: c=" + "x" * 9000),
        431,
        "the request headers are too large: at most 8 KB a line, 32 KB in all",
    ),
    (
        "a 10 KB request line",
        request("GET", "/api/deals/?q=" + "x" * 10_000),
        414,
        "the request URI is too long",
    ),
    (
        "Content-Length over DEALS_MAX_UPLOAD_MB, no body sent",
        request(
            "POST",
            "/api/deals/",
            "Content-Type: multipart/form-data; boundary=b",
            f"Content-Length: {UPLOAD_LIMIT_MB * 1024 * 1024 + 1}",
        ),
        413,
        f"the upload is larger than the limit of {UPLOAD_LIMIT_MB} MB",
    ),
    ("not HTTP at all", b"HELLO\r\n\r\n", 400, "bad request: the HTTP request is malformed"),
    (
        "a lower-case method",
        request("get", "/api/deals/"),
        400,
        "bad request: the HTTP request is malformed",
    ),
    (
        "two different Content-Lengths",
        request("POST", "/api/deals/", "Content-Length: 1", "Content-Length: 2", body=b"ab"),
        400,
        "bad request: the HTTP request is malformed",
    ),
    (
        "Content-Length and chunked together",
        request(
            "POST",
            "/api/deals/",
            "Content-Length: 5",
            "Transfer-Encoding: chunked",
            body=b"0\r\n\r\n",
        ),
        400,
        "bad request: the HTTP request is malformed",
    ),
    (
        "a broken chunk size",
        request("POST", "/api/deals/", "Transfer-Encoding: chunked", body=b"zz\r\n\r\n"),
        400,
        "bad request: the HTTP request is malformed",
    ),
    (
        "Transfer-Encoding: gzip",
        request("POST", "/api/deals/", "Transfer-Encoding: gzip"),
        501,
        "not implemented: the request uses an HTTP feature this server does not support",
    ),
    ("TRACE", request("TRACE", "/api/deals/"), 405, "method not allowed"),
    (
        "HTTP/2.0 in an HTTP/1 request line",
        b"GET /api/deals/ HTTP/2.0\r\nHost: 127.0.0.1\r\n\r\n",
        505,
        "HTTP version not supported",
    ),
    ("nginx's own error page asked for", request("GET", "/.errors/502"), 404, "no such resource"),
    # Past nginx, refused by gunicorn or Django: JSON too (gunicorn's text, hence any Desc).
    ("a control character in a header", request("GET", "/api/deals/", "X-A: a\x01b"), 400, None),
    ("300 headers", request("GET", "/api/deals/", *(f"X-{n}: v" for n in range(300))), 431, None),
    ("a 5 KB request line", request("GET", "/api/deals/?q=" + "x" * 5000), 414, None),
    (
        "an unknown Host",
        request("GET", "/api/deals/", host="evil.example"),
        400,
        "the host named in the Host header is not served here",
    ),
    ("an unknown path", request("GET", "/nothing/here"), 404, "no such resource: /nothing/here"),
    (
        "a JSON body",
        request(
            "POST", "/api/deals/", "Content-Type: application/json", "Content-Length: 2", body=b"{}"
        ),
        415,
        None,
    ),
]


def check_malformed(address: tuple[str, int]) -> bool:
    ok = True
    stalls = [
        threading.Thread(target=record, args=(body_stops_coming, address, results := {})),
        threading.Thread(target=record, args=(headers_never_end, address, results)),
    ]
    for thread in stalls:
        thread.start()
    for name, raw, status, desc in MALFORMED:
        ok &= report(name, send_raw(address, raw), status, desc)
    for thread in stalls:
        thread.join()
    # nginx answers neither timeout (it logs 408 and closes): the client is not listening.
    for name, answer in results.items():
        closed = answer is None
        print(f"{'ok  ' if closed else 'FAIL'} {name}: closed without an answer")
        ok &= closed
    return ok


def record(check, address, results: dict) -> None:
    results[check.__name__.replace("_", " ")] = check(address)


def body_stops_coming(address: tuple[str, int]) -> Answer | None:
    """10 bytes of 100 promised, then nothing: closed after client_body_timeout."""
    head = request("POST", "/api/deals/", "Content-Type: text/csv", "Content-Length: 100")
    return send_raw(address, head + b"customer,i", timeout=60)


def headers_never_end(address: tuple[str, int]) -> Answer | None:
    """A request line and no end of headers: closed after client_header_timeout, no answer."""
    return send_raw(address, b"GET /api/deals/ HTTP/1.1\r\nHost: 127.0.0.1\r\n", timeout=60)


def report(name: str, answer: Answer | None, status: int, desc: str | None) -> bool:
    if answer is None:
        print(f"FAIL {name}: closed without an answer")
        return False
    try:
        body = json.loads(answer.body)
    except ValueError:
        body = answer.body[:120]
    expected_body = isinstance(body, dict) and set(body) == {"Status", "Desc"}
    expected_body = expected_body and body["Status"] == "Error" and desc in (None, body["Desc"])
    ok = answer.status == status and answer.content_type == "application/json" and expected_body
    print(f"{'ok  ' if ok else 'FAIL'} {name}: {answer.status} {answer.content_type} {body}")
    return ok


def slow_clients(
    address: tuple[str, int], connections: int, interval: float, duration: float
) -> dict:
    """Open `connections` uploads that trickle one byte per `interval`; return what happened."""
    head = request(
        "POST",
        "/api/deals/",
        "Content-Type: multipart/form-data; boundary=slow",
        "Content-Length: 100000",
    )
    if not connections:
        time.sleep(duration)
        return {"slow_connections": 0, "slow_dropped_by_server": 0}
    sockets = []
    for _ in range(connections):
        sock = socket.create_connection(address, timeout=10)
        sock.sendall(head)
        sockets.append(sock)
    stop = time.monotonic() + duration
    dropped = 0
    while time.monotonic() < stop:
        # One byte on each connection per interval, spread over the interval.
        for sock in list(sockets):
            try:
                sock.sendall(b"x")
            except OSError:
                sockets.remove(sock)
                dropped += 1
            time.sleep(interval / connections)
    for sock in sockets:
        sock.close()
    return {"slow_connections": connections, "slow_dropped_by_server": dropped}


def reader(address: tuple[str, int], every: float, duration: float) -> list[float | None]:
    """GET /api/deals/ every `every` seconds on a new connection; latency in s, None = error."""
    results: list[float | None] = []
    threads = []

    def one() -> None:
        started = time.perf_counter()
        try:
            answer = send_raw(address, request("GET", "/api/deals/"), timeout=ANSWER_TIMEOUT)
            ok = answer is not None and answer.status == 200
        except OSError:
            ok = False
        results.append(time.perf_counter() - started if ok else None)

    start = time.monotonic()
    for n in range(int(duration / every)):
        time.sleep(max(0.0, start + n * every - time.monotonic()))
        thread = threading.Thread(target=one)
        thread.start()
        threads.append(thread)
    for thread in threads:
        thread.join()
    return results


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def run_slow(address: tuple[str, int], target: str, connections: int) -> dict:
    duration, outcome = 30.0, {}
    trickle = threading.Thread(
        target=lambda: outcome.update(slow_clients(address, connections, 2.0, duration))
    )
    trickle.start()
    time.sleep(1)  # every slow connection is open and has sent its headers
    latencies = reader(address, 0.05, duration - 1)
    trickle.join()
    answered = [value for value in latencies if value is not None]
    # An error counts as a latency of ANSWER_TIMEOUT: p99 cannot hide them.
    counted = answered + [ANSWER_TIMEOUT] * (len(latencies) - len(answered))
    return {
        "target": target,
        "gets": len(latencies),
        "errors": len(latencies) - len(answered),
        "p50_ms": round(percentile(counted, 0.50) * 1000, 1),
        "p99_ms": round(percentile(counted, 0.99) * 1000, 1),
        "max_ms": round(max(counted) * 1000, 1),
        "load_average": round(os.getloadavg()[0], 2),
        **outcome,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("check", choices=["malformed", "slow"])
    parser.add_argument("url", help="the server, e.g. http://nginx or http://web:8000")
    parser.add_argument("--check", action="store_true", help="fail unless p99 < 100 ms, 0 errors")
    parser.add_argument(
        "--connections", type=int, default=100, help="slow clients (0: the reader alone)"
    )
    arguments = parser.parse_args()
    url = urlsplit(arguments.url)
    address = (url.hostname, url.port or 80)
    if arguments.check == "malformed":
        return 0 if check_malformed(address) else 1
    figures = run_slow(address, arguments.url, arguments.connections)
    print(json.dumps(figures))
    passed = figures["errors"] == 0 and figures["p99_ms"] < 100
    return 0 if passed or not arguments.check else 1


if __name__ == "__main__":
    sys.exit(main())
