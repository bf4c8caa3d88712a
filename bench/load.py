"""Load generators: wrk when installed, else a multi-process Python client; and the sampler
that measures GET latency while an upload runs.

Every function returns plain dicts of figures (requests/s, latency percentiles in ms, errors).
"""

import http.client
import multiprocessing
import re
import shutil
import statistics
import subprocess
import threading
import time
from urllib.parse import urlsplit

WRK = shutil.which("wrk")
# wrk prints latency values with a unit: 812.00us, 1.23ms, 2.01s
_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


def generator_name() -> str:
    if WRK:
        version = subprocess.run([WRK, "-v"], capture_output=True, text=True).stdout
        return (version.splitlines() or ["wrk"])[0].split(" [")[0]
    return "multi-process Python client (http.client, keep-alive)"


def throughput(url: str, *, seconds: float, connections: int, headers=None) -> dict:
    """Closed-loop load over keep-alive connections: requests/s, latency (ms), errors."""
    if WRK:
        return _wrk(url, seconds, connections, headers or {})
    return _python_load(url, seconds, connections, headers or {})


def _wrk(url: str, seconds: float, connections: int, headers: dict, tries: int = 3) -> dict:
    # One wrk thread drives 16 connections easily; the other core is left to the server.
    command = [WRK, "-t1", f"-c{connections}", f"-d{seconds:g}s", "--latency", url]
    for name, value in headers.items():
        command[1:1] = ["-H", f"{name}: {value}"]
    output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    percentiles = dict(re.findall(r"^\s+(50|75|90|99)%\s+(\S+)$", output, re.MULTILINE))
    if "99" not in percentiles:
        # Seen once on a loaded machine: no latency distribution printed. Run it again.
        if tries > 1:
            return _wrk(url, seconds, connections, headers, tries - 1)
        raise RuntimeError(f"wrk printed no latency distribution:\n{output}")
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    sockets = re.search(r"Socket errors: (.*)$", output, re.MULTILINE)
    socket_errors = sum(int(n) for n in re.findall(r"\d+", sockets[1])) if sockets else 0
    max_latency = re.search(r"Latency\s+\S+\s+\S+\s+(\S+)", output)
    return {
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", output)[1]),
        "requests": int(re.search(r"(\d+) requests in", output)[1]),
        "p50": _ms(percentiles["50"]),
        "p99": _ms(percentiles["99"]),
        "max": _ms(max_latency[1]),
        "errors": (int(non_2xx[1]) if non_2xx else 0) + socket_errors,
    }


def _ms(text: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)([a-z]+)", text).groups()
    return float(number) * _UNITS[unit]


def _python_load(url: str, seconds: float, connections: int, headers: dict) -> dict:
    processes = min(connections, multiprocessing.cpu_count() * 2)
    per_process = [
        connections // processes + (i < connections % processes) for i in range(processes)
    ]
    deadline = time.time() + seconds
    with multiprocessing.Pool(processes) as pool:
        results = pool.starmap(
            _connections_process, [(url, deadline, n, 0.0, headers) for n in per_process]
        )
    samples = [sample for result in results for sample in result]
    return _summary([latency for _, latency, ok in samples if ok], samples, seconds)


def _get_loop(url: str, running, pause: float, headers: dict, samples: list) -> None:
    """GET `url` while `running()` over one keep-alive connection; append (start, ms, ok)."""
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    while running():
        started = time.time()
        try:
            connection.request("GET", parts.path, headers=headers)
            response = connection.getresponse()
            response.read()
            ok = response.status in (200, 304)
        except (OSError, http.client.HTTPException):
            connection.close()
            connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
            ok = False
        samples.append((started, (time.time() - started) * 1000, ok))
        if pause:
            time.sleep(max(0.0, pause - (time.time() - started)))
    connection.close()


def _summary(latencies: list[float], samples: list, seconds: float) -> dict:
    ordered = sorted(latencies) or [0.0]
    return {
        "rps": len(samples) / seconds,
        "requests": len(samples),
        "p50": statistics.median(ordered),
        "p99": ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))],
        "max": ordered[-1],
        "errors": sum(1 for *_, ok in samples if not ok),
    }


class BackgroundReaders:
    """Paced GETs from separate processes while something else runs (an upload).

    `processes` x `threads` keep-alive connections, each sending one GET every `pause`
    seconds: a steady reader load that does not by itself saturate the server.
    """

    def __init__(self, url: str, *, processes: int = 2, threads: int = 4, pause: float = 0.02):
        self._stop = multiprocessing.Event()
        self._results = multiprocessing.Queue()
        self.connections, self.pause_ms = processes * threads, pause * 1000
        self._processes = [
            multiprocessing.Process(
                target=_until_stopped, args=(url, self._stop, threads, pause, self._results)
            )
            for _ in range(processes)
        ]

    def __enter__(self) -> "BackgroundReaders":
        for process in self._processes:
            process.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self._stop.set()
        self.samples = [s for _ in self._processes for s in self._results.get()]
        for process in self._processes:
            process.join()

    def summary_between(self, start: float, end: float) -> dict:
        during = [s for s in self.samples if start <= s[0] <= end]
        summary = _summary([ms for _, ms, ok in during if ok], during, end - start)
        return summary | {"connections": self.connections, "pause_ms": self.pause_ms}


def _until_stopped(url: str, stop, connections: int, pause: float, results) -> None:
    results.put(_run_connections(url, lambda: not stop.is_set(), connections, pause, {}))


def _connections_process(
    url: str, deadline: float, connections: int, pause: float, headers: dict
) -> list:
    return _run_connections(url, lambda: time.time() < deadline, connections, pause, headers)


def _run_connections(url: str, running, connections: int, pause: float, headers: dict) -> list:
    samples: list = []
    threads = [
        threading.Thread(target=_get_loop, args=(url, running, pause, headers, samples))
        for _ in range(connections)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return samples
