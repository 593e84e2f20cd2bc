#!/usr/bin/env python3
"""Import cycles between the FILES of src/ (the file-level companion of import_cycles.py).

Every path a file names is resolved to the file that defines its module: `crate::a::b::C` goes
to the deepest existing file among src/a/b.rs, src/a/b/mod.rs, src/a.rs, src/a/mod.rs (src/lib.rs
for the crate root); `super::`, `self::`, a child module's name (`child::Item`) and a module
brought in by `use` (`use crate::a::b; b::C`) are resolved from the module the path is written
in (src/a/b.rs is module a::b, its `super` is a; a mod.rs file is its directory's module; inline
`mod x { … }` blocks nest). Brace groups (nested too), `as` renames, `self` in a group and globs
are expanded, in `use`, `pub use`, `pub(crate) use` and in paths written in code. File A -> file
B is an edge when A names an item of B (the item names are printed); `mod x;` is not an edge,
`pub use child::Item` in a mod.rs is (mod.rs -> child file). A path to a module only
(`use crate::a::b;`) is no edge by itself: the paths through it are.

Comments and string/char literals are stripped first. Test code may use anything, so it is
skipped: every `#[cfg(test)]` item (`mod tests { … }`, a test helper fn, `mod tests;` and the
file it declares), files under a tests/ directory inside src, and files named tests.rs.

Prints each strongly connected component of two files or more with the edges inside it, and the
smallest sets of at most three of those edges whose removal leaves the component acyclic,
cheapest first: an item defined in the target file costs 1 (it has to move), an item the target
only imports costs 0.1 (`X (=c.rs)`: import it from c.rs instead). Exit status 1 if there is
any such component.

    python3 .ci/file_cycles.py                  # every edge
    python3 .ci/file_cycles.py --no-reexports   # without an ancestor's `pub use` of a descendant
    python3 .ci/file_cycles.py --edges          # also list every edge
"""
from __future__ import annotations

import itertools
import math
import pathlib
import re
import sys

SRC = pathlib.Path(__file__).resolve().parent.parent / "src"
IDENT = r"[A-Za-z_][A-Za-z0-9_]*"
MAX_CUT = 3  # largest cut set searched for
RAW = re.compile(r'b?r(#*)"')
CHAR = re.compile(r"'(?:\\(?:u\{[0-9a-fA-F]*\}|x[0-9a-fA-F]{2}|.)|[^\\'\n])'")
ATTRS = r"\s*(?:#\s*\[[^\]]*\]\s*)*"  # outer attributes
VIS = r"(?:pub\s*(?:\([^)]*\))?\s*)?"  # pub, pub(crate), pub(super), pub(in …)


def strip(text: str) -> str:
    """Comments, string, byte-string, raw-string and char literals blanked (newlines kept)."""
    out = []
    i, n = 0, len(text)

    def blank(s: str) -> str:
        return re.sub(r"[^\n]", " ", s)

    while i < n:
        c = text[i]
        if text.startswith("//", i):
            j = text.find("\n", i)
            j = n if j < 0 else j
            out.append(blank(text[i:j]))
            i = j
        elif text.startswith("/*", i):
            depth, j = 1, i + 2
            while j < n and depth:
                if text.startswith("/*", j):
                    depth, j = depth + 1, j + 2
                elif text.startswith("*/", j):
                    depth, j = depth - 1, j + 2
                else:
                    j += 1
            out.append(blank(text[i:j]))
            i = j
        elif (m := RAW.match(text, i)) and (i == 0 or not re.match(r"\w", text[i - 1])):
            close = '"' + m.group(1)
            j = text.find(close, m.end())
            j = n if j < 0 else j + len(close)
            out.append(blank(text[i:j]))
            i = j
        elif c == '"' or (text.startswith('b"', i) and not re.match(r"\w", text[i - 1 : i] or " ")):
            j = i + (2 if c == "b" else 1)
            while j < n and text[j] != '"':
                j += 2 if text[j] == "\\" else 1
            out.append(blank(text[i : j + 1]))
            i = j + 1
        elif c == "'":
            # A char literal ('x', '\n', '\u{1F600}', b'x' via the 'b' above it); else a lifetime.
            m = CHAR.match(text, i)
            if m:
                out.append(blank(m.group(0)))
                i = m.end()
            else:
                out.append(c)
                i += 1
        else:
            out.append(c)
            i += 1
    return "".join(out)


def match_close(text: str, i: int) -> int:
    """Index just past the bracket that closes the one at text[i]."""
    pairs = {"{": "}", "(": ")", "[": "]"}
    stack = []
    for j in range(i, len(text)):
        if text[j] in pairs:
            stack.append(pairs[text[j]])
        elif stack and text[j] == stack[-1]:
            stack.pop()
            if not stack:
                return j + 1
    return len(text)


def item_end(text: str, i: int) -> int:
    """End of the item starting at i: its `;`, or its `{ … }` body unless it is a `use`."""
    is_use = re.match(ATTRS + VIS + r"use\b", text[i:])
    j = i
    while j < len(text):
        if text[j] in "([" or (text[j] == "{" and is_use):
            j = match_close(text, j)
            continue
        if text[j] == ";":
            return j + 1
        if text[j] == "{":
            return match_close(text, j)
        j += 1
    return j


def drop_test_items(text: str) -> tuple[str, set[str]]:
    """`#[cfg(test)]` items blanked; also returns the names of `#[cfg(test)] mod x;` files."""
    test_mods = set()
    while m := re.search(r"#\s*\[\s*cfg\s*\(\s*test\s*\)\s*\]", text):
        end = item_end(text, m.end())
        d = re.match(ATTRS + VIS + r"mod\s+(" + IDENT + r")\s*;", text[m.end() : end])
        if d:
            test_mods.add(d.group(1))
        text = text[: m.start()] + re.sub(r"[^\n]", " ", text[m.start() : end]) + text[end:]
    return text, test_mods


def module_path(f: pathlib.Path) -> tuple[str, ...]:
    rel = f.relative_to(SRC).with_suffix("")
    parts = rel.parts
    if parts in (("lib",), ("main",)):
        return ()
    return parts[:-1] if parts[-1] == "mod" else parts


class Crate:
    def __init__(self) -> None:
        self.files: dict[tuple[str, ...], pathlib.Path] = {}
        for f in sorted(SRC.rglob("*.rs")):
            if f.relative_to(SRC).parts == ("main.rs",):
                continue
            self.files[module_path(f)] = f

    def resolve(self, segs: list[str]):
        """(file, module path of that file, remaining segments) for an absolute path."""
        for k in range(len(segs), -1, -1):
            if tuple(segs[:k]) in self.files:
                return self.files[tuple(segs[:k])], tuple(segs[:k]), segs[k:]
        return None


def parse_use_tree(s: str) -> list[tuple[list[str], str | None, bool]]:
    """`a::{b::C, d::{self, E as F}, g::*}` -> [(segments, alias, is_glob), …]; d::{self} is d."""
    toks = re.findall(IDENT + r"|[{},*]", s)
    pos = 0
    out = []

    def tree(prefix: list[str]) -> None:
        nonlocal pos
        segs = list(prefix)
        alias = None
        while pos < len(toks) and toks[pos] not in (",", "}"):
            t = toks[pos]
            pos += 1
            if t == "{":
                while pos < len(toks) and toks[pos] != "}":
                    if toks[pos] == ",":
                        pos += 1
                    else:
                        tree(segs)
                pos += 1
                return
            if t == "*":
                out.append((segs, None, True))
                return
            if t == "as":
                alias = toks[pos] if pos < len(toks) else None
                pos += 1
            elif t == "self" and prefix and len(segs) == len(prefix):
                pass  # `{self, …}`: the group's own module
            else:
                segs = segs + [t]
        if segs:
            out.append((segs, alias, False))

    tree([])
    return out


def use_end(text: str, i: int) -> int:
    """Index just past the `;` that ends the `use` tree starting at i."""
    j = i
    while j < len(text) and text[j] != ";":
        j = match_close(text, j) if text[j] == "{" else j + 1
    return j + 1


def analyse(crate: Crate, f: pathlib.Path, text: str) -> list[tuple]:
    """[(target file, item, from a `pub use`, name it has here if a `use`)] for one file."""
    mod = module_path(f)
    # Inline `mod x { … }` blocks: (start, end, name), to know which module a path is in.
    inline = sorted(
        (m.end() - 1, match_close(text, m.end() - 1), m.group(1))
        for m in re.finditer(r"\bmod\s+(" + IDENT + r")\s*\{", text)
    )

    def module_at(i: int) -> tuple[str, ...]:
        return mod + tuple(name for s, e, name in inline if s <= i < e)

    uses = []  # (start, end, is_pub, [(segs, alias, glob)])
    for m in re.finditer(r"(\bpub\s*(?:\([^)]*\))?\s*)?\buse\s+", text):
        end = use_end(text, m.end())
        uses.append((m.start(), end, bool(m.group(1)), parse_use_tree(text[m.end() : end - 1])))

    aliases: dict[tuple[str, ...], dict[str, tuple[str, ...]]] = {}  # per module: name -> module
    globs: dict[tuple[str, ...], list[tuple[str, ...]]] = {}  # per module: `use <module>::*`

    def absolute(segs: list[str], at: tuple[str, ...]) -> list[str] | None:
        """Absolute segments of a path written in module `at`; None for extern / local paths."""
        head, rest = segs[0], segs[1:]
        if head in ("crate", "$crate"):
            return rest
        if head == "self":
            return list(at) + rest
        if head == "super":
            base = list(at)
            while segs and segs[0] == "super":
                base, segs = base[:-1], segs[1:]
            return base + segs
        # A name in scope in `at`: a child module, a module brought in by `use`, or a child of a
        # module glob-imported (`use super::*;` brings the siblings).
        if at + (head,) in crate.files or any(module_at(s) == at + (head,) for s, _, _ in inline):
            return list(at) + segs
        if head in aliases.get(at, {}):
            return list(aliases[at][head]) + rest
        for g in globs.get(at, []):
            if g + (head,) in crate.files:
                return list(g) + segs
        return None

    found = []

    def edge(abs_segs: list[str], is_pub: bool, glob: bool = False, name: str | None = None):
        r = crate.resolve(abs_segs)
        if not r:
            return
        target, _, rest = r
        if target == f:
            return
        if rest:
            found.append((target, rest[0], is_pub, name))
        elif glob:
            found.append((target, "*", is_pub, None))
        elif is_pub:
            found.append((target, f"{abs_segs[-1]} (module)", True, None))
        # else: a module imported by name; the paths written through it are the edges.

    # Module aliases and globs first (the order of `use` in a module does not matter).
    for start, _, _, items in uses:
        at = module_at(start)
        for segs, alias, glob in items:
            a = absolute(segs, at)
            if a is None or tuple(a) not in crate.files:
                continue
            if glob:
                globs.setdefault(at, []).append(tuple(a))
            elif (alias or segs[-1]) not in ("self", "super", "crate"):
                aliases.setdefault(at, {})[alias or segs[-1]] = tuple(a)
    for start, _, is_pub, items in uses:
        at = module_at(start)
        for segs, alias, glob in items:
            if (a := absolute(segs, at)) is not None:
                edge(a, is_pub, glob, alias or segs[-1])
    # Paths written in code: `use` trees and `pub(in crate::a)` (a visibility) blanked first.
    code = list(text)
    for start, end, _, _ in uses:
        code[start:end] = " " * (end - start)
    code = re.sub(r"\bpub\s*\(\s*in\b[^)]*\)", lambda m: " " * len(m.group(0)), "".join(code))
    path_re = re.compile(r"(?<![\w:$])(\$?" + IDENT + r")((?:\s*::\s*" + IDENT + r")+)")
    for m in path_re.finditer(code):
        segs = [m.group(1)] + re.findall(IDENT, m.group(2))
        if (a := absolute(segs, module_at(m.start()))) is not None:
            edge(a, False)
    return found


def scc(nodes, edges):
    """Tarjan's strongly connected components."""
    index, low, on, stack, out = {}, {}, set(), [], []
    counter = itertools.count()

    def visit(v):
        index[v] = low[v] = next(counter)
        stack.append(v)
        on.add(v)
        for w in sorted(edges.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            out.append(sorted(comp))

    sys.setrecursionlimit(10000)
    for v in sorted(nodes):
        if v not in index:
            visit(v)
    return out


def acyclic(nodes, arcs) -> bool:
    indeg = {n: 0 for n in nodes}
    succ = {n: [] for n in nodes}
    for a, b in arcs:
        succ[a].append(b)
        indeg[b] += 1
    ready = [n for n in nodes if not indeg[n]]
    seen = 0
    while ready:
        n = ready.pop()
        seen += 1
        for b in succ[n]:
            indeg[b] -= 1
            if not indeg[b]:
                ready.append(b)
    return seen == len(nodes)


def cuts(comp, arcs, weight):
    """Smallest sets (≤ MAX_CUT arcs) whose removal makes comp acyclic, cheapest first."""
    arcs = sorted(arcs, key=lambda e: (weight[e], e))
    for k in range(1, MAX_CUT + 1):
        if math.comb(len(arcs), k) * len(arcs) > 3_000_000:  # too many to try; say so
            return None
        found = [c for c in itertools.combinations(arcs, k) if acyclic(comp, set(arcs) - set(c))]
        if found:
            return sorted(found, key=lambda c: (sum(weight[e] for e in c), c))
    return []


def main() -> int:
    no_reexports = "--no-reexports" in sys.argv
    crate = Crate()
    texts = {}
    test_only: set[tuple[str, ...]] = set()  # modules declared by `#[cfg(test)] mod x;`
    for m, f in crate.files.items():
        texts[f], test_mods = drop_test_items(strip(f.read_text()))
        test_only |= {m + (t,) for t in test_mods}
    edges: dict[pathlib.Path, dict[pathlib.Path, set[str]]] = {}
    imported: dict[pathlib.Path, dict[str, pathlib.Path]] = {}  # file -> `use`d name -> its file
    for m, f in crate.files.items():
        # `#[cfg(test)] mod tests` may use anything: skip files under tests/ dirs, tests.rs and
        # the files of `#[cfg(test)] mod x;` (with what is under them).
        if "tests" in f.relative_to(SRC).parts[:-1] or f.name == "tests.rs":
            continue
        if any(m[: len(t)] == t for t in test_only):
            continue
        for target, item, is_pub, name in analyse(crate, f, texts[f]):
            if name:
                imported.setdefault(f, {})[name] = target
            if no_reexports and is_pub and module_path(target)[: len(m)] == m:
                continue  # an ancestor's `pub use` of a descendant's item
            edges.setdefault(f, {}).setdefault(target, set()).add(item)

    def short(p: pathlib.Path) -> str:
        return str(p.relative_to(SRC))

    def items(a: pathlib.Path, b: pathlib.Path) -> str:
        # `X (=c.rs)`: b only imports (or re-exports) X from c.rs; importing it from there
        # instead drops the item from the edge.
        via = imported.get(b, {})
        return ", ".join(i + (f" (={short(via[i])})" if i in via and via[i] != a else "")
                         for i in sorted(edges[a][b]))

    if "--edges" in sys.argv:
        for a in sorted(edges):
            for b in sorted(edges[a]):
                print(f"{short(a)} -> {short(b)}: {items(a, b)}")
    nodes = set(edges) | {b for a in edges for b in edges[a]}
    comps = sorted((c for c in scc(nodes, edges) if len(c) > 1), key=lambda c: (-len(c), c))
    for i, comp in enumerate(comps, 1):
        members = set(comp)
        arcs = [(a, b) for a in comp for b in sorted(edges.get(a, {})) if b in members]
        print(f"SCC {i}: {len(comp)} files, {len(arcs)} edges: {', '.join(short(f) for f in comp)}")
        for a, b in arcs:
            print(f"  {short(a)} -> {short(b)}: {items(a, b)}")
        # Cost of cutting an edge: 1 per item defined in the target (to move), 0.1 per item the
        # target only imports (to import from elsewhere).
        weight = {}
        for a, b in arcs:
            via = imported.get(b, {})
            weight[(a, b)] = round(sum(0.1 if via.get(i, a) != a else 1 for i in edges[a][b]), 1)
        found = cuts(comp, arcs, weight)
        if found is None:
            print(f"  cut: not searched ({len(arcs)} edges)")
        elif not found:
            print(f"  cut: none of {MAX_CUT} edges or fewer")
        for c in (found or [])[:3]:
            arcs_text = (f"{short(a)} -> {short(b)} ({weight[(a, b)]:g})" for a, b in c)
            print("  cut: " + "; ".join(arcs_text))
    mode = " (ancestor re-exports of descendants not counted)" if no_reexports else ""
    print(f"{len(comps)} file cycle(s): strongly connected components of 2+ files{mode}")
    return 1 if comps else 0


if __name__ == "__main__":
    sys.exit(main())
