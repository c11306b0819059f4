"""The product's import graph: no cycles, and no layer reaching up; and Lua only in bot/stores.

The layering is integrations < dialogs < bot: integrations (the platform and WeChat clients, the
simulators) import neither dialogs nor bot, and dialogs never import bot. None of them imports
the benchmark (bench/) or the tests. A cycle among modules (one importing another that, directly
or further along, imports it back) is a sign that something lives in the wrong room, so there are
none, counting imports made inside functions too (a late import only hides a cycle).

The graph is read from the source with the stdlib's ast, without importing anything: an edge for
every `import x.y` / `from x.y import z` (z counting when it is itself a module), except those
under `if TYPE_CHECKING:`, which never run.
"""

from __future__ import annotations

import ast
from pathlib import Path

from tests.support import ROOT

PACKAGES = ("integrations", "dialogs", "bot")  # lowest layer first
FORBIDDEN = ("bench", "tests")  # the product never imports these


def _modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _imported(module: str, path: Path) -> set[str]:
    """Every name `module` imports, wherever in the file: `import a.b` gives a.b, `from a import b`
    gives a.b (a module, or a name in module a), relative imports resolved."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    names: set[str] = set()

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[:len(anchor) - (node.level - 1)]
                base = ".".join(anchor + ([base] if base else []))
            names.update(f"{base}.{alias.name}" for alias in node.names)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return names


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    graph: dict[str, set[str]] = {}
    for module, path in modules.items():
        edges = set()
        for name in _imported(module, path):
            # `from a.b import c`: the edge goes to a.b.c if that is a module, else to a.b.
            while name and name not in modules and name.split(".")[0] in PACKAGES:
                name = name.rpartition(".")[0]
            if name in modules and name != module:
                edges.add(name)
        graph[module] = edges
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan, iteratively)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            for child in children:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    component = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.append(member)
                        if member == node:
                            break
                    if len(component) > 1:
                        found.append(sorted(component))
    return found


def _layer(module: str) -> int:
    return PACKAGES.index(module.split(".")[0])


def test_the_graph_is_read_from_every_module():
    graph = _graph()
    assert "bot.app" in graph and "dialogs.engine" in graph and "integrations.wechat.client" in graph
    # A known edge, so an empty graph cannot pass the tests below.
    assert "bot.web.appkeys" in graph["bot.app"]


def test_no_import_cycles():
    cycles = _cycles(_graph())
    assert not cycles, "modules that import each other (directly or round a loop): " + "; ".join(
        " <-> ".join(c) for c in cycles)


def test_no_layer_imports_a_higher_one():
    graph = _graph()
    upward = sorted(f"{module} imports {target}" for module, targets in graph.items() for target in targets
                    if _layer(target) > _layer(module))
    assert not upward, "integrations < dialogs < bot, but: " + "; ".join(upward)


def test_the_product_imports_neither_bench_nor_tests():
    reached = sorted(f"{module} imports {name}" for module, path in _modules().items() for name in _imported(module, path)
                     if name.split(".")[0] in FORBIDDEN)
    assert not reached, "; ".join(reached)


def test_lua_lives_only_in_bot_stores():
    """Every Redis script is in the store room (bot/stores/scripts: one module per feature), so
    the Redis side of the product can be read, and replaced, in one place."""
    outside = sorted(str(path.relative_to(ROOT)) for path in _modules().values()
                     if path.relative_to(ROOT).parts[:2] != ("bot", "stores") and "redis.call(" in path.read_text(encoding="utf-8"))
    assert not outside, "Lua outside bot/stores: " + ", ".join(outside)


def test_the_checker_sees_a_cycle_and_an_upward_import():
    """The checks themselves: a loop of three and a dialog importing bot are caught."""
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []
    assert _layer("bot.app") > _layer("dialogs.menu") > _layer("integrations.wechat")
