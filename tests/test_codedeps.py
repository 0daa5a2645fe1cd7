"""Code tracking that cannot drift: every rule's library inputs are the import closure of its script."""
import re
import subprocess
import sys
from pathlib import Path

import pytest

from mwork.codedeps import module_closure


def rule_scripts(root: Path) -> dict[str, tuple[str, str | None]]:
    """rule name -> (its script's name, the name given to code_of in its inputs or None), from rules/*.smk."""
    out = {}
    for smk in sorted((root / "rules").glob("*.smk")):
        for block in re.split(r"(?m)^(?=rule )", smk.read_text(encoding="utf-8"))[1:]:
            name = re.match(r"rule (\w+):", block).group(1)
            script = re.search(r'script:\s*\n\s*"\.\./workflow_scripts/(\w+)\.py"', block)
            code = re.search(r'code_of\("(\w+)"\)', block)
            if script:
                out[name] = (script.group(1), code.group(1) if code else None)
    return out


def test_every_rule_lists_the_import_closure_of_its_own_script(root):
    scripts = rule_scripts(root)
    assert len(scripts) >= 20
    for rule, (script, code) in scripts.items():
        closure = module_closure(root / "workflow_scripts" / f"{script}.py", root)
        if closure:
            assert code == script, f"rule {rule}: code_of({code!r}) but its script is {script}.py"
        else:
            assert code is None, f"rule {rule}: {script}.py imports no mwork module"
    assert not re.search(r"\blib\(", "".join(p.read_text() for p in (root / "rules").glob("*.smk")))


def test_closures_follow_imports_through_modules(root):
    closure = lambda s: set(module_closure(root / "workflow_scripts" / f"{s}.py", root))  # noqa: E731
    # the modules the hand-written lists had missed
    assert "mwork/batching.py" in closure("evaluate")  # through mwork.neurons
    assert {"mwork/tasks/suites.py", "mwork/io.py"} <= closure("organism_train")
    assert {"mwork/arch.py", "mwork/batching.py", "mwork/languages.py"} <= closure("figure1")
    assert {"mwork/__init__.py", "mwork/tasks/__init__.py"} <= closure("evaluate")  # packages run on import
    assert not any(f.startswith("mwork/plnd/") for f in closure("table11")) and "mwork/plnd/qk.py" in closure("plnd")


def test_module_closure_reads_every_form_of_import(tmp_path):
    pkg = tmp_path / "mwork"
    (pkg / "sub").mkdir(parents=True)
    files = {
        "mwork/__init__.py": "",
        "mwork/a.py": "from .b import x\nfrom . import c\n",
        "mwork/b.py": "def f():\n    import mwork.d  # inside a function\n",
        "mwork/c.py": "",
        "mwork/d.py": "",
        "mwork/e.py": "",  # imported by nothing
        "mwork/sub/__init__.py": "from .g import y\n",
        "mwork/sub/g.py": "from ..e import z\n",
        "mwork/sub/h.py": "",
    }
    for rel, text in files.items():
        (tmp_path / rel).write_text(text)
    script = tmp_path / "s.py"
    script.write_text("import os\nfrom mwork.a import q\nfrom mwork import sub\n")
    got = module_closure(script, tmp_path)
    assert got == sorted(["mwork/__init__.py", "mwork/a.py", "mwork/b.py", "mwork/c.py", "mwork/d.py",
                          "mwork/sub/__init__.py", "mwork/sub/g.py", "mwork/e.py"])


def test_building_the_dag_imports_no_torch(root, tmp_path, upstream_files):
    code = ("import sys\nfrom snakemake.cli import main\n"
            "try:\n    main(sys.argv[1:])\nexcept SystemExit as e:\n    assert not e.code, e.code\n"
            "assert 'torch' not in sys.modules, 'building the DAG imported torch'\n"
            "assert 'mwork.codedeps' in sys.modules\n")
    for configs in ([root / "config.yaml"], [root / "config.yaml", root / "configs/real.yaml", upstream_files],
                    [root / "config.yaml", root / "configs/paper.yaml"]):
        proc = subprocess.run([sys.executable, "-c", code, "-n", "results/table3.csv", "--cores", "1", "--quiet",
                               "rules", "-s", str(root / "Snakefile"), "--directory", str(tmp_path),
                               "--configfile", *[str(c) for c in configs]],
                              capture_output=True, text=True, timeout=300)
        assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]


@pytest.mark.parametrize("module", ["mwork/lens.py", "mwork/tables.py"])
def test_expected_rules_per_module(root, module):
    """The rules a module edit reruns, as the closures say (the tiny DAG test checks Snakemake agrees)."""
    rules = {r for r, (s, _) in rule_scripts(root).items()
             if module in module_closure(root / "workflow_scripts" / f"{s}.py", root)}
    if module == "mwork/lens.py":
        assert {"language_ratio", "figure1"} <= rules and "plnd" not in rules
    else:
        assert {"table11", "table1", "deactivation_table"} <= rules and "evaluate" not in rules


def test_the_kernels_c_source_is_code_of_the_rules_that_run_plnd():
    """Editing mwork/plnd/qk_kernel.c (read at run time, not imported) reruns PLND like an edit of its Python."""
    root = Path(__file__).resolve().parent.parent
    assert "mwork/plnd/qk_kernel.c" in module_closure(root / "workflow_scripts" / "plnd.py", root)
    assert not any(f.endswith(".c") for f in module_closure(root / "workflow_scripts" / "table7.py", root))
