"""The layers of chatbox/ point one way (docs/architecture.md): no import circle, counting the imports
made only for type checking, and the per-app services typed against interfaces, not transport classes."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "chatbox"


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_graph(package: Path = PACKAGE) -> dict[str, set[str]]:
    """Each module of the package -> the package's modules it imports (any import, anywhere in it)."""
    files = {_module_name(path): path for path in package.rglob("*.py")}

    def owner(name: str) -> str | None:
        while name and name not in files:
            name = name.rpartition(".")[0]
        return name or None

    graph: dict[str, set[str]] = {module: set() for module in files}
    for module, path in files.items():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                targets = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
            else:
                continue
            for target in targets:
                found = owner(target) if target.split(".")[0] == package.name else None
                # A package's __init__ importing its own submodules, or a module importing its package, is no edge.
                nested = module.startswith(found + ".") or found.startswith(module + ".") if found else True
                if found and found != module and not nested:
                    graph[module].add(found)
    return graph


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected groups of more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph[node]):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_the_circle_finder_finds_a_circle() -> None:
    assert circles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert circles({"a": {"b"}, "b": set()}) == []


def test_chatbox_has_no_import_circle() -> None:
    graph = import_graph()
    assert graph.get("chatbox.messages.actions.send")
    assert circles(graph) == []


def test_the_runtime_knows_interfaces_not_the_transport() -> None:
    assert not {m for m in import_graph()["chatbox.runtime"] if m.startswith("chatbox.realtime")}


# One file name per role across areas (docs/architecture.md, "File roles").
AREAS = ("admin", "auth", "chats", "files", "messages", "push", "sync", "users")
DECIDING_OR_PAYLOAD_ROLES = ("rules", "presenting", "events")


def _role(module: str) -> str:
    """The role a module plays by its name: `chatbox.messages.actions.send` plays `actions`."""
    parts = module.split(".")
    return next((p for p in parts[2:] if p in {"actions", "queries", *DECIDING_OR_PAYLOAD_ROLES}), parts[-1])


def test_no_module_is_named_service() -> None:
    # "service" meant actions in one area and rules or reads in another: each file now says its role.
    assert sorted(str(p.relative_to(PACKAGE)) for p in PACKAGE.rglob("service.py")) == []


def test_the_areas_import_nothing_from_the_transport() -> None:
    graph = import_graph()
    assert graph["chatbox.messages.actions.send"]  # the graph sees the areas' modules
    offenders = {
        module: sorted(t for t in targets if t.startswith("chatbox.realtime"))
        for module, targets in graph.items()
        if module.split(".")[1:2] and module.split(".")[1] in AREAS
    }
    assert {m: t for m, t in offenders.items() if t} == {}


def test_the_transport_decides_no_rule_and_builds_no_payload() -> None:
    """realtime/ calls actions and reads; the rules, the presenting and the events stay in the areas."""
    graph = import_graph()
    offenders = {
        module: sorted(t for t in targets if _role(t) in DECIDING_OR_PAYLOAD_ROLES)
        for module, targets in graph.items()
        if module.startswith("chatbox.realtime.")
    }
    assert {m: t for m, t in offenders.items() if t} == {}
    assert not [m for m in graph if m.startswith("chatbox.realtime.") and _role(m) in DECIDING_OR_PAYLOAD_ROLES]


def test_the_role_checks_can_fail() -> None:
    assert _role("chatbox.users.rules") == "rules" and _role("chatbox.messages.actions.send") == "actions"
    assert _role("chatbox.realtime.namespace") == "namespace"
