"""The import graph of ``src/codexkit``: layers that only look down, and no cycle.

Every module belongs to one layer. A module may import modules of its own layer and of
the layers below; never one above. Imports made only for type checking count for the
layers too (they still say which layer knows which), as do imports inside functions; the
cycle check leaves them out, as import-linter's ``exclude_type_checking_imports`` does,
since they never run. The package's own ``__init__`` is the public facade over every
layer and is left out.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"

# Lowest first. A name covers the module and everything under it.
LAYERS: list[tuple[str, tuple[str, ...]]] = [
    (
        "values",
        (
            "codexkit._version",
            "codexkit._defaults",
            "codexkit._json_schema",
            "codexkit.errors",
            "codexkit.types",
            "codexkit.events",
            "codexkit.protocol",
            "codexkit._telemetry",
        ),
    ),
    # The control plane's wire models: pydantic only, shared by the server and its client.
    ("contract", ("codexkit.contract",)),
    ("runtime and transport", ("codexkit._runtime", "codexkit.transport")),
    ("connection", ("codexkit._connection",)),
    (
        "agent control",
        (
            "codexkit._workers",
            "codexkit.approvals",
            "codexkit.options",
            "codexkit.mcp",
            "codexkit.tools",
            "codexkit._structured",
        ),
    ),
    ("client", ("codexkit._client",)),
    ("sync twin", ("codexkit._sync",)),
    # The control plane's client: the contract's models over HTTP, the sync twin's portal.
    ("manager", ("codexkit.manager",)),
    # `codexkit serve`: built on the client and the contract; the CLI starts it.
    ("server", ("codexkit.server",)),
    # Batches of tasks: built on the client; the CLI's `batch` command drives it.
    ("fleet", ("codexkit.fleet",)),
    ("apps", ("codexkit.exec", "codexkit.testing", "codexkit.cli", "codexkit.demo")),
]


def _module_of(path: Path) -> tuple[str, bool]:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    if parts[-1] == "__init__":
        return ".".join(parts[:-1]), True
    return ".".join(parts), False


def _type_checking_nodes(tree: ast.Module) -> set[int]:
    """The ids of the import nodes under an ``if TYPE_CHECKING:``."""
    found: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and ast.unparse(node.test).endswith("TYPE_CHECKING"):
            for inner in node.body:
                found.update(id(n) for n in ast.walk(inner))
    return found


def _imports(path: Path, module: str, is_package: bool, *, type_checking: bool = True) -> set[str]:
    found: set[str] = set()
    tree = ast.parse(path.read_text(), str(path))
    skipped = set() if type_checking else _type_checking_nodes(tree)
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = module.split(".") if is_package else module.split(".")[:-1]
                base = base[: len(base) - node.level + 1]
                target = ".".join([*base, node.module] if node.module else base)
            else:
                target = node.module or ""
            # `from package import submodule` imports the submodule.
            submodules = {f"{target}.{alias.name}" for alias in node.names} & _MODULES
            found.update(submodules or {target})
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return {name for name in found if name.startswith("codexkit")}


def _graph(*, type_checking: bool = True) -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    for path in sorted((SRC / "codexkit").rglob("*.py")):
        if "_generated" in path.parts:
            continue
        module, is_package = _module_of(path)
        imported = _imports(path, module, is_package, type_checking=type_checking)
        graph[module] = imported - {module}
    return graph


_MODULES = {
    _module_of(path)[0]
    for path in (SRC / "codexkit").rglob("*.py")
    if "_generated" not in path.parts
}


def _layer(module: str) -> int | None:
    for index, (_, prefixes) in enumerate(LAYERS):
        if any(module == p or module.startswith(p + ".") for p in prefixes):
            return index
    return None


def test_every_module_has_a_layer() -> None:
    loose = sorted(m for m in _graph() if m != "codexkit" and _layer(m) is None)
    assert loose == [], f"modules outside every layer (add them to LAYERS): {loose}"


def test_no_module_imports_a_layer_above_its_own() -> None:
    upward = []
    for module, targets in _graph().items():
        here = _layer(module)
        if here is None:
            continue
        for target in sorted(targets):
            there = _layer(target)
            if target == "codexkit" or (there is not None and there > here):
                upward.append(f"{module} ({LAYERS[here][0]}) -> {target}")
    assert upward == [], "imports that reach up a layer:\n" + "\n".join(upward)


def test_the_import_graph_has_no_cycle() -> None:
    graph = _graph(type_checking=False)
    cycles: list[list[str]] = []
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(module: str) -> None:
        state[module] = 1
        path.append(module)
        for target in sorted(graph.get(module, ())):
            if target not in graph or target == "codexkit":
                continue
            if state.get(target) == 1:
                cycles.append([*path[path.index(target) :], target])
            elif target not in state:
                visit(target)
        path.pop()
        state[module] = 2

    for module in sorted(graph):
        if module not in state:
            visit(module)
    assert cycles == [], "import cycles:\n" + "\n".join(" -> ".join(c) for c in cycles)


@pytest.mark.parametrize(
    "module",
    [
        "codexkit.errors",
        "codexkit.types",
        "codexkit.events",
        "codexkit.options",
        "codexkit.contract",
        "codexkit.fleet",
        "codexkit",
    ],
)
def test_value_modules_import_without_heavy_extras(module: str) -> None:
    """The shared value types import with no server, database or cluster package."""
    blocked = ("fastapi", "starlette", "sqlalchemy", "ray", "httpx", "websockets")
    code = (
        "import sys\n"
        "class Block:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        f"        if name.split('.')[0] in {blocked!r}:\n"
        "            raise ImportError(f'blocked: {name}')\n"
        "        return None\n"
        "sys.meta_path.insert(0, Block())\n"
        f"import {module}\n"
        "import codexkit\n"
        "codexkit.TurnResult, codexkit.CodexError\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
