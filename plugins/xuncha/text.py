"""Trimmed text (export spec §8.4), the Python side of `staging.trimmed` (migration 0020).

The warehouse trims in SQL (validation views, merge, withdraw, references); Python trims what it reads
itself (CSV/XLSX header names). Both use this set of characters, removed at either end of a value and
never inside it: Unicode White_Space plus the invisible characters copy-paste brings. A test holds
`TRIM_CHARS` equal to the SQL function.
"""

from __future__ import annotations

import re

TRIM_CHARS = (
    "\u0009\u000a\u000b\u000c\u000d\u0020\u0085\u00a0\u1680"
    + "".join(chr(c) for c in range(0x2000, 0x200B))
    + "\u2028\u2029\u202f\u205f\u3000"
    + "\u180e\u200b\u200c\u200d\u2060\ufeff"
)

# Words exporters write for "no value" (pandas/NumPy, SQL, Excel, typing). In an id, reference, code, date or
# number column they are an error (row.invalid), never a value and never silently null (export spec §8.4).
PLACEHOLDERS = ("None", "none", "NONE", "nan", "NaN", "NAN", "NULL", "null", "Null", "N/A", "n/a", "NA", "#N/A",
                "undefined", "-", "--", "—", "——", "–")

# Full-width forms (全角) of ASCII letters, digits and signs, U+FF01–U+FF5E: rejected in ids and codes, not
# NFKC-normalised (export spec §8.4), so one id is never two keys and a stored id is what the county sent.
FULL_WIDTH_RE = "[\uff01-\uff5e]"

EXCERPT_CHARS = 200


ID_SCIENTIFIC_RE = "^-?[0-9]+([.][0-9]+)?[Ee][+-][0-9]{1,3}$"
"""A spreadsheet's scientific form of a long number (4.10302E+17, LibreOffice's 4.10304E+017): never an id (§8.4)."""


def id_as_issued(value: str) -> bool:
    """True when an id (trimmed) may be the one the county issued (export spec §8.4, issue 27): ASCII only (no
    full-width, look-alike, zero-width or direction character) and not a spreadsheet's scientific form. The Python
    twin of validate.suites.as_issued_expectation."""
    return value.isascii() and re.search(ID_SCIENTIFIC_RE, value) is None


def lost_to_question_marks(value: str) -> bool:
    """True when `value` is text whose characters were lost in a conversion (export spec §8.4, 字符丢失): at least
    two `?` (U+003F) making up half or more of its characters, spaces aside — a "save as CSV" in a locale without
    Chinese writes `?` for each Chinese character. The Python twin of the suites' SQL check (validate.suites)."""
    q = value.count("?")
    return q >= 2 and 2 * q >= len(value.replace(" ", ""))


def trimmed(value: str | None) -> str | None:
    """`value` without TRIM_CHARS at either end; None when nothing is left (as staging.trimmed)."""
    if value is None:
        return None
    out = value.strip(TRIM_CHARS)
    return out or None


def excerpt(value, limit: int = EXCERPT_CHARS) -> str | None:
    """At most `limit` characters of a value a report or alert quotes, with the total length when cut."""
    if value is None:
        return None
    s = str(value)
    if len(s) <= limit:
        return s
    return f"{s[:limit]}… ({len(s):,} characters in all)"
