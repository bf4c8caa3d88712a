"""The service under test: gunicorn with the project's config, and its workers' memory."""

import http.client
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PAGE_KB = os.sysconf("SC_PAGE_SIZE") // 1024


class Gunicorn:
    """`gunicorn -c project/gunicorn.py project.wsgi:application`, as production runs it."""

    def __init__(self, *, host: str, port: int, database_url: str, log: Path, token: str):
        self.host, self.port, self.log_path = host, port, log
        env = os.environ | {
            "DATABASE_URL": database_url,
            "DJANGO_SETTINGS_MODULE": "bench.settings",
            "DJANGO_SECRET_KEY": "bench-only-not-a-secret",
            "DJANGO_DEBUG": "0",
            "DJANGO_LOG_LEVEL": "INFO",  # each upload's line, with the time of each step
            "DEALS_UPLOAD_TOKEN": token,
            "GUNICORN_BIND": f"{host}:{port}",
        }
        gunicorn = Path(sys.executable).with_name("gunicorn")
        command = [str(gunicorn), "-c", "project/gunicorn.py", "project.wsgi:application"]
        self._log = log.open("wb")
        self.process = subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=self._log, stderr=subprocess.STDOUT
        )
        self._wait_ready()

    def _wait_ready(self, seconds: float = 30) -> None:
        deadline = time.time() + seconds
        while time.time() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"gunicorn exited with {self.process.returncode}")
            try:
                connection = http.client.HTTPConnection(self.host, self.port, timeout=2)
                connection.request("GET", "/api/health/")
                if connection.getresponse().status == 200 and len(self.workers()) > 0:
                    return
            except OSError:
                pass
            time.sleep(0.2)
        raise RuntimeError("gunicorn did not answer /api/health/ in time")

    def workers(self) -> list[int]:
        """Worker pids: the master's children."""
        children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
        return [int(pid) for pid in children.read_text().split()]

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self._log.close()


def rss_kb(pid: int) -> int:
    return int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * PAGE_KB


def cpu_ticks(pid: int) -> int:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime + stime


def reset_peak(pid: int) -> bool:
    """Reset the kernel's peak-RSS counter (VmHWM); needs the right to write clear_refs."""
    try:
        Path(f"/proc/{pid}/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def peak_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return 0


class MemoryWatch:
    """Polls the workers' RSS every 10 ms during one request; finds the worker that served it
    (the one that used the most CPU) and its idle and peak RSS."""

    def __init__(self, pids: list[int]):
        self._pids = pids
        self._idle = {pid: rss_kb(pid) for pid in pids}
        self._cpu = {pid: cpu_ticks(pid) for pid in pids}
        self._exact = all([reset_peak(pid) for pid in pids])
        self._polled = dict(self._idle)
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)
        self._thread.start()

    def _poll(self) -> None:
        while not self._done.wait(0.01):
            for pid in self._pids:
                self._polled[pid] = max(self._polled[pid], rss_kb(pid))

    def result(self) -> dict:
        self._done.set()
        self._thread.join()
        pid = max(self._pids, key=lambda p: cpu_ticks(p) - self._cpu[p])
        peak = max(self._polled[pid], peak_kb(pid) if self._exact else 0)
        return {"pid": pid, "idle_mb": self._idle[pid] / 1024, "peak_mb": peak / 1024}
