"""The mutation score of a mutmut run: killed / (all - equivalent).

    python scripts/mutation_score.py RESULTS EQUIVALENT

RESULTS is the output of `mutmut results --all true` ("    <mutant>: <status>" lines);
EQUIVALENT lists the survivors judged equivalent, one "<mutant>  <why>" a line (# comments).
A mutant whose tests hang (timeout) was noticed: it counts as killed. One not reached by any
selected test ("no tests") counts as survived. Exits 1 below MIN_SCORE, or when a listed
equivalent mutant was killed (the list is stale: the code moved, and so did the numbering).
"""

import re
import sys
from collections import Counter
from pathlib import Path

MIN_SCORE = 0.90
DETECTED = {"killed", "timeout"}
LINE = re.compile(r"^\s+(\S+): (.+)$")


def statuses(results: Path) -> dict[str, str]:
    found = {}
    for line in results.read_text(encoding="utf-8").splitlines():
        match = LINE.match(line)
        if match:
            found[match[1]] = match[2].strip()
    return found


def equivalents(listing: Path) -> dict[str, str]:
    found = {}
    for line in listing.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            name, _, why = line.partition(" ")
            found[name] = why.strip()
    return found


def main(results: Path, listing: Path) -> int:
    by_mutant = statuses(results)
    equivalent = equivalents(listing)
    counts = Counter(by_mutant.values())
    stale = sorted(name for name in equivalent if by_mutant.get(name) in DETECTED)
    judged = {name for name in equivalent if name in by_mutant and name not in stale}
    detected = sum(1 for status in by_mutant.values() if status in DETECTED)
    undetected = sorted(
        name for name, status in by_mutant.items() if status not in DETECTED and name not in judged
    )
    scored = len(by_mutant) - len(judged)
    score = detected / scored if scored else 0.0
    print(f"mutants: {len(by_mutant)} ({', '.join(f'{n} {s}' for s, n in counts.most_common())})")
    print(f"equivalent (scripts/mutation-equivalent.txt): {len(judged)}")
    for name in undetected:
        print(f"  not killed: {name} ({by_mutant[name]})  -> .venv/bin/mutmut show {name}")
    for name in stale:
        print(f"  listed as equivalent but killed (stale entry): {name}")
    print(f"score: {detected}/{scored} = {score:.1%} of the non-equivalent mutants killed")
    return 0 if score >= MIN_SCORE and not stale else 1


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1]), Path(sys.argv[2])))
