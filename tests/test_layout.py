"""The architecture's import contracts, checked on the source (an AST walk,
so imports inside functions count too):

* nothing in model/ imports the GUI (inpaint_gui) or Qt (PySide6, shiboken6, PyQt);
* nothing in model/ outside model/cli/ imports model.cli (commands sit on top);
* argparse is imported only by model/cli/ in model/, main.py and inpaint_gui/
  (the scripts of benchmarks/ and scripts/ are their own small programs and
  parse their own arguments);
* Ray (the optional cluster extra) is imported only by model/jobs/cluster.py:
  the app and the plain command line never load it."""
import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
QT = ("PySide6", "shiboken6", "PyQt5", "PyQt6", "inpaint_gui")
RAY_MODULE = "model/jobs/cluster.py"  # the one module that may import ray


def imported_modules(path: Path, root: Path = ROOT) -> list[tuple[int, str]]:
    """(line, absolute module name) of every import in ``path``, at any depth;
    relative imports are resolved against the file's package."""
    package = list(path.relative_to(root).parts[:-1])  # a module's package, or an __init__'s own
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[:len(package) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            found.append((node.lineno, module))
            # "from model import cli" names a module too
            found += [(node.lineno, f"{module}.{alias.name}") for alias in node.names]
    return found


def contract_violations(root: Path = ROOT) -> list[str]:
    """One line per import statement that breaks a contract (and which)."""
    problems: dict[tuple[str, int, str], str] = {}  # "from a import b" yields a and a.b: report the line once
    for path in sorted((root / "model").rglob("*.py")) + sorted(root.glob("*.py")) \
            + sorted((root / "inpaint_gui").rglob("*.py")):
        rel = path.relative_to(root).as_posix()
        core, in_cli = rel.startswith("model/"), rel.startswith("model/cli/")
        for line, module in imported_modules(path, root):
            top = module.split(".")[0]
            if core and top in QT:
                problems.setdefault((rel, line, "qt"), f"{rel}:{line}: the core imports {module}")
            if core and not in_cli and (module == "model.cli" or module.startswith("model.cli.")):
                problems.setdefault((rel, line, "cli"), f"{rel}:{line}: only model/cli/ may import {module}")
            if top == "argparse" and not in_cli:
                problems.setdefault((rel, line, "argparse"), f"{rel}:{line}: argparse outside model/cli/")
            if top == "ray" and rel != RAY_MODULE:
                problems.setdefault((rel, line, "ray"), f"{rel}:{line}: only {RAY_MODULE} may import {module}")
    return list(problems.values())


def test_import_contracts_hold():
    assert contract_violations() == []


@pytest.mark.parametrize("line, where", [
    ("    from inpaint_gui.app import main", "model/jobs/batch.py"),
    ("    from PySide6.QtCore import QTimer", "model/network.py"),
    ("    from ..cli.common import open_inpainter", "model/jobs/batch.py"),
    ("    from .. import cli", "model/training/trainer.py"),
    ("    import argparse", "model/evaluation/report.py"),
    ("    import ray", "model/jobs/batch.py"),
    ("    from ray.exceptions import RayError", "model/cli/batch.py"),
    ("    import ray", "main.py"),
])
def test_a_violation_inside_a_function_is_caught(tmp_path, line, where):
    """The check itself: the same tree with one offending import (inside a function) fails it."""
    for path in [*(ROOT / "model").rglob("*.py"), ROOT / "main.py"]:
        target = tmp_path / path.relative_to(ROOT)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(path.read_text(encoding="utf-8"), encoding="utf-8")
    (tmp_path / "inpaint_gui").mkdir()
    bad = tmp_path / where
    bad.write_text(bad.read_text(encoding="utf-8") + f"\n\ndef _planted():\n{line}\n", encoding="utf-8")
    problems = contract_violations(tmp_path)
    assert len(problems) == 1 and problems[0].startswith(f"{where}:"), problems


def test_importing_every_core_module_loads_no_qt():
    modules = sorted(".".join(p.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
                     for p in (ROOT / "model").rglob("*.py") if p.name != "__main__.py")
    code = ("import importlib, sys\n"
            f"for m in {modules!r}: importlib.import_module(m)\n"
            "bad = [m for m in sys.modules if m.startswith(('PySide6', 'shiboken6', 'PyQt', 'inpaint_gui'))]\n"
            "assert not bad, bad\n"
            "assert 'ray' not in sys.modules, 'a core module imported ray'\n")  # cluster.py imports it in functions
    res = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert res.returncode == 0, res.stderr


def test_the_app_and_a_plain_batch_never_load_ray(tmp_path):
    """The app's modules and a whole local ``batch`` run (the CLI in-process)
    leave ray unloaded, whether or not it is installed."""
    import numpy as np
    from PIL import Image

    photos = tmp_path / "in"
    photos.mkdir()
    Image.fromarray(np.full((24, 32, 3), 120, np.uint8)).save(photos / "a.png")
    mask = np.zeros((24, 32), np.uint8)
    mask[4:8, 4:8] = 255
    Image.fromarray(mask).save(tmp_path / "m.png")
    gui = sorted(".".join(p.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
                 for p in (ROOT / "inpaint_gui").rglob("*.py") if p.name != "__main__.py")
    code = ("import importlib, sys\n"
            f"for m in {gui!r}: importlib.import_module(m)\n"
            "import model.cli\n"
            f"code = model.cli.main(['batch', {str(photos)!r}, '--mask', {str(tmp_path / 'm.png')!r}, '-o', "
            f"{str(tmp_path / 'out')!r}, '--device', 'cpu', '--texture', 'off'])\n"
            "assert code == 0, code\n"
            "assert 'ray' not in sys.modules, 'ray was imported'\n")
    res = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                         env={**__import__("os").environ, "QT_QPA_PLATFORM": "offscreen"})
    assert res.returncode == 0, res.stderr
    assert (tmp_path / "out" / "a.png").is_file()


def test_cluster_without_ray_installed_is_one_line(tmp_path):
    """``batch --cluster`` where Ray is missing: exit 2 with the install line, no traceback."""
    import numpy as np
    from PIL import Image

    (tmp_path / "in").mkdir()
    Image.fromarray(np.full((24, 32, 3), 120, np.uint8)).save(tmp_path / "in" / "a.png")
    mask = np.zeros((24, 32), np.uint8)
    mask[4:8, 4:8] = 255
    Image.fromarray(mask).save(tmp_path / "m.png")
    code = ("import sys\n"
            "sys.modules['ray'] = None  # import ray now raises ImportError, as where it is not installed\n"
            "import model.cli\n"
            f"sys.exit(model.cli.main(['batch', {str(tmp_path / 'in')!r}, '--mask', {str(tmp_path / 'm.png')!r}, "
            f"'-o', {str(tmp_path / 'out')!r}, '--cluster', 'auto']))\n")
    res = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert res.returncode == 2, res.stderr
    assert res.stderr.strip().splitlines() == [
        "error: --cluster needs Ray: pip install 'region-inpaint[cluster]' (or pip install ray) on this machine "
        "and on every machine of the cluster"], res.stderr
