"""The package's imports flow one way: no module imports, even lazily inside a function, one that imports it back.

A lazy ``from .. import cli`` inside a function hides a cycle from the interpreter but not from a reader;
this test parses every module's imports (top-level and nested) and fails on any cycle between modules, and on
any cycle between packages (the layer map of docs/design.md).
"""

from __future__ import annotations

import ast
from pathlib import Path

import networkx as nx

import probust

ROOT = Path(probust.__file__).parent


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _resolve(module: str, is_package: bool, node: ast.ImportFrom) -> str:
    """The absolute module named by a ``from ... import`` statement inside ``module``."""
    if node.level == 0:
        return node.module or ""
    base = module.split(".")
    if not is_package:
        base = base[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join([*base, *([node.module] if node.module else [])])


def import_graph() -> nx.DiGraph:
    modules = {_module_name(p): p for p in ROOT.rglob("*.py")}
    graph = nx.DiGraph()
    graph.add_nodes_from(modules)
    for name, path in modules.items():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                source = _resolve(name, path.name == "__init__.py", node)
                # ``from pkg import sub`` imports the module pkg.sub when there is one, else a name of pkg.
                targets = [f"{source}.{a.name}" if f"{source}.{a.name}" in modules else source for a in node.names]
            else:
                continue
            graph.add_edges_from((name, t) for t in targets if t in modules and t != name)
    return graph


def test_the_import_graph_is_found():
    graph = import_graph()
    assert graph.has_edge("probust.cli", "probust._commands")
    assert graph.has_edge("probust.campaign.commands", "probust._commands")


def test_no_import_cycles():
    cycles = list(nx.simple_cycles(import_graph()))
    assert not cycles, "import cycles: " + "; ".join(" -> ".join([*c, c[0]]) for c in cycles[:10])


def _node(module: str) -> str:
    """The package graph's node of a module: its subpackage (``probust.bench.store`` -> ``probust.bench``), or the
    top-level module itself (``probust.api``, ``probust.errors``, and ``probust``, the facade of ``__init__``).

    Top-level modules are nodes of their own, not one 'core' layer: they are not one layer. ``errors``, ``result``,
    ``intervals`` sit below every subpackage, ``api``, ``cli`` and ``_commands`` above ``estimators`` and the
    command modules; one 'core' node would merge both ends into cycles that are not there (``estimators`` ->
    ``errors``, ``api`` -> ``estimators``). A subpackage is one node whatever its modules: a package imported
    by another may not import it back through any of its modules.
    """
    parts = module.split(".")
    return ".".join(parts[:2]) if len(parts) > 2 or (ROOT / parts[-1]).is_dir() else module


def package_graph() -> nx.DiGraph:
    """Which packages import which; each edge keeps one module import that makes it (``via``)."""
    graph = nx.DiGraph()
    for source, target in import_graph().edges:
        if _node(source) != _node(target):
            graph.add_edge(_node(source), _node(target), via=f"{source} -> {target}")
    return graph


def test_the_package_graph_is_found():
    graph = package_graph()
    assert {"probust.bench", "probust.training", "probust.campaign", "probust.reliability", "probust.metrics",
            "probust.estimators", "probust.perturbations", "probust.bounds", "probust.zoo"} <= set(graph)
    assert graph.has_edge("probust.training", "probust.bench")  # the training bench extends PR-Bench ...
    assert graph.has_edge("probust.cli", "probust.training")  # ... whose command the CLI wires into `bench`


def test_no_package_cycles():
    """Packages are layered: no package imports one that imports it back, directly or through others. The facade
    ``probust/__init__`` imports the subpackages, so none of them imports it (``__version__`` is in ``_version``);
    ``bench`` does not import ``training``: ``training`` adds ``bench training`` through the CLI's hook."""
    graph = package_graph()
    cycles = list(nx.simple_cycles(graph))
    def via(cycle: list[str]) -> str:
        return ", ".join(graph.edges[a, b]["via"] for a, b in zip(cycle, [*cycle[1:], cycle[0]], strict=True))

    assert not cycles, f"{len(cycles)} package cycles: " + "; ".join(
        " -> ".join([*c, c[0]]) + f" ({via(c)})" for c in cycles[:10])


def _package(module: str) -> str:
    return module if (ROOT.parent / module.replace(".", "/")).is_dir() else module.rsplit(".", 1)[0]


def _private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__")


def test_no_subpackage_reaches_into_another_s_private_names():
    """A private name or module of a subpackage (``estimators._decompose``, ``campaign.report._png``) is used by
    that subpackage only; what others need is re-exported publicly (``probust.reporting`` holds what every report
    shares). The top-level plumbing modules (``probust._rng``, ``probust._commands``...) serve every subpackage."""
    modules = {_module_name(p): p for p in ROOT.rglob("*.py")}
    reached = []
    for name, path in modules.items():
        own = _package(name)
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.ImportFrom):
                continue
            source = _resolve(name, path.name == "__init__.py", node)
            owner = _package(source)
            if owner in (own, "probust"):
                continue
            if _private(source.rsplit(".", 1)[-1]) or any(_private(a.name) for a in node.names):
                reached.append(f"{name} imports {', '.join(a.name for a in node.names)} from {source}")
    assert not reached, "; ".join(reached)
