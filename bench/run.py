"""The deals-csv benchmark: floor vs end-to-end upload, step by step; worker memory; GET
throughput against reference views, CPU per request; GET latency during an upload.

    .venv/bin/python bench/run.py            # 100k, 1M and 5M rows; ~6 min once files exist
    .venv/bin/python bench/run.py --quick    # 100k and 1M rows, one repetition, short GET runs

In one run, on the same generated files (bench/data/, reused while the generator is
unchanged): the floor (psql \\copy into an UNLOGGED typed table without constraints, plus what
the service runs after its load: the refresh of the same report views), the
end-to-end upload through gunicorn over HTTP with the time of each step from the upload's log
line, the peak RSS of the worker that served it, GET throughput against a constant view and a
one-read floor (interleaved), the CPU per request in-process (bench/request_cost.py), GET
latency during a 1M-row upload. Prints the report and writes it into bench/RESULTS.md between
its markers (the rest of that file is written by hand).
"""

import argparse
import datetime
import http.client
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path

import datagen
import load
import psycopg2
import report
from server import ROOT, Gunicorn, MemoryWatch

BENCH = Path(__file__).resolve().parent
DATA = BENCH / "data"
CANONICAL = ROOT / "examples" / "deals.csv"
CANONICAL_REPORT = CANONICAL.with_name("deals.expected.json")
CUSTOMER_VARIANTS = (50, 100_000)
TOKEN = "bench-upload-token"  # noqa: S105 - a throwaway server's
COLUMNS = "customer, item, total, quantity, date"
FLOOR_SCHEMA = "bench_floor"
# What deals_replace_from_csv runs after its COPY and key rebuild (deals/services.py), in order,
# named as in its log line: the floor runs the same.
AFTER_LOAD = (
    ("deals_customer_totals", "REFRESH MATERIALIZED VIEW deals_customer_totals"),
    ("deals_top_customers", "REFRESH MATERIALIZED VIEW CONCURRENTLY deals_top_customers"),
    (
        "deals_top_customers_json",
        "REFRESH MATERIALIZED VIEW CONCURRENTLY deals_top_customers_json",
    ),
)
# The report views of the floor: SQL file, and the unique index a concurrent refresh needs.
FLOOR_VIEWS = (
    ("deals_customer_totals", "customer_totals", "username"),
    ("deals_top_customers", "top_customers", "rank"),
    ("deals_top_customers_json", "top_customers_json", "etag"),
)
# The upload's log line (deals/services.py): "... duration=2.104s steps: copy=1.203s ..."
UPLOAD_LINE = re.compile(r"upload (\d+) .*outcome=ok .*duration=([\d.]+)s steps: (.*)$")


def main() -> None:
    args = _arguments()
    started = time.time()
    context = _machine()
    files = _generate(args.rows)
    print(f"database {args.database}: created and migrated", flush=True)
    _database_create(args)
    try:
        results = _run(args, files)
    finally:
        if not args.keep_database:
            _psql_admin(f"DROP DATABASE IF EXISTS {args.database}")
    context["duration_s"] = time.time() - started
    context["load_after"] = os.getloadavg()
    text = report.markdown(args, context, results)
    print(text)
    report.write_between_markers(BENCH / "RESULTS.md", text)
    print(f"written {BENCH / 'RESULTS.md'}")


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", help="comma list of sizes (default 100000,1000000,5000000)")
    parser.add_argument("--quick", action="store_true", help="100k+1M, 1 repetition, 3 s GETs")
    parser.add_argument("--repeat", type=int, default=3, help="uploads per file (median)")
    parser.add_argument("--get-seconds", type=float, default=4.0)
    parser.add_argument("--get-rounds", type=int, default=8, help="interleaved GET rounds")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8100)
    parser.add_argument("--database", default="deals_bench")
    parser.add_argument("--keep-database", action="store_true")
    args = parser.parse_args()
    if args.quick:
        args.repeat, args.get_seconds, args.get_rounds = 1, 3.0, 1
    args.rows = args.rows or ("100000,1000000" if args.quick else "100000,1000000,5000000")
    args.rows = [int(size) for size in args.rows.split(",")]
    if not re.fullmatch(r"[a-z_][a-z0-9_]*", args.database):
        parser.error("--database: lower-case letters, digits and _ only")
    args.url = f"postgres://postgres@127.0.0.1:5432/{args.database}"
    args.base = f"http://{args.host}:{args.port}"
    return args


# --- machine and data ----------------------------------------------------------------------


def _machine() -> dict:
    cpu = re.search(r"model name\s+: (.*)", Path("/proc/cpuinfo").read_text())
    memory = re.search(r"MemTotal:\s+(\d+)", Path("/proc/meminfo").read_text())
    versions = {
        name: _pip_version(name)
        for name in ("Django", "djangorestframework", "psycopg2-binary", "gunicorn")
    }
    return {
        "date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "cpu": cpu[1] if cpu else platform.processor(),
        "cores": os.cpu_count(),
        "memory_gb": int(memory[1]) / 1024 / 1024 if memory else 0,
        "kernel": platform.release(),
        "python": platform.python_version(),
        "postgres": _psql_admin("SELECT version()").split(" on ")[0],
        "postgres_settings": _psql_admin(
            "SELECT string_agg(name || ' ' || current_setting(name), ', ' ORDER BY name)"
            " FROM pg_settings WHERE name IN ('wal_level', 'shared_buffers', 'work_mem',"
            " 'maintenance_work_mem', 'max_wal_size', 'max_parallel_workers_per_gather')"
        ),
        "versions": versions,
        "load_generator": load.generator_name(),
        "load_before": os.getloadavg(),
        "gunicorn": _gunicorn_settings(),
    }


def _pip_version(name: str) -> str:
    from importlib.metadata import version

    return version(name)


def _gunicorn_settings() -> str:
    workers = os.environ.get("WEB_CONCURRENCY", "2")
    threads = os.environ.get("GUNICORN_THREADS", "4")
    return f"project/gunicorn.py: gthread, {workers} workers x {threads} threads"


def _generate(sizes: list[int]) -> list[dict]:
    files = []
    for rows in sizes:
        for customers in CUSTOMER_VARIANTS:
            path = datagen.file_path(DATA, rows, customers)
            began = time.time()
            reused = path.exists()
            datagen.generate(path, rows, customers)
            action = "reused" if reused else f"generated in {time.time() - began:.1f} s"
            print(f"{path.name}: {path.stat().st_size / 1e6:.0f} MB, {action}", flush=True)
            files.append({"path": path, "rows": rows, "customers": customers})
    return files


# --- database and floor --------------------------------------------------------------------


def _psql_admin(statement: str) -> str:
    command = ["psql", "-h", "127.0.0.1", "-U", "postgres", "-d", "postgres", "-Atc", statement]
    return subprocess.run(command, capture_output=True, text=True, check=True).stdout.strip()


def _database_create(args) -> None:
    _psql_admin(f"DROP DATABASE IF EXISTS {args.database}")
    _psql_admin(f"CREATE DATABASE {args.database}")
    env = os.environ | {"DATABASE_URL": args.url, "DJANGO_SECRET_KEY": "bench-only"}
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True)
    _floor_create(args)


def _floor_create(args) -> None:
    """An UNLOGGED typed table without key or constraints, and the same report views."""
    with psycopg2.connect(args.url) as connection, connection.cursor() as cursor:
        cursor.execute(f"CREATE SCHEMA {FLOOR_SCHEMA}")
        cursor.execute(f"SET search_path = {FLOOR_SCHEMA}")
        # No autovacuum: it would vacuum and analyze each floor load in the background,
        # during the upload measured next.
        cursor.execute(
            'CREATE UNLOGGED TABLE deals_deal (customer text COLLATE "C", item text COLLATE "C",'
            " total numeric(15, 2), quantity integer, date timestamptz)"
            " WITH (autovacuum_enabled = false)"
        )
        for view, sql_file, key in FLOOR_VIEWS:
            body = (ROOT / "sql" / f"{sql_file}.sql").read_text()
            cursor.execute(f"CREATE MATERIALIZED VIEW {view} AS {body}")
            cursor.execute(f"CREATE UNIQUE INDEX ON {view} ({key})")
    connection.close()


def _floor(args, path: Path) -> dict:
    """psql \\copy of the file, then what the service runs after its load; seconds per step,
    and the WAL the server wrote meanwhile (bytes)."""
    steps = "\n".join(f"{statement};" for _, statement in AFTER_LOAD)
    script = f"""\\set ON_ERROR_STOP on
SET search_path = {FLOOR_SCHEMA};
TRUNCATE deals_deal;
\\timing on
\\copy deals_deal ({COLUMNS}) FROM '{path}' WITH (FORMAT csv, HEADER true)
{steps}
"""
    command = ["psql", "-h", "127.0.0.1", "-U", "postgres", "-d", args.database, "-q"]
    wal = _wal_position()
    output = subprocess.run(
        command, input=script, capture_output=True, text=True, check=True
    ).stdout
    wal = _wal_since(wal)
    times = [float(ms) / 1000 for ms in re.findall(r"Time: ([\d.]+) ms", output)]
    names = ["copy", *(name for name, _ in AFTER_LOAD)]
    steps = dict(zip(names, times, strict=True))
    return steps | {"total": sum(times), "wal": wal}


def _wal_position() -> str:
    return _psql_admin("SELECT pg_current_wal_lsn()")


def _wal_since(position: str) -> int:
    """Bytes of WAL the whole server wrote since `position` (other databases' too)."""
    return int(float(_psql_admin(f"SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), '{position}')")))


# --- uploads -------------------------------------------------------------------------------


def _upload(args, path: Path) -> dict:
    """POST the file as multipart, streamed from disk; seconds until the answer is read."""
    boundary = uuid.uuid4().hex
    head = (
        f"--{boundary}\r\nContent-Disposition: form-data; name=deals; "
        f'filename="{path.name}"\r\nContent-Type: text/csv\r\n\r\n'
    ).encode()
    tail = f"\r\n--{boundary}--\r\n".encode()
    headers = {
        "Content-Type": f"multipart/form-data; boundary={boundary}",
        "Content-Length": str(len(head) + path.stat().st_size + len(tail)),
        "Authorization": f"Token {TOKEN}",
    }
    connection = http.client.HTTPConnection(args.host, args.port, timeout=600)
    began = time.perf_counter()
    with path.open("rb") as file:
        connection.request("POST", "/api/deals/", body=_parts(head, file, tail), headers=headers)
        response = connection.getresponse()
        body = response.read()
    elapsed = time.perf_counter() - began
    connection.close()
    if response.status != 200:
        raise RuntimeError(f"upload of {path.name} answered {response.status}: {body[:300]!r}")
    answer = json.loads(body)
    return {"seconds": elapsed, "rows": answer["rows"], "upload_id": answer["upload_id"]}


def _parts(head: bytes, file, tail: bytes):
    yield head
    while chunk := file.read(1 << 20):
        yield chunk
    yield tail


def _upload_steps(server: Gunicorn, upload_id: int) -> dict:
    """Seconds of each step of the upload, from its log line in the server's log: the steps
    the service names, "service" (all of deals_replace_from_csv)."""
    for line in reversed(server.log_path.read_text(encoding="utf-8").splitlines()):
        match = UPLOAD_LINE.search(line)
        if match and int(match[1]) == upload_id:
            steps = {name: float(value) for name, value in re.findall(r"(\w+)=([\d.]+)s", match[3])}
            return steps | {"service": float(match[2])}
    raise RuntimeError(f"no log line for upload {upload_id} in {server.log_path}")


def _measure_file(args, server: Gunicorn, file: dict) -> None:
    """The floor and the upload of `file`, alternately `args.repeat` times.

    file["floor"], file["upload"]: the fastest run of each, step by step (other work on a
    shared machine only ever slows a run down), with the medians beside; file["ratio"]: the
    fastest upload over the fastest floor; file["ratio_median"]: the median of the pairs'.
    """
    floors, uploads = [], []
    for _ in range(args.repeat):
        floors.append(_floor(args, file["path"]))
        uploads.append(_upload_run(args, server, file))
    file["floor"] = min(floors, key=lambda run: run["total"]) | {
        "median": statistics.median(run["total"] for run in floors)
    }
    file["upload"] = _upload_summary(uploads)
    file["ratio"] = file["upload"]["e2e"] / file["floor"]["total"]
    file["ratio_median"] = statistics.median(
        upload["seconds"] / floor["total"] for floor, upload in zip(floors, uploads, strict=True)
    )


def _upload_run(args, server: Gunicorn, file: dict) -> dict:
    """One upload of `file` over HTTP: seconds, steps, WAL and the worker's memory."""
    watch = MemoryWatch(server.workers())
    wal = _wal_position()
    upload = _upload(args, file["path"])
    wal = _wal_since(wal)
    memory = watch.result()
    if upload["rows"] != file["rows"]:
        raise RuntimeError(f"{file['path'].name}: loaded {upload['rows']} rows")
    steps = _upload_steps(server, upload["upload_id"])
    service = steps.pop("service")
    # The service's time outside its named steps: the history row, the header check.
    steps["start"] = service - sum(steps.values())
    # Before the service starts: the body's transfer and Django's multipart parse.
    steps["http"] = upload["seconds"] - service
    return upload | memory | {"steps": steps, "wal": wal}


def _upload_summary(runs: list[dict]) -> dict:
    """The fastest upload's time, steps and WAL; the median time; the memory of all runs."""
    fastest = min(runs, key=lambda run: run["seconds"])
    return {
        "e2e": fastest["seconds"],
        "median": statistics.median(run["seconds"] for run in runs),
        "e2e_all": [run["seconds"] for run in runs],
        "steps": fastest["steps"],
        "wal": fastest["wal"],
        "idle_mb": max(run["idle_mb"] for run in runs),
        "peak_mb": max(run["peak_mb"] for run in runs),
        "rss_delta_mb": max(run["peak_mb"] - run["idle_mb"] for run in runs),
    }


def _during_upload(args, file: dict) -> dict:
    """GET latency from paced readers while `file` uploads (started from the canonical data)."""
    _upload(args, CANONICAL)
    with load.BackgroundReaders(f"{args.base}/api/deals/") as readers:
        time.sleep(1.0)  # readers connected and warm
        began = time.time()
        upload = _upload(args, file["path"])
        ended = time.time()
        time.sleep(0.5)
    return readers.summary_between(began, ended) | {"upload_s": upload["seconds"]}


# --- GET -----------------------------------------------------------------------------------


# The reference views (bench/urls.py) and the product's answers, run in this order each round.
GET_TARGETS = ("constant-django", "one-read", "constant-drf", "get", "304")
CEILINGS = ("constant-django", "one-read")


def _get_figures(args) -> dict:
    """Throughput of each target, median of interleaved rounds, and the median of each
    round's ratio to the ceilings (neighbouring runs share the machine's load)."""
    _upload(args, CANONICAL)
    etag = _check_report(args)
    paths = {
        "constant-django": ("/bench/constant-django/", {}),
        "one-read": ("/bench/one-read/", {}),
        "constant-drf": ("/bench/constant/", {}),
        "get": ("/api/deals/", {}),
        "304": ("/api/deals/", {"If-None-Match": etag}),
    }
    rounds: dict[str, list[dict]] = {name: [] for name in GET_TARGETS}
    for number in range(args.get_rounds):
        # Each round starts one target later: none is always run right after another.
        shift = number % len(GET_TARGETS)
        for name in GET_TARGETS[shift:] + GET_TARGETS[:shift]:
            path, headers = paths[name]
            rounds[name].append(
                load.throughput(
                    args.base + path, seconds=args.get_seconds, connections=16, headers=headers
                )
            )
            print(f"  {name}: {rounds[name][-1]['rps']:.0f} req/s", flush=True)
    # The best round of each: other work on a shared machine only ever slows a run down.
    figures = {name: max(runs, key=lambda run: run["rps"]) for name, runs in rounds.items()}
    for name, figure in figures.items():
        figure["errors"] = sum(run["errors"] for run in rounds[name])
        figure["median_rps"] = statistics.median(run["rps"] for run in rounds[name])
        figure["of"] = {ceiling: figure["rps"] / figures[ceiling]["rps"] for ceiling in CEILINGS}
        figure["of_median"] = {
            ceiling: statistics.median(
                run["rps"] / reference["rps"]
                for run, reference in zip(rounds[name], rounds[ceiling], strict=True)
            )
            for ceiling in CEILINGS
        }
    return figures


def _request_cost(args) -> dict:
    """CPU per request in-process and what each DRF policy would add (bench/request_cost.py),
    against the database as the GET runs left it (the canonical report)."""
    env = os.environ | {
        "DATABASE_URL": args.url,
        "DJANGO_SETTINGS_MODULE": "bench.settings",
        "DJANGO_SECRET_KEY": "bench-only-not-a-secret",
        "DJANGO_LOG_LEVEL": "WARNING",
    }
    command = [sys.executable, str(BENCH / "request_cost.py")]
    output = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True)
    if output.returncode:
        raise RuntimeError(f"request_cost.py failed: {output.stderr[-2000:]}")
    return json.loads(output.stdout)


def _check_report(args) -> str:
    """GET answers the canonical report, and 304 for its ETag; returns the ETag."""
    connection = http.client.HTTPConnection(args.host, args.port, timeout=10)
    connection.request("GET", "/api/deals/")
    response = connection.getresponse()
    body, etag = response.read(), response.getheader("ETag")
    if body != CANONICAL_REPORT.read_bytes().rstrip(b"\n"):
        raise RuntimeError("GET does not answer the canonical report's bytes")
    connection.request("GET", "/api/deals/", headers={"If-None-Match": etag})
    revalidated = connection.getresponse()
    revalidated.read()
    connection.close()
    if revalidated.status != 304:
        raise RuntimeError(f"If-None-Match answered {revalidated.status}, not 304")
    return etag


# --- the run -------------------------------------------------------------------------------


def _run(args, files: list[dict]) -> dict:
    server = Gunicorn(
        host=args.host,
        port=args.port,
        database_url=args.url,
        log=DATA / "gunicorn.log",
        token=TOKEN,
    )
    try:
        _upload(args, CANONICAL)  # warm-up: imports, connections, first allocations
        for file in files:
            _measure_file(args, server, file)
            print(
                f"{file['path'].name}: fastest floor {file['floor']['total']:.2f} s, upload "
                f"{file['upload']['e2e']:.2f} s, {file['ratio']:.2f}x "
                f"(median of pairs {file['ratio_median']:.2f}x)",
                flush=True,
            )
        print("GET throughput, 16 connections:", flush=True)
        gets = _get_figures(args)
        cost = _request_cost(args)
        print(f"CPU per request: {cost['views']}", flush=True)
        during_file = _pick(files, 1_000_000, CUSTOMER_VARIANTS[-1])
        during = _during_upload(args, during_file)
        print(f"GET during upload: p99 {during['p99']:.1f} ms", flush=True)
    finally:
        server.stop()
    return {
        "files": files,
        "gets": gets,
        "cost": cost,
        "during": during,
        "during_file": during_file,
    }


def _pick(files: list[dict], rows: int, customers: int) -> dict:
    same = [f for f in files if f["customers"] == customers]
    return min(same, key=lambda f: abs(f["rows"] - rows))


if __name__ == "__main__":
    main()
