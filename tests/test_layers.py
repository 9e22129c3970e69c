"""The layering rules of docs/explanation/architecture.md, read from the code's own imports.

The folders `rag/`, `ingest/`, `adapters/`, `eval/` install and import as `adaptrag.rag`,
`adaptrag.ingest`, `adaptrag.adapters`, `adaptrag.eval`; here each is named by its folder.

- Every import of our code uses the full `adaptrag.` name: no bare `rag`, `ingest`,
  `adapters` or `eval` (they collide with PyPI's AdapterHub `adapters`, shadow `eval`).
- The application layer (`adaptrag` itself: its public surface, the CLI and the server) is
  imported by no other package.
- `rag` is the core: it imports none of `ingest`, `adapters`, `eval`, anywhere (the
  application layer installs the adapter runtime, `rag.answering.parts.use_adapters`).
  Inside it, its groups point one way: `infra` imports no other group; the stores import
  neither retrieval, answering nor the generators; retrieval neither answering nor the
  generators; the generators neither answering nor retrieval; answering may use them all.
- No module outside `rag` names `Parts` (a pipeline's parts are reached through it).
- `eval` (data sets, scores, intervals and the promotion rule) imports only `rag`;
  `ingest` and `adapters` import `rag` and `eval`, and never each other.
- The packages form no cycle.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("adaptrag", "rag", "ingest", "adapters", "eval")
PRODUCT = PACKAGES[1:]


def package_of(module: str) -> str:
    """The folder an imported module lives in: `adaptrag.rag.x` is `rag`, `adaptrag.cli` is
    `adaptrag`; anything else is its own top-level name."""
    parts = module.split(".")
    if parts[0] == "adaptrag" and len(parts) > 1 and parts[1] in PRODUCT:
        return parts[1]
    return parts[0]


def imports(path: Path) -> list[tuple[str, bool]]:
    """(top-level package, at module level?) for every import in a file."""
    tree = ast.parse(path.read_text(), filename=str(path))
    top_level = {id(node) for node in tree.body}
    found = []
    for node in ast.walk(tree):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        found += [(package_of(name), id(node) in top_level) for name in names]
    return found


def modules(package: str) -> list[Path]:
    # adaptrag/rag etc. are links to the folders (the installed layout): each file once.
    root = ROOT / package
    return sorted(
        path
        for path in root.rglob("*.py")
        if package != "adaptrag" or path.relative_to(root).parts[0] not in PRODUCT
    )


def test_the_product_folders_are_linked_into_the_namespace() -> None:
    for package in PRODUCT:
        link = ROOT / "adaptrag" / package
        assert link.is_symlink() and link.resolve() == (ROOT / package).resolve()


def _bare_imports(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            found.append("." * node.level + (node.module or ""))
    return [name for name in found if name.startswith(".") or name.split(".")[0] in PRODUCT]


def test_every_import_of_our_code_uses_the_adaptrag_name() -> None:
    folders = [*PACKAGES, "tests", "benchmarks", "examples"]
    files = [path for folder in folders for path in modules(folder)]
    offenders = [
        f"{path.relative_to(ROOT)}: {name}" for path in files for name in _bare_imports(path)
    ]
    assert offenders == []


@pytest.mark.parametrize("package", PACKAGES[1:])
def test_no_product_package_imports_the_application_layer(package: str) -> None:
    offenders = [
        str(path.relative_to(ROOT))
        for path in modules(package)
        if any(name == "adaptrag" for name, _ in imports(path))
    ]
    assert offenders == []


def test_the_core_imports_none_of_the_other_packages() -> None:
    offenders = [
        f"{path.relative_to(ROOT)} imports {name}"
        for path in modules("rag")
        for name, _ in imports(path)
        if name in ("ingest", "adapters", "eval")
    ]
    assert offenders == []


def test_no_module_outside_the_core_names_a_pipelines_parts() -> None:
    """`rag.answering.parts.Parts` is private to the core: other code reaches the retriever, the
    generators and the adapters through `Pipeline`'s public members."""
    folders = ["adaptrag", "ingest", "adapters", "eval", "tests", "benchmarks", "examples"]
    offenders = []
    for path in (p for folder in folders for p in modules(folder)):
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            named = (
                {a.name for a in node.names} - {"use_adapters"}
                if isinstance(node, ast.ImportFrom)
                and node.module == "adaptrag.rag.answering.parts"
                else {node.id} & {"Parts"}
                if isinstance(node, ast.Name)
                else {node.attr} & {"_parts"}
                if isinstance(node, ast.Attribute)
                else set()
            )
            line = getattr(node, "lineno", 0)
            offenders += [f"{path.relative_to(ROOT)}:{line} {name}" for name in named]
    assert offenders == []


# Inside the core, the groups point one way: what each folder may not import.
GROUP_RULES = {
    "rag/infra": ("retrieval", "answering", "stores", "generators"),
    "rag/stores": ("retrieval", "answering", "generators"),
    "rag/retrieval": ("answering", "generators"),
    "rag/generators": ("answering", "retrieval"),
}


@pytest.mark.parametrize("folder", sorted(GROUP_RULES))
def test_the_cores_groups_import_only_downwards(folder: str) -> None:
    forbidden = tuple(f"adaptrag.rag.{group}" for group in GROUP_RULES[folder])
    offenders = [
        f"{path.relative_to(ROOT)} imports {module}"
        for path in sorted((ROOT / folder).rglob("*.py"))
        for module in _module_imports(path)
        if module.startswith(forbidden)
    ]
    assert offenders == []


def test_the_cores_root_holds_only_its_shared_vocabulary_and_groups() -> None:
    root = {p.name for p in (ROOT / "rag").iterdir() if not p.name.startswith("__pycache__")}
    assert root == {
        "__init__.py",
        "errors.py",
        "types.py",
        "prompts.py",
        *("infra", "stores", "retrieval", "generators", "answering", "settings"),
    }


def test_the_pipeline_imports_no_other_package_inside_a_function() -> None:
    tree = ast.parse((ROOT / "rag" / "answering" / "pipeline.py").read_text())
    top_level = {id(node) for node in tree.body}
    late = [
        ast.unparse(node)
        for node in ast.walk(tree)
        if isinstance(node, (ast.Import, ast.ImportFrom)) and id(node) not in top_level
    ]
    assert late == []


# What each job may not import: the other jobs above the evaluation layer.
FORBIDDEN = {"eval": {"ingest", "adapters"}, "ingest": {"adapters"}, "adapters": {"ingest"}}


@pytest.mark.parametrize("package", ["ingest", "adapters", "eval"])
def test_the_jobs_import_the_core_and_evaluation_and_never_each_other(package: str) -> None:
    others = FORBIDDEN[package]
    offenders = [
        f"{path.relative_to(ROOT)} imports {name}"
        for path in modules(package)
        for name, _ in imports(path)
        if name in others
    ]
    assert offenders == []


def test_the_packages_form_no_cycle() -> None:
    graph = {
        package: {
            name
            for path in modules(package)
            for name, _ in imports(path)
            if name in PACKAGES and name != package
        }
        for package in PACKAGES
    }

    def reaches(start: str, target: str, seen: frozenset[str] = frozenset()) -> bool:
        return any(
            nxt == target or (nxt not in seen and reaches(nxt, target, seen | {nxt}))
            for nxt in graph[start]
        )

    assert [p for p in PACKAGES if reaches(p, p)] == []
    assert graph["adaptrag"] >= {"rag", "ingest", "adapters", "eval"}


def _module_imports(path: Path) -> set[str]:
    """Dotted modules a file imports anywhere (in functions and type-only blocks too)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module)
            found |= {f"{node.module}.{alias.name}" for alias in node.names}
    return found


def test_no_two_modules_import_each_other() -> None:
    # A package and its own modules excepted (`eval/__init__` exports what they define).
    def name(path: Path) -> str:
        parts = path.relative_to(ROOT).with_suffix("").parts
        parts = parts[:-1] if parts[-1] == "__init__" else parts
        return ".".join(parts if parts[0] == "adaptrag" else ("adaptrag", *parts))

    files = [path for package in PACKAGES for path in modules(package)]
    known = {name(path) for path in files}
    graph = {name(path): _module_imports(path) & known for path in files}
    pairs = sorted(
        f"{a} <-> {b}"
        for a, targets in graph.items()
        for b in targets
        if a < b and a in graph.get(b, set()) and a != b.rsplit(".", 1)[0]
    )
    assert pairs == []


def test_importing_any_package_loads_no_model_library() -> None:
    # Models load on first use: `adaptrag --help`, config errors and `/v1/adapters` stay
    # instant, and `import adaptrag.adapters` no longer pays for torch.
    import subprocess
    import sys

    code = (
        "import sys, importlib\n"
        "for name in ('adaptrag', 'adaptrag.rag', 'adaptrag.ingest', 'adaptrag.adapters',\n"
        "             'adaptrag.eval', 'adaptrag.cli', 'adaptrag.server'):\n"
        "    importlib.import_module(name)\n"
        "heavy = {'torch', 'transformers', 'peft', 'sentence_transformers'}\n"
        "print(sorted(heavy & set(sys.modules)))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_no_module_imports_another_modules_private_names() -> None:
    # A seam other modules use is public and documented (`ingest.job.IngestRun`...).
    offenders = []
    for package in PACKAGES:
        for path in modules(package):
            tree = ast.parse(path.read_text(), filename=str(path))
            offenders += [
                f"{path.relative_to(ROOT)}: {node.module}.{alias.name}"
                for node in ast.walk(tree)
                if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("adaptrag")
                for alias in node.names
                if alias.name.startswith("_") and not alias.name.startswith("__")
            ]
    assert offenders == []
