"""The mutation score of a mutmut run: killed / (all - equivalent).

    python scripts/mutation_score.py RESULTS EQUIVALENT

RESULTS is the output of `mutmut results --all true` ("    <mutant>: <status>" lines).
EQUIVALENT lists the survivors judged equivalent, one "<function> <edit>  <why>" a line
(# comments): the function is the mutant's name without its number, the edit a fingerprint of
the lines the mutant removes and adds. mutmut numbers a function's mutants in order, so any
change above a mutant renumbers it; the fingerprint follows the edit itself, and this script
prints it for every survivor, ready to be judged and copied.

A mutant whose tests hang (timeout) was noticed: it counts as killed. One not reached by any
selected test ("no tests") counts as survived. Exits 1 below MIN_SCORE. Entries that match no
survivor (the code moved, or a test now kills it) are listed, to be removed.
"""

import hashlib
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

MIN_SCORE = 0.90
DETECTED = {"killed", "timeout"}
LINE = re.compile(r"^\s+(\S+): (.+)$")
NUMBER = re.compile(r"__mutmut_\d+$")
MUTMUT = Path(sys.executable).with_name("mutmut")


def statuses(results: Path) -> dict[str, str]:
    found = {}
    for line in results.read_text(encoding="utf-8").splitlines():
        match = LINE.match(line)
        if match:
            found[match[1]] = match[2].strip()
    return found


def equivalents(listing: Path) -> dict[tuple[str, str], str]:
    """(function, edit) -> why, from the listing."""
    found = {}
    for line in listing.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            function, edit, why = line.split(maxsplit=2)
            found[function, edit] = why
    return found


def edit_of(mutant: str) -> str:
    """A fingerprint of what the mutant changes: its removed and added lines, blanks ignored."""
    diff = subprocess.run(  # noqa: S603 - mutmut of this virtualenv, a name it gave
        [MUTMUT, "show", mutant], capture_output=True, text=True, check=True
    ).stdout
    changed = [
        line[0] + " ".join(line[1:].split())
        for line in diff.splitlines()
        if line[:1] in "-+" and not line.startswith(("---", "+++"))
    ]
    return hashlib.sha256("\n".join(changed).encode()).hexdigest()[:12]


def main(results: Path, listing: Path) -> int:
    by_mutant = statuses(results)
    listed = equivalents(listing)
    counts = Counter(by_mutant.values())
    survivors = {name for name, status in by_mutant.items() if status not in DETECTED}
    keys = {name: (NUMBER.sub("", name), edit_of(name)) for name in sorted(survivors)}
    judged = {name for name, key in keys.items() if key in listed}
    detected = len(by_mutant) - len(survivors)
    scored = len(by_mutant) - len(judged)
    score = detected / scored if scored else 0.0
    print(f"mutants: {len(by_mutant)} ({', '.join(f'{n} {s}' for s, n in counts.most_common())})")
    print(f"equivalent ({listing}): {len(judged)}")
    for name in sorted(survivors - judged):
        function, edit = keys[name]
        print(f"  not killed ({by_mutant[name]}): {name}  -> .venv/bin/mutmut show {name}")
        print(f"    if equivalent, list it as: {function} {edit}  <why>")
    for function, edit in sorted(set(listed) - set(keys.values())):
        print(f"  listed but not a survivor (remove it): {function} {edit}")
    print(f"score: {detected}/{scored} = {score:.1%} of the non-equivalent mutants killed")
    return 0 if score >= MIN_SCORE else 1


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1]), Path(sys.argv[2])))
