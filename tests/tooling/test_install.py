"""`make install`: Python 3.11+ or one line that says so; a broken .venv is rebuilt."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tomllib

from gptkata import install, paths


def test_pyproject_and_readme_ask_for_the_python_the_code_needs():
    project = tomllib.loads((paths.ROOT / "pyproject.toml").read_text())["project"]
    assert project["requires-python"] == ">=3.11"
    assert "Python 3.11+" in (paths.ROOT / "README.md").read_text()


def test_an_old_python_gets_one_line_that_names_the_version_needed():
    problem = install.python_problem((3, 10, 12), "/usr/bin/python3.10")
    assert "\n" not in problem
    assert "3.11 or newer" in problem and "3.10.12" in problem
    assert install.python_problem((3, 11, 0), "python3") == ""
    assert install.python_problem((3, 13, 1), "python3") == ""


def test_make_install_with_an_old_python_stops_before_making_a_venv(tmp_path):
    for name in ("Makefile", "pyproject.toml", "gptkata/install.py"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(paths.ROOT / name, tmp_path / name)
    old = tmp_path / "python3.10"
    old.write_text(
        "#!/bin/sh\n"
        f"exec {sys.executable} -c \"import runpy, sys; sys.version_info = (3, 10, 4, 'final', 0); "
        'sys.argv = sys.argv[1:]; runpy.run_path(sys.argv[0], run_name=\'__main__\')" "$@"\n'
    )
    old.chmod(0o755)

    run = subprocess.run(
        ["make", "install", f"PYTHON={old}"], cwd=tmp_path, capture_output=True, text=True
    )

    assert run.returncode != 0
    ours = [line for line in run.stderr.splitlines() if not line.startswith("make")]
    assert len(ours) == 1 and "needs Python 3.11 or newer" in ours[0] and "3.10.4" in ours[0]
    assert not (tmp_path / ".venv").exists()


def fake_python(venv, script: str):
    (venv / "bin").mkdir(parents=True)
    python = venv / "bin" / "python"
    python.write_text("#!/bin/sh\n" + script + "\n")
    python.chmod(0o755)


def test_a_venv_with_a_good_interpreter_is_kept(tmp_path):
    (tmp_path / ".venv" / "bin").mkdir(parents=True)
    (tmp_path / ".venv" / "bin" / "python").symlink_to(sys.executable)
    assert install.venv_problem(str(tmp_path / ".venv")) == ""
    assert install.venv_problem(str(tmp_path / "absent")) == ""


def test_a_venv_left_by_a_failed_install_is_rebuilt(tmp_path):
    (tmp_path / "empty").mkdir()
    fake_python(tmp_path / "old", "echo 3 10 4")
    fake_python(tmp_path / "broken", "exit 1")

    assert "no interpreter" in install.venv_problem(str(tmp_path / "empty"))
    assert "Python 3.10.4, too old" in install.venv_problem(str(tmp_path / "old"))
    assert "does not start" in install.venv_problem(str(tmp_path / "broken"))
    # the Makefile removes what the check names (exit status 0) before making a new one
    rebuild = subprocess.run([sys.executable, install.__file__, "venv", str(tmp_path / "old")])
    keep = subprocess.run([sys.executable, install.__file__, "venv", str(tmp_path / "absent")])
    assert (rebuild.returncode, keep.returncode) == (0, 1)
