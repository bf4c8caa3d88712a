"""CPU time of the file's check alone (deals.ingest.stream.ValidatedCsv), file by file.

    python bench/check_cost.py            # prints JSON

Files a client may send, each checked as an upload would be (the README's "Speed"): 1M deals
written cleanly, the same with a space around every customer and a tab after every item
(trimmed), a deal followed by 80 MB of empty lines (dropped: the file is valid), 10 MB of empty
lines followed by a deal (refused at the first of them). No database: only the check that runs
beside COPY, which holds the upload lock while it reads. Interleaved rounds, the fastest of
each counts (other work on the machine only ever slows a round down).
"""

import io
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ROUNDS = 3
LINES = 1_000_000
GEMS = ("Рубин", "Сапфир", "Изумруд", "Opal")
HEADER = b"customer,item,total,quantity,date\r\n"
ROW = b"bob,Ruby,612.5,2,2018-12-14 08:29:52\r\n"


def deals_file(*, blanks: bool) -> bytes:
    lines = [HEADER.decode()]
    for i in range(LINES):
        customer, item = f"user{i % 50}", GEMS[i % len(GEMS)]
        if blanks:
            customer, item = f" {customer} ", f"{item}\t"
        lines.append(f"{customer},{item},{i % 997}.5,{1 + i % 9},2018-12-14 08:29:52.506166\r\n")
    return "".join(lines).encode()


FILES = {
    "1M deals, clean": lambda: deals_file(blanks=False),
    "1M deals, blanks around text values": lambda: deals_file(blanks=True),
    "80 MB of empty lines at the end": lambda: HEADER + ROW + b"\r\n" * (40 * 10**6),
    "10 MB of empty lines, then a row": lambda: HEADER + ROW + b"\r\n" * (5 * 10**6) + ROW,
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
    files = {name: make() for name, make in FILES.items()}
    best = dict.fromkeys(files, float("inf"))
    errors = {}
    for _ in range(ROUNDS):
        for name, data in files.items():
            seconds, errors[name] = check(data)
            best[name] = min(best[name], seconds)
    results = {
        name: {"mb": round(len(data) / 10**6, 1), "cpu_seconds": round(best[name], 2)}
        | {"error": errors[name]}
        for name, data in files.items()
    }
    print(json.dumps(results, indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
