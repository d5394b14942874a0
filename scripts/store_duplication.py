#!/usr/bin/env python3
"""Count the lines the two store crates share (issue 10's duplication measure).

A line of one store's `src` counts when it stands in a run of six or more
consecutive lines that also stand, in the same order, in the other store's
`src`. Lines are compared after trimming white space; blank lines, comments,
`use` lines and lines of punctuation alone are skipped, as `duplicates` does.

    python3 scripts/store_duplication.py [REV]   # default: the working tree
"""
import re
import subprocess
import sys

MIN_RUN = 6
STORES = ("crates/imi-store-sqlite/src", "crates/imi-store-postgres/src")


def files(rev, root):
    if rev is None:
        out = subprocess.run(["git", "ls-files", root], capture_output=True, text=True, check=True).stdout
        return {p: open(p, encoding="utf-8").read() for p in out.split() if p.endswith(".rs")}
    out = subprocess.run(["git", "ls-tree", "-r", "--name-only", rev, root], capture_output=True, text=True, check=True).stdout
    return {
        p: subprocess.run(["git", "show", f"{rev}:{p}"], capture_output=True, text=True, check=True).stdout
        for p in out.split()
        if p.endswith(".rs")
    }


def significant(text):
    lines = []
    for raw in text.splitlines():
        line = " ".join(raw.split())
        if not line or line.startswith("//") or line.startswith("use ") or line.startswith("pub use "):
            continue
        if re.fullmatch(r"[\s(){}\[\];,.]*", line):
            continue
        lines.append(line)
    return lines


def shared_lines(ours, theirs):
    """Lines of `ours` inside a run of >= MIN_RUN lines found in `theirs`."""
    grams = set()
    for body in theirs:
        for i in range(len(body) - MIN_RUN + 1):
            grams.add(tuple(body[i : i + MIN_RUN]))
    total, runs = 0, 0
    for body in ours:
        marked = [False] * len(body)
        for i in range(len(body) - MIN_RUN + 1):
            if tuple(body[i : i + MIN_RUN]) in grams:
                for j in range(i, i + MIN_RUN):
                    marked[j] = True
        previous = False
        for m in marked:
            total += m
            runs += m and not previous
            previous = m
    return total, runs


def main():
    rev = sys.argv[1] if len(sys.argv) > 1 else None
    sqlite, postgres = (
        [significant(t) for t in files(rev, root).values()] for root in STORES
    )
    lines, runs = shared_lines(sqlite, postgres)
    print(f"{rev or 'working tree'}: {lines} lines of imi-store-sqlite in {runs} runs stand in imi-store-postgres")


if __name__ == "__main__":
    main()
