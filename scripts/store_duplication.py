#!/usr/bin/env python3
"""Count the lines the two store crates share (issue 10's duplication measure).

A line of one store's `src` counts when it stands in a run of six or more
consecutive lines that also stand, in the same order, in the other store's
`src`. Lines are compared after trimming white space; blank lines, comments,
`use` lines and lines of punctuation alone are skipped, as `duplicates` does.

    python3 scripts/store_duplication.py [REV]   # default: the working tree
    python3 scripts/store_duplication.py --show [REV]   # also print each run
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


def significant_numbered(text):
    """The significant lines of `text`, each with its line number (from 1)."""
    lines = []
    for number, raw in enumerate(text.splitlines(), 1):
        line = " ".join(raw.split())
        if not line or line.startswith("//") or line.startswith("use ") or line.startswith("pub use "):
            continue
        if re.fullmatch(r"[\s(){}\[\];,.]*", line):
            continue
        lines.append((number, line))
    return lines


def significant(text):
    return [line for _, line in significant_numbered(text)]


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


def show_runs(ours, theirs):
    """Print each run of `ours` (path -> text) that stands in `theirs`."""
    grams = {}
    for path, text in theirs.items():
        body = significant_numbered(text)
        for i in range(len(body) - MIN_RUN + 1):
            key = tuple(line for _, line in body[i : i + MIN_RUN])
            grams.setdefault(key, (path, body[i][0]))
    for path, text in ours.items():
        body = significant_numbered(text)
        marked = [None] * len(body)
        for i in range(len(body) - MIN_RUN + 1):
            found = grams.get(tuple(line for _, line in body[i : i + MIN_RUN]))
            if found:
                for j in range(i, i + MIN_RUN):
                    marked[j] = marked[j] or found
        i = 0
        while i < len(body):
            if not marked[i]:
                i += 1
                continue
            start = i
            while i < len(body) and marked[i]:
                i += 1
            other, other_line = marked[start]
            print(f"{path}:{body[start][0]}-{body[i - 1][0]} ({i - start} lines) ~ {other}:{other_line}")
            for _, line in body[start:i]:
                print(f"    {line}")


def main():
    args = sys.argv[1:]
    show = "--show" in args
    args = [a for a in args if a != "--show"]
    rev = args[0] if args else None
    texts = [files(rev, root) for root in STORES]
    sqlite, postgres = ([significant(t) for t in group.values()] for group in texts)
    if show:
        show_runs(*texts)
    lines, runs = shared_lines(sqlite, postgres)
    print(f"{rev or 'working tree'}: {lines} lines of imi-store-sqlite in {runs} runs stand in imi-store-postgres")


if __name__ == "__main__":
    main()
