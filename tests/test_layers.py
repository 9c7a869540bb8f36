"""The package's layers point one way (issue: orchestration without a circle, a builder without the
experiments): read every import statement, those inside functions too, of the modules named."""
import ast
from pathlib import Path

import pytest

PKG = Path(__file__).resolve().parents[1] / "generator"


def _imports(path: Path) -> set[str]:
    out = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module:
            out |= {node.module} | {f"{node.module}.{a.name}" for a in node.names}
        elif isinstance(node, ast.Import):
            out |= {a.name for a in node.names}
    return out


@pytest.mark.parametrize("module, below", [
    ("parallel", ("generator.estimate", "generator.pipeline")),   # a leaf, handed the job function
    ("estimate", ("generator.pipeline",)),                        # under the pipeline, never calling it
])
def test_orchestration_points_one_way(module, below):
    found = _imports(PKG / f"{module}.py")
    assert not [m for m in found if m.startswith(below)], f"{module}.py imports {sorted(found)}"


def test_the_site_builder_imports_nothing_from_the_experiments():
    offenders = {p.name: sorted(m for m in _imports(p) if m.startswith("generator.experiments"))
                 for p in (PKG / "site").glob("*.py")}
    assert {k: v for k, v in offenders.items() if v} == {}
