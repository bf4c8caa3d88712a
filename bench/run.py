"""The deals-csv benchmark: floor vs end-to-end upload, worker memory, GET throughput.

    .venv/bin/python bench/run.py            # 100k, 1M and 5M rows; about 15 minutes
    .venv/bin/python bench/run.py --quick    # 100k and 1M rows, one repetition, short GET runs

In one run, on the same generated files (bench/data/, reused while the generator is
unchanged): the floor (psql \\copy into an UNLOGGED typed table without constraints, plus the
refresh of the same report views), the end-to-end upload through gunicorn over HTTP, the peak
RSS of the worker that served it, GET throughput against a constant view, GET latency during a
1M-row upload. Prints a table and writes bench/RESULTS.md.
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
from server import ROOT, Gunicorn, MemoryWatch

BENCH = Path(__file__).resolve().parent
DATA = BENCH / "data"
CANONICAL = ROOT / "examples" / "deals.csv"
CANONICAL_REPORT = CANONICAL.with_name("deals.expected.json")
CUSTOMER_VARIANTS = (50, 100_000)
TOKEN = "bench-upload-token"  # noqa: S105 - a throwaway server's
COLUMNS = "customer, item, total, quantity, date"
FLOOR_SCHEMA = "bench_floor"


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
    report = _report(args, context, results)
    print(report)
    (BENCH / "RESULTS.md").write_text(report, encoding="utf-8")
    print(f"written {BENCH / 'RESULTS.md'}")


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", help="comma list of sizes (default 100000,1000000,5000000)")
    parser.add_argument("--quick", action="store_true", help="100k+1M, 1 repetition, 3 s GETs")
    parser.add_argument("--repeat", type=int, default=3, help="uploads per file (median)")
    parser.add_argument("--get-seconds", type=float, default=10.0)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8100)
    parser.add_argument("--database", default="deals_bench")
    parser.add_argument("--keep-database", action="store_true")
    args = parser.parse_args()
    if args.quick:
        args.repeat, args.get_seconds = 1, 3.0
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
    """An UNLOGGED typed table without key or constraints, and the same two report views."""
    totals = (ROOT / "sql" / "customer_totals.sql").read_text()
    top = (ROOT / "sql" / "top_customers.sql").read_text()
    with psycopg2.connect(args.url) as connection, connection.cursor() as cursor:
        cursor.execute(f"CREATE SCHEMA {FLOOR_SCHEMA}")
        cursor.execute(f"SET search_path = {FLOOR_SCHEMA}")
        cursor.execute(
            'CREATE UNLOGGED TABLE deals_deal (customer text COLLATE "C", item text COLLATE "C",'
            " total numeric(15, 2), quantity integer, date timestamptz)"
        )
        cursor.execute(f"CREATE MATERIALIZED VIEW deals_customer_totals AS {totals}")
        cursor.execute("CREATE UNIQUE INDEX ON deals_customer_totals (username)")
        cursor.execute(f"CREATE MATERIALIZED VIEW deals_top_customers AS {top}")
        cursor.execute("CREATE UNIQUE INDEX ON deals_top_customers (rank)")
    connection.close()


def _floor(args, path: Path) -> dict:
    """psql \\copy of the file, ANALYZE, and the refreshes the service does; times in s."""
    script = f"""\\set ON_ERROR_STOP on
SET search_path = {FLOOR_SCHEMA};
TRUNCATE deals_deal;
\\timing on
\\copy deals_deal ({COLUMNS}) FROM '{path}' WITH (FORMAT csv, HEADER true)
ANALYZE deals_deal;
REFRESH MATERIALIZED VIEW deals_customer_totals;
REFRESH MATERIALIZED VIEW CONCURRENTLY deals_top_customers;
"""
    command = ["psql", "-h", "127.0.0.1", "-U", "postgres", "-d", args.database, "-q"]
    output = subprocess.run(
        command, input=script, capture_output=True, text=True, check=True
    ).stdout
    copy, *rest = [float(ms) / 1000 for ms in re.findall(r"Time: ([\d.]+) ms", output)]
    return {"copy": copy, "refresh": sum(rest), "total": copy + sum(rest)}


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
    return {"seconds": elapsed, "rows": json.loads(body)["rows"]}


def _parts(head: bytes, file, tail: bytes):
    yield head
    while chunk := file.read(1 << 20):
        yield chunk
    yield tail


def _service_seconds(args) -> float:
    """How long the last upload spent in deals_replace_from_csv (after the multipart parse)."""
    with psycopg2.connect(args.url) as connection, connection.cursor() as cursor:
        cursor.execute(
            "SELECT extract(epoch FROM finished_at - started_at) FROM deals_upload"
            " ORDER BY id DESC LIMIT 1"
        )
        seconds = float(cursor.fetchone()[0])
    connection.close()
    return seconds


def _measure_file(args, server: Gunicorn, file: dict) -> dict:
    runs = []
    for _ in range(args.repeat):
        watch = MemoryWatch(server.workers())
        upload = _upload(args, file["path"])
        memory = watch.result()
        if upload["rows"] != file["rows"]:
            raise RuntimeError(f"{file['path'].name}: loaded {upload['rows']} rows")
        runs.append(upload | memory | {"service": _service_seconds(args)})
    seconds = [run["seconds"] for run in runs]
    return {
        "e2e": statistics.median(seconds),
        "e2e_all": seconds,
        "service": statistics.median(run["service"] for run in runs),
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


def _get_figures(args) -> dict:
    _upload(args, CANONICAL)
    etag = _check_report(args)
    targets = {
        "ceiling": (f"{args.base}/bench/constant/", {}),
        "get": (f"{args.base}/api/deals/", {}),
        "304": (f"{args.base}/api/deals/", {"If-None-Match": etag}),
    }
    rounds: dict[str, list[dict]] = {name: [] for name in targets}
    for _ in range(1 if args.quick else 2):  # interleaved, so drift hits all three alike
        for name, (url, headers) in targets.items():
            rounds[name].append(
                load.throughput(url, seconds=args.get_seconds, connections=16, headers=headers)
            )
            print(f"  {name}: {rounds[name][-1]['rps']:.0f} req/s", flush=True)
    return {name: _median_run(runs) for name, runs in rounds.items()}


def _median_run(runs: list[dict]) -> dict:
    result = {key: statistics.median(run[key] for run in runs) for key in runs[0]}
    result["errors"] = sum(run["errors"] for run in runs)
    return result


def _check_report(args) -> str:
    """GET answers the canonical report, and 304 for its ETag; returns the ETag."""
    connection = http.client.HTTPConnection(args.host, args.port, timeout=10)
    connection.request("GET", "/api/deals/")
    response = connection.getresponse()
    body, etag = json.loads(response.read()), response.getheader("ETag")
    if body != json.loads(CANONICAL_REPORT.read_text(encoding="utf-8")):
        raise RuntimeError("GET does not answer the canonical report")
    connection.request("GET", "/api/deals/", headers={"If-None-Match": etag})
    revalidated = connection.getresponse()
    revalidated.read()
    connection.close()
    if revalidated.status != 304:
        raise RuntimeError(f"If-None-Match answered {revalidated.status}, not 304")
    return etag


# --- the run -------------------------------------------------------------------------------


def _run(args, files: list[dict]) -> dict:
    for file in files:
        runs = [_floor(args, file["path"]) for _ in range(args.repeat)]
        file["floor"] = {key: statistics.median(run[key] for run in runs) for key in runs[0]}
        print(f"floor {file['path'].name}: {file['floor']['total']:.2f} s", flush=True)
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
            file["upload"] = _measure_file(args, server, file)
            print(f"upload {file['path'].name}: {file['upload']['e2e']:.2f} s", flush=True)
        print("GET throughput, 16 connections:", flush=True)
        gets = _get_figures(args)
        during_file = _pick(files, 1_000_000, CUSTOMER_VARIANTS[-1])
        during = _during_upload(args, during_file)
        print(f"GET during upload: p99 {during['p99']:.1f} ms", flush=True)
    finally:
        server.stop()
    return {"files": files, "gets": gets, "during": during, "during_file": during_file}


def _pick(files: list[dict], rows: int, customers: int) -> dict:
    same = [f for f in files if f["customers"] == customers]
    return min(same, key=lambda f: abs(f["rows"] - rows))


# --- the report ----------------------------------------------------------------------------


def _report(args, context: dict, results: dict) -> str:
    files, gets, during = results["files"], results["gets"], results["during"]
    lines = [
        "# deals-csv benchmark results",
        "",
        f"Generated by `{' '.join(['python bench/run.py', *sys.argv[1:]])}` on "
        f"{context['date']}, in {context['duration_s'] / 60:.1f} min.",
        "",
        *_machine_lines(context),
        "",
        "## Uploads: floor vs end-to-end",
        "",
        *_upload_table(files, args.repeat),
        "",
        *_flatness_lines(files),
        "",
        "## GET /api/deals/",
        "",
        *_get_table(gets, args),
        "",
        *_during_lines(during, results["during_file"]),
        "",
        "## Targets",
        "",
        *_target_lines(files, gets, during),
        "",
    ]
    return "\n".join(lines)


def _machine_lines(context: dict) -> list[str]:
    versions = ", ".join(f"{name} {version}" for name, version in context["versions"].items())
    before = " / ".join(f"{value:.1f}" for value in context["load_before"])
    after = " / ".join(f"{value:.1f}" for value in context["load_after"])
    return [
        f"- Machine: {context['cpu']}, {context['cores']} cores, "
        f"{context['memory_gb']:.0f} GB RAM, Linux {context['kernel']}",
        "- Shared: other engineers ran test suites on the same 2 cores during the run "
        f"(load average 1/5/15 min: {before} at the start, {after} at the end); "
        "figures are noisier than on an idle machine.",
        f"- {context['postgres']} (default settings), Python {context['python']}, {versions}",
        f"- Server: gunicorn with {context['gunicorn']}, DEBUG off, against a fresh database",
        f"- Load generator: {context['load_generator']}",
    ]


def _upload_table(files: list[dict], repeat: int) -> list[str]:
    lines = [
        "| rows | customers | MB | floor: copy + refresh = total (s) | upload end-to-end "
        f"(s, median of {repeat}) | in service (s) | upload / floor | µs per row "
        "| worker RSS idle → peak (MB) |",
        "| ---: | ---: | ---: | --- | ---: | ---: | ---: | ---: | --- |",
    ]
    for file in files:
        floor, upload = file["floor"], file["upload"]
        lines.append(
            f"| {file['rows']:,} | {file['customers']:,} "
            f"| {file['path'].stat().st_size / 1e6:.0f} "
            f"| {floor['copy']:.2f} + {floor['refresh']:.2f} = {floor['total']:.2f} "
            f"| {upload['e2e']:.2f} | {upload['service']:.2f} "
            f"| **{upload['e2e'] / floor['total']:.2f}x** "
            f"| {upload['e2e'] / file['rows'] * 1e6:.2f} "
            f"| {upload['idle_mb']:.0f} → {upload['peak_mb']:.0f} "
            f"(+{upload['rss_delta_mb']:.1f}) |"
        )
    lines += [
        "",
        "Floor: `psql \\copy` into an UNLOGGED table with typed columns and no key or "
        "constraints, `ANALYZE`, then the refresh of the same two report views (plain, then "
        "`CONCURRENTLY`). End-to-end: `POST /api/deals/` multipart over HTTP, streamed from "
        "disk, until the answer is read. *In service*: `deals_replace_from_csv` alone "
        "(`deals_upload.finished_at - started_at`); the rest is the HTTP transfer and "
        "Django's multipart parse into a temporary file. RSS: the worker that served the "
        "upload, before it and at its peak (kernel's VmHWM, reset before each upload, and "
        "10 ms polling), the largest of the runs.",
    ]
    return lines


def _flatness_lines(files: list[dict]) -> list[str]:
    lines = []
    for customers in CUSTOMER_VARIANTS:
        same = sorted((f for f in files if f["customers"] == customers), key=lambda f: f["rows"])
        if len(same) < 2:
            continue
        per_row = [f["upload"]["e2e"] / f["rows"] * 1e6 for f in same]
        spread = max(per_row) / min(per_row)
        sizes = " → ".join(
            f"{f['rows']:,}: {us:.2f} µs" for f, us in zip(same, per_row, strict=True)
        )
        lines.append(
            f"- Time per row, {customers:,} customers: {sizes} (largest / smallest "
            f"**{spread:.2f}**)"
        )
    return lines


def _get_table(gets: dict, args) -> list[str]:
    ceiling = gets["ceiling"]["rps"]
    names = {
        "ceiling": "constant DRF view (ceiling)",
        "get": "`GET /api/deals/` (200, 5 rows)",
        "304": "`GET /api/deals/` + `If-None-Match` (304)",
    }
    rounds = 1 if args.quick else 2
    lines = [
        f"16 keep-alive connections, {args.get_seconds:g} s per run, {rounds} interleaved "
        "round(s), median.",
        "",
        "| endpoint | requests/s | of ceiling | p50 (ms) | p99 (ms) | max (ms) | errors |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for key, name in names.items():
        run = gets[key]
        lines.append(
            f"| {name} | {run['rps']:.0f} | **{run['rps'] / ceiling:.0%}** | {run['p50']:.1f} "
            f"| {run['p99']:.1f} | {run['max']:.1f} | {run['errors']:.0f} |"
        )
    return lines


def _during_lines(during: dict, file: dict) -> list[str]:
    return [
        f"During the upload of {file['rows']:,} rows ({file['customers']:,} customers; "
        f"{during['upload_s']:.2f} s under this load), {during['connections']} keep-alive "
        f"readers each sending a GET every {during['pause_ms']:.0f} ms: "
        f"{during['requests']} GETs, p50 **{during['p50']:.1f} ms**, p99 "
        f"**{during['p99']:.1f} ms**, max {during['max']:.1f} ms, "
        f"**{during['errors']} errors**.",
    ]


def _target_lines(files: list[dict], gets: dict, during: dict) -> list[str]:
    million = [f for f in files if f["rows"] == 1_000_000]
    ratios = ", ".join(
        f"{f['upload']['e2e'] / f['floor']['total']:.2f}x ({f['customers']:,} customers)"
        for f in million
    )
    rss = max(f["upload"]["rss_delta_mb"] for f in files)
    ceiling = gets["ceiling"]["rps"]
    return [
        f"- 1M-row upload ≤ 2.0x floor (stretch 1.5x): {ratios or 'not measured (no 1M file)'}",
        "- time per row flat from 100k to 5M within 25%: see the spreads above (≤ 1.25)",
        f"- worker peak RSS ≤ idle + 30 MB: largest increase +{rss:.1f} MB",
        f"- GET ≥ 80% of the ceiling: {gets['get']['rps'] / ceiling:.0%}; "
        f"304 ≥ 90%: {gets['304']['rps'] / ceiling:.0%}",
        f"- during a 1M upload, GET p99 < 100 ms and no errors: p99 {during['p99']:.1f} ms, "
        f"{during['errors']} errors",
    ]


if __name__ == "__main__":
    main()
