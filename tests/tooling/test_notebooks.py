"""The exercise files open in Jupyter as notebooks (jupytext percent format) and stay
the modules the tests import: reading one as a notebook and saving it back, with the
project's jupytext.toml, gives the same bytes. Checked on the pristine exercise of
every kata in the manifest (what a fresh clone has), whatever you have written since."""

import jupytext
import nbformat
import pytest
from jupytext.config import load_jupytext_configuration_file
from jupytext.formats import long_form_one_format

from gptkata import paths
from gptkata.kata import manifest, stubs

KATAS = [pytest.param(k, id=k.name) for k in manifest.KATAS]


def percent_format() -> dict:
    config = load_jupytext_configuration_file(str(paths.ROOT / "jupytext.toml"))
    fmt = long_form_one_format(config.preferred_jupytext_formats_save)
    config.set_default_format_options(fmt)
    return fmt


def with_cells(kata):
    text = stubs.stub_source(kata)
    assert text.startswith("# %%\n"), (
        f"solutions/{kata.module}.py needs `# %%` cell markers (docs/instructors.md: cell markers)"
    )
    return text


@pytest.mark.parametrize("kata", KATAS)
def test_an_exercise_round_trips_through_jupyter_unchanged(kata):
    text = with_cells(kata)
    fmt = percent_format()
    notebook = jupytext.reads(text, fmt=fmt)
    # what Jupyter adds while the notebook is open
    notebook.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    for cell in notebook.cells:
        cell.metadata["tags"] = ["seen"]
        cell.outputs = [nbformat.v4.new_output("stream", text="output")]

    assert jupytext.writes(notebook, fmt=fmt) == text
    assert len(notebook.cells) > 2  # the docstring, the imports, the functions


@pytest.mark.parametrize("kata", KATAS)
def test_an_exercise_notebook_runs_from_top_to_bottom(kata):
    notebook = jupytext.reads(with_cells(kata), fmt="py:percent")
    namespace = {"__name__": "__main__"}  # as in a Jupyter kernel

    for cell in notebook.cells:
        exec(compile(cell.source, f"exercises/{kata.module}.py", "exec"), namespace)

    assert namespace["__doc__"].startswith("Kata ")  # the number is not checked (authoring.py)
