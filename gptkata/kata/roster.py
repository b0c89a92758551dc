"""The class roster of `make grade ROSTER=<file.csv>`: who each submission folder is.

A roster is a CSV file with a header row. One column is required:

    folder      the name of the student's folder in SUBMISSIONS, exactly as it is

and any others are kept as they are, in the file's order; the usual ones are
`student_id`, `name` and `email`. The grades then carry them: in grades.csv as
columns right after `student`, in grades.json under each student's "roster".

Two ways a roster and a class can disagree, both reported one line each by
`Roster.problems` (the grader prints them, grades.json keeps them): a submission
folder that no row names, and a row whose folder is not among the submissions.
A roster that cannot be read unambiguously is refused with a ValueError naming the
problem in one line: no `folder` column, a row without a folder, the same folder
twice, or a column name given twice.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

FOLDER = "folder"


@dataclass(frozen=True)
class Roster:
    """The roster's columns (all but `folder`) and its rows, by folder."""

    columns: tuple[str, ...]
    rows: dict[str, dict[str, str]]

    def of(self, folder: str) -> dict[str, str]:
        """The roster's columns for the student in `folder`; empty values when no row names it."""
        row = self.rows.get(folder, {})
        return {column: row.get(column, "") for column in self.columns}

    def problems(self, names: list[str]) -> list[str]:
        """One line per disagreement between the roster and the submission folders `names`.

        Folder names are quoted with repr, so a name holding a newline or a
        terminal escape still makes exactly one readable line."""
        submitted = set(names)
        lines = [
            f"the submission folder {name!r} is not in the roster"
            for name in names
            if name not in self.rows
        ]
        lines += [
            f"the roster's folder {folder!r} is not among the submissions"
            for folder in self.rows
            if folder not in submitted
        ]
        return lines


def load(path: Path) -> Roster:
    """Read the roster at `path` (UTF-8, with or without Excel's byte order mark).

    Cells are stripped of surrounding spaces, which spreadsheets add easily and no
    folder name is meant to have."""
    with Path(path).open(newline="", encoding="utf-8-sig") as f:
        reader = csv.reader(f)
        header = [name.strip() for name in next(reader, [])]
        _check_header(path, header)
        rows: dict[str, dict[str, str]] = {}
        for number, cells in enumerate(reader, start=2):
            if not any(cell.strip() for cell in cells):
                continue  # a blank line, as a spreadsheet leaves at the end
            row = {name: cell.strip() for name, cell in zip(header, cells, strict=False)}
            folder = row.get(FOLDER, "")
            if not folder:
                raise ValueError(f"{path}: line {number} has no folder")
            if folder in rows:
                raise ValueError(f"{path}: the folder {folder!r} is in the roster twice")
            rows[folder] = {name: value for name, value in row.items() if name != FOLDER}
    return Roster(tuple(name for name in header if name != FOLDER), rows)


def _check_header(path: Path, header: list[str]) -> None:
    """A ValueError unless the header names a `folder` column and no column twice."""
    if FOLDER not in header:
        raise ValueError(f"{path}: the roster has no 'folder' column (its header: {header})")
    if "" in header:
        raise ValueError(f"{path}: a column of the roster has no name")
    repeated = sorted({name for name in header if header.count(name) > 1})
    if repeated:
        raise ValueError(f"{path}: the roster names the column {repeated[0]!r} twice")
