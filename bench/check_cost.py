"""CPU time of the file's check alone (deals.ingest.stream.ValidatedCsv), clean against blanks.

    python bench/check_cost.py            # 1,000,000 lines; prints JSON

Two files of the same deals: one as an exporter writes it cleanly, one with a space around
every customer and a tab after every item, which the check must trim (the README's "Speed").
No database: only the check that runs beside COPY. Interleaved rounds, the fastest of each
counts (other work on the machine only ever slows a round down).
"""

import io
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LINES = 1_000_000
ROUNDS = 3
GEMS = ("Рубин", "Сапфир", "Изумруд", "Opal")


def deals_file(*, blanks: bool) -> bytes:
    lines = ["customer,item,total,quantity,date\r\n"]
    for i in range(LINES):
        customer, item = f"user{i % 50}", GEMS[i % len(GEMS)]
        if blanks:
            customer, item = f" {customer} ", f"{item}\t"
        lines.append(f"{customer},{item},{i % 997}.5,{1 + i % 9},2018-12-14 08:29:52.506166\r\n")
    return "".join(lines).encode()


def check_seconds(data: bytes) -> float:
    from deals.ingest.stream import ValidatedCsv

    start = time.process_time()
    stream = ValidatedCsv(io.BytesIO(data))
    while stream.read(64 * 1024):
        pass
    return time.process_time() - start


def main() -> None:
    sys.path.insert(0, str(ROOT))
    files = {"clean": deals_file(blanks=False), "blanks": deals_file(blanks=True)}
    best = dict.fromkeys(files, float("inf"))
    for _ in range(ROUNDS):
        for name, data in files.items():
            best[name] = min(best[name], check_seconds(data))
    print(
        json.dumps(
            {
                "lines": LINES,
                "cpu_seconds": {name: round(seconds, 2) for name, seconds in best.items()},
                "blanks_over_clean": round(best["blanks"] / best["clean"], 1),
            }
        )
    )


if __name__ == "__main__":
    main()
