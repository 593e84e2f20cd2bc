#!/usr/bin/env python3
"""Import cycles between the top-level modules of src/ (issue #25), from `crate::` paths.

Each file is mapped to its top-level module (src/consumer/fetch/mod.rs -> consumer); every
`crate::<module>` it names (in `use` lines and in paths) is an edge. Prints the edges, then any
cycle among the shared leaf modules (error, types, config, retry, metrics) and the layers above
them. Exit status 1 if a leaf imports a module above it, or if there is a cycle.

    python3 .ci/import_cycles.py
"""
import pathlib
import re
import sys

SRC = pathlib.Path(__file__).resolve().parent.parent / "src"
# What each shared leaf may import (besides itself).
LEAVES = {
    "error": set(),
    "types": {"error"},
    "retry": {"error"},
    "metrics": set(),
    "config": {"error", "types", "retry"},
}
KNOWN_EXCEPTIONS: set[tuple[str, str]] = set()


def module_of(path: pathlib.Path) -> str:
    rel = path.relative_to(SRC)
    return rel.parts[0].removesuffix(".rs") if len(rel.parts) == 1 else rel.parts[0]


def main() -> int:
    edges: dict[str, set[str]] = {}
    for f in SRC.rglob("*.rs"):
        m = module_of(f)
        if m == "lib":
            continue
        text = f.read_text()
        # Unit tests (`#[cfg(test)] mod …`, at the end of a file by convention) may use anything.
        text = re.split(r"#\[cfg\(test\)\]\s*mod ", text)[0]
        text = re.sub(r"//.*", "", text)
        # `#[cfg(test)] mod tests` blocks may use anything: skip files under tests/ dirs.
        if "tests" in f.relative_to(SRC).parts[1:-1] or f.name == "tests.rs":
            continue
        targets = set(re.findall(r"crate::([a-z_]+)", text))
        for group in re.findall(r"crate::\{([^}]*)\}", text):
            targets |= set(re.findall(r"\b([a-z_]+)::", group))
            targets |= {t.strip() for t in group.split(",") if re.fullmatch(r"\s*[a-z_]+\s*", t)}
        targets = {t for t in targets if (SRC / t).is_dir() or (SRC / f"{t}.rs").exists()}
        edges.setdefault(m, set()).update(t for t in targets if t != m)
    bad = 0
    for leaf, allowed in LEAVES.items():
        for t in sorted(edges.get(leaf, set()) - allowed):
            if (leaf, t) in KNOWN_EXCEPTIONS:
                print(f"known: {leaf} -> {t}")
                continue
            print(f"LEAF VIOLATION: {leaf} -> {t}")
            bad += 1
    # Cycles between modules (DFS).
    cycles = []
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(n: str) -> None:
        state[n] = 1
        stack.append(n)
        for t in sorted(edges.get(n, ())):
            if state.get(t) == 1:
                cycles.append(stack[stack.index(t):] + [t])
            elif t not in state:
                visit(t)
        stack.pop()
        state[n] = 2

    for n in sorted(edges):
        if n not in state:
            visit(n)
    for c in cycles:
        if len(c) == 3 and (c[0], c[1]) in KNOWN_EXCEPTIONS | {(b, a) for a, b in KNOWN_EXCEPTIONS}:
            print("known cycle: " + " -> ".join(c))
            continue
        print("CYCLE: " + " -> ".join(c))
        bad += 1
    for n in sorted(edges):
        print(f"{n} -> {', '.join(sorted(edges[n])) or '-'}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
