"""A file's header against its entity (export spec §5, §8.1–§8.3), and the exception staging raises.

`check_columns` is set-based and bounded (issue 27): a header of 20,000 junk columns gives a handful of problems
(the first unknown names, one line for the rest), a name twice is said once per name, and a required column is
"missing" only when no header cell holds it. Column names quoted in problems are excerpts (xuncha.text.excerpt).
"""

from __future__ import annotations

from collections import Counter

from xuncha.errors import Problem
from xuncha.spec import Entity
from xuncha.text import excerpt

MAX_PROBLEMS = 50
UNKNOWN_LISTED = 10
"""Unknown columns named one by one; the rest are counted in one problem."""


class StagingFailed(Exception):
    """A file could not be staged; `problems` say where and why (file.format, file.encoding, file.columns, person.clear,
    row.invalid)."""

    def __init__(self, problems: list[Problem]):
        self.problems = problems
        super().__init__("; ".join(map(str, problems[:5])))


def check_columns(entity: Entity, header: list[str], name: str) -> None:
    """Raise StagingFailed (file.columns, row 0) when `header` repeats a name, holds a name the entity does not
    define, or lacks a required column; at most MAX_PROBLEMS problems, whatever the header's width."""
    problems = []
    known = set(entity.column_names)
    counts = Counter(header)
    for h, n in counts.items():
        if n > 1 and len(problems) < UNKNOWN_LISTED:
            problems.append(Problem("file.columns", f"column {excerpt(h, 64)!r} appears {n} times", file=name, row=0,
                                    column=excerpt(h, 64)))
    unknown = [h for h in counts if h not in known]
    for h in unknown[:UNKNOWN_LISTED]:
        problems.append(Problem("file.columns", f"unknown column {excerpt(h, 64)!r} for {entity.name} (spec columns: "
                                f"{', '.join(entity.column_names)})", file=name, row=0, column=excerpt(h, 64)))
    if len(unknown) > UNKNOWN_LISTED:
        problems.append(Problem("file.columns", f"{len(unknown) - UNKNOWN_LISTED:,} more unknown columns (the header "
                                f"has {len(header):,} cells; {entity.name} has {len(known)} columns)", file=name, row=0))
    for c in entity.columns:
        if c.required and c.name not in counts:
            problems.append(Problem("file.columns", f"required column {c.name!r} ({c.zh}) is missing", file=name, row=0,
                                    column=c.name))
    if problems:
        raise StagingFailed(problems[:MAX_PROBLEMS])
