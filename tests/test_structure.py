"""The shape of the package, read from the source (an AST walk, no import): only the Dagster-definitions code
imports dagster, and no module imports itself back through others (no import cycle). Every import statement
counts, inside functions too (they run); a registry discovering its plugins by name (`importlib`: the check and
transformer registries) is not an edge, since the plugins import the registry and never the reverse."""

from __future__ import annotations

import ast
from pathlib import Path

from tests.conftest import ROOT

PACKAGES = {"prodlike.pipelines": ROOT / "pipelines", "prodlike.anonymizers": ROOT / "anonymizers",
            "prodlike.validators": ROOT / "validators"}
DAGSTER_ALLOWED = ("prodlike.pipelines.orchestration", "prodlike.pipelines.definitions")
# engine/copy_engine.py and engine/workers.py import each other (a batch goes to the workers, whose worker imports
# transform_batch back); the batch codec that ends it is branch `reliability`'s work


def modules() -> dict[str, Path]:
    """Every module of the three packages by its import name."""
    found = {}
    for package, folder in PACKAGES.items():
        for path in folder.rglob("*.py"):
            parts = list(path.relative_to(folder).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            found[".".join([package, *parts])] = path
    return found


def _under_type_checking(node: ast.AST, parents: dict) -> bool:
    while node in parents:
        node = parents[node]
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            return True
    return False


def imports(name: str, path: Path) -> set[str]:
    """The modules name imports anywhere in its body (function-level ones too: they run), resolved; imports under
    `if TYPE_CHECKING:` are not run and do not count."""
    tree = ast.parse(path.read_text())
    parents = {child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    out = set()
    for node in ast.walk(tree):
        if _under_type_checking(node, parents):
            continue
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(parent + ([base] if base else []))
            out |= {base} | {f"{base}.{a.name}" for a in node.names}
    return out


def graph() -> dict[str, set[str]]:
    known = modules()
    return {name: {m for m in imports(name, path) if m in known and m != name} for name, path in known.items()}


def cycles(edges: dict[str, set[str]]) -> list[set[str]]:
    """The strongly connected components with more than one module (Tarjan)."""
    index, low, stack, on, out, counter = {}, {}, [], set(), [], [0]

    def visit(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in edges[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = set()
            while True:
                w = stack.pop()
                on.discard(w)
                component.add(w)
                if w == v:
                    break
            if len(component) > 1:
                out.append(component)

    for v in edges:
        if v not in index:
            visit(v)
    return out


def test_only_the_dagster_definitions_import_dagster():
    offenders = sorted(name for name, path in modules().items()
                       if not name.startswith(DAGSTER_ALLOWED)
                       and any(m == "dagster" or m.startswith("dagster.") or m.startswith("dagster_")
                               for m in imports(name, path)))
    assert offenders == []


def test_no_import_cycle():
    """Not even the copy engine and its workers (workers imported transform_batch from copy_engine; it lives in
    engine/batch.py now)."""
    assert [sorted(c) for c in cycles(graph())] == []
