"""CPU time of the file's check alone (deals.ingest.stream.ValidatedCsv) on runs of empty lines.

    python bench/empty_lines_cost.py            # prints JSON

Two files a client may send: a deal followed by 80 MB of empty lines (dropped: the file is
valid), and 10 MB of empty lines followed by a deal (refused at the first of them). Beside
them, for scale, a clean file of 22 MB. No database: only the check that runs beside COPY, which
holds the upload lock while it reads (the README's "Speed"). The fastest of a few rounds counts.
"""

import io
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ROUNDS = 3
HEADER = b"customer,item,total,quantity,date\n"
ROW = b"bob,Ruby,612.5,2,2018-12-14 08:29:52\n"

FILES = {
    "80 MB of empty lines at the end": lambda: HEADER + ROW + b"\n" * (80 * 10**6),
    "10 MB of empty lines, then a row": lambda: HEADER + ROW + b"\n" * (10 * 10**6) + ROW,
    "clean, 22 MB": lambda: HEADER + ROW * 600_000,
}


def check(data: bytes) -> tuple[float, str | None]:
    """CPU seconds of the whole check, and its error (None: the file is valid)."""
    from deals.ingest.stream import ValidatedCsv

    start = time.process_time()
    stream = ValidatedCsv(io.BytesIO(data))
    while stream.read(64 * 1024):
        pass
    return time.process_time() - start, stream.error and stream.error.message


def main() -> None:
    sys.path.insert(0, str(ROOT))
    results = {}
    for name, make in FILES.items():
        data = make()
        runs = [check(data) for _ in range(ROUNDS)]
        results[name] = {
            "mb": round(len(data) / 10**6, 1),
            "cpu_seconds": round(min(seconds for seconds, _ in runs), 2),
            "error": runs[0][1],
        }
    print(json.dumps(results, indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
