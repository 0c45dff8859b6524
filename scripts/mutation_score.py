"""The mutation score of the last `make mutate`, per module (docs/testing.md records it).

Reads `mutmut results --all true` (one `module.function__mutmut_N: status` line per mutant)
and prints a Markdown table: mutants, killed, survived, others (timeouts, suspicious,
no tests) and the score, killed over all mutants. The survivors follow, to read with
`mutmut show NAME`.
"""

from __future__ import annotations

import subprocess
import sys
from collections import Counter, defaultdict


def main() -> int:
    out = subprocess.run(
        [sys.executable, "-m", "mutmut", "results", "--all", "true"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    by_module: dict[str, Counter[str]] = defaultdict(Counter)
    survivors: list[str] = []
    for line in out.splitlines():
        name, sep, status = line.strip().rpartition(": ")
        if not sep or "__mutmut_" not in name:
            continue
        module = name.rsplit(".", 1)[0]
        by_module[module][status] += 1
        if status == "survived":
            survivors.append(name)
    if not by_module:
        print("no mutation results: run `make mutate` first", file=sys.stderr)
        return 1
    print("| module | mutants | killed | survived | other | score |")
    print("|---|---:|---:|---:|---:|---:|")
    total: Counter[str] = Counter()
    for module, counts in sorted(by_module.items()):
        total.update(counts)
        print(_row(module, counts))
    print(_row("**all**", total))
    print(f"\n{len(survivors)} survived:")
    for name in survivors:
        print(f"  {name}")
    return 0


def _row(label: str, counts: Counter[str]) -> str:
    n = sum(counts.values())
    killed, survived = counts["killed"], counts["survived"]
    score = f"{100 * killed / n:.0f} %" if n else "-"
    return f"| {label} | {n} | {killed} | {survived} | {n - killed - survived} | {score} |"


if __name__ == "__main__":
    raise SystemExit(main())
