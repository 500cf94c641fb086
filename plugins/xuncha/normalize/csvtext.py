"""CSV files as text (export spec §8.1): the header, the encoding checks, and errors that name the real row.

- `header` reads the first line as bytes (at most MAX_HEADER_BYTES) and refuses carriage-return-only line ends
  (Excel for Mac's "CSV") with a message saying so, naming the file (`file.format`, row 0).
- `encoding_problems` names the first record that does not decode. Text is decoded line by line, not through an
  8 KiB buffer, so the row is the record holding the bad bytes (issue 27: the buffer named row 1 for a fault in
  row 3). Only run on the rare file COPY or the Python reader refused.
- `gb18030_problems` (a file declared gb18030): the whole file valid UTF-8 is UTF-8 (§8.1), and a single row whose
  non-ASCII bytes are valid UTF-8 of Chinese text is a UTF-8 row in a GB18030 file (§8.1, "rows in a second
  encoding", 混入其他编码的行): read as GB18030 it would be mojibake. Both `file.encoding` naming the row.
- `rows` streams the data records as lists of text (None for an empty field) for the Python path.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterator
from pathlib import Path

from xuncha.errors import Problem
from xuncha.normalize.columns import MAX_PROBLEMS, StagingFailed
from xuncha.text import trimmed

MAX_HEADER_BYTES = 1 << 20
"""The header line's limit (20,000 columns of 50 characters fit); longer is `file.format`."""

# Every non-ASCII character of a line is CJK text or its punctuation: a line of Chinese text. GB18030 Chinese
# text is valid UTF-8 of such characters with a chance of about 1 in 40,000 for three characters, less for more.
_NOT_CJK = re.compile("[^\x00-\x7f\u2000-\u206f\u3000-\u9fff\uf900-\ufaff\uff00-\uffef]")


def python_encoding(encoding: str) -> str:
    """The codec a declared encoding is read with: a UTF-8 file may carry a BOM either way."""
    return "utf-8-sig" if encoding.startswith("utf-8") else encoding


# Byte order marks of the encodings §8.1 does not accept, longest first (UTF-32 LE starts with UTF-16 LE's).
_WIDE_BOMS = ((b"\xff\xfe\x00\x00", "UTF-32"), (b"\x00\x00\xfe\xff", "UTF-32"), (b"\xff\xfe", "UTF-16"),
              (b"\xfe\xff", "UTF-16"))


def wide_encoding(start: bytes) -> str | None:
    """"UTF-16" or "UTF-32" when a file's first bytes are such a text (a byte order mark, or ASCII interleaved
    with NUL bytes as Excel's "Unicode text" writes), else None. `start`: the file's first bytes (a few hundred)."""
    for bom, name in _WIDE_BOMS:
        if start.startswith(bom):
            return name
    start = start[: len(start) // 4 * 4]
    if len(start) < 8:
        return None

    def nul(*lanes: int, step: int) -> bool:   # these byte lanes are (almost) all NUL
        return all(start[i::step].count(0) >= 0.8 * len(start[i::step]) for i in lanes)

    if (nul(1, 2, 3, step=4) and not nul(0, step=4)) or (nul(0, 1, 2, step=4) and not nul(3, step=4)):
        return "UTF-32"                  # ASCII text as UTF-32: three NULs to each byte
    if (nul(1, step=2) and not nul(0, step=2)) or (nul(0, step=2) and not nul(1, step=2)):
        return "UTF-16"                  # every other byte NUL: ASCII text as UTF-16 (LE or BE)
    return None


def wide_problem(name: str, found: str) -> Problem:
    """`file.encoding` for a UTF-16/UTF-32 file (§8.1 accepts utf-8, utf-8-sig, gb18030)."""
    return Problem("file.encoding", f"the file is {found} (Excel's \"Unicode text\"), which the export spec does not "
                   "accept: save it as \"CSV UTF-8\" (or CSV in GB18030) and declare that encoding (§8.1)", file=name,
                   row=0, message_zh=f"文件是 {found} 编码（Excel 的“Unicode 文本”），规范不接受：请另存为“CSV UTF-8”"
                   "（或 GB18030 编码的 CSV），并在清单中声明相应编码")


def header(path: Path, encoding: str, name: str) -> list[str]:
    """The header's column names, trimmed; raises StagingFailed (file.encoding / file.format, row 0). A UTF-16 or
    UTF-32 file is `file.encoding` before anything else (its NUL bytes would pass for CR-only line ends)."""
    with path.open("rb") as fh:
        found = wide_encoding(fh.read(512))
        if found:
            raise StagingFailed([wide_problem(name, found)])
        fh.seek(0)
        first = fh.readline(MAX_HEADER_BYTES + 1)
    if len(first) > MAX_HEADER_BYTES:
        raise StagingFailed([Problem("file.format", f"the header line is longer than {MAX_HEADER_BYTES:,} bytes: is "
                                     "this a CSV export with one header line? (§8.1)", file=name, row=0)])
    if b"\r" in first.rstrip(b"\r\n"):
        raise StagingFailed([Problem("file.format", "line ends are carriage returns (CR) alone, as Excel for Mac's "
                                     "\"CSV\" writes: save the file with CRLF or LF line ends, e.g. as \"CSV UTF-8\" "
                                     "(§8.1: line ends CRLF, LF accepted)", file=name, row=0,
                                     message_zh="行尾只有回车符（CR），是 Mac 版 Excel 的“CSV”格式：请另存为“CSV UTF-8”，"
                                     "或使用 CRLF/LF 行尾")])
    try:
        line = first.decode(python_encoding(encoding))
    except UnicodeDecodeError as exc:
        raise StagingFailed([undecodable(name, 0, encoding, exc, what="header")]) from None
    try:
        names = next(csv.reader([line]), None)
    except csv.Error as exc:
        raise StagingFailed([Problem("file.format", f"the header line is not CSV (§8.1): {exc}", file=name,
                                     row=0)]) from None
    if not names:
        raise StagingFailed([Problem("file.format", "empty file: a header row is required", file=name)])
    return [trimmed(h) or "" for h in names]


def _lines(path: Path, encoding: str) -> Iterator[str]:
    """The file's lines, each decoded on its own (a UTF-8 BOM is dropped from the first only)."""
    with path.open("rb") as fh:
        for n, raw in enumerate(fh):
            yield raw.decode(python_encoding(encoding) if n == 0 else encoding)


def encoding_problems(path: Path, encoding: str, name: str, nul_problem) -> list[Problem]:
    """The first NUL characters (row, column; `nul_problem(name, row, column, value)` words them) and the first
    record that does not decode, read record by record with each line decoded on its own."""
    problems: list[Problem] = []
    reader = csv.reader(_lines(path, encoding))
    records = 0   # records read, the header included: the index (0 = header) of the one being read
    try:
        head = [trimmed(h) or "" for h in next(reader, [])]
        records = 1
        for row in reader:
            for i, v in enumerate(row):
                if "\x00" in v:
                    problems.append(nul_problem(name, records, head[i] if i < len(head) else None, v))
            records += 1
            if len(problems) >= MAX_PROBLEMS:
                break
    except UnicodeDecodeError as exc:
        problems.append(undecodable(name, records, encoding, exc))
    except csv.Error as exc:
        problems.append(Problem("file.format", f"not CSV (§8.1): {exc}", file=name, row=records))
    return problems


def undecodable(name: str, row: int, encoding: str, exc: UnicodeDecodeError, what: str = "row") -> Problem:
    """`file.encoding` for a line (`exc.object`, decoded on its own) that is not valid `encoding`. A line declared
    utf-8 that is valid GB18030 with Chinese in it says so (county trial: "invalid start byte" told the clerk
    nothing); otherwise the reason and the byte."""
    line = exc.object
    if encoding.startswith("utf-8") and isinstance(line, bytes):
        try:
            text = line.decode("gb18030")
        except UnicodeDecodeError:
            text = None
        if text is not None and re.search("[\u3000-\u9fff]", text):
            return Problem("file.encoding", f"{what} {row} is not valid UTF-8 (the manifest's encoding), but this looks "
                           f"like GB18030 (GBK) text: declare `gb18030` in the manifest or save the file as UTF-8 (§8.1)",
                           file=name, row=row, value=text.strip("\r\n"),
                           message_zh="文件声明为 UTF-8，但内容像是 GB18030（GBK）编码：请在清单中声明 gb18030，"
                           "或把文件另存为 UTF-8")
    return Problem("file.encoding", f"not valid {encoding} (the manifest's encoding): {exc.reason} "
                   f"(byte 0x{exc.object[exc.start]:02x})", file=name, row=row,
                   message_zh=f"该行不是清单声明的 {encoding} 编码：请按声明的编码保存整个文件，或改正清单中的编码")


def record_of_line(path: Path, line: int) -> int:
    """The record (0 = header, 1 = first data row) physical line `line` (1-based) belongs to; bytes read as Latin-1,
    which maps every byte to one character, so any encoding's line breaks and quotes stay where they are."""
    with path.open("r", encoding="latin-1", newline="") as fh:
        reader = csv.reader(fh)
        for n, _ in enumerate(reader):
            if reader.line_num >= line:
                return n
    return 0


def gb18030_problems(path: Path, name: str) -> list[Problem]:
    """A file declared gb18030 holding UTF-8: the whole file valid UTF-8 with non-ASCII characters (§8.1), or one
    line whose non-ASCII bytes are valid UTF-8 of Chinese text (a row in a second encoding). One pass over the
    lines; each non-ASCII line is tried as UTF-8 (in C; GB18030 text usually fails at its first character)."""
    all_utf8, first_non_ascii, first_utf8_cjk = True, None, None
    with path.open("rb") as fh:
        for n, raw in enumerate(fh, start=1):
            if raw.isascii():
                continue
            first_non_ascii = first_non_ascii or n
            try:
                text = raw.decode("utf-8-sig" if n == 1 else "utf-8")
            except UnicodeDecodeError:
                all_utf8 = False
                if first_utf8_cjk:
                    break
                continue
            if first_utf8_cjk is None and not _NOT_CJK.search(text):
                first_utf8_cjk = n
                if not all_utf8:
                    break
    if first_non_ascii is None:
        return []        # plain ASCII is the same in both
    if all_utf8:
        return [Problem("file.encoding", "the bytes are UTF-8 text, but the manifest declares gb18030: read as "
                        "GB18030 they would be mojibake; declare utf-8 or write GB18030", file=name,
                        row=record_of_line(path, first_non_ascii))]
    if first_utf8_cjk is not None:
        row = record_of_line(path, first_utf8_cjk)
        return [Problem("file.encoding", f"row {row} is UTF-8 text in a file the manifest declares gb18030 (a row in "
                        "a second encoding, 混入其他编码的行): read as GB18030 it would be mojibake; write every row in "
                        "GB18030 (§8.1)", file=name, row=row)]
    return []


def rows(path: Path, encoding: str, name: str) -> Iterator[list[str | None]]:
    """The data records as lists of text (an empty field is None); raises StagingFailed naming the first record
    that does not decode (found again line by line, `encoding_problems`)."""
    with path.open("r", encoding=python_encoding(encoding), newline="") as fh:
        reader = csv.reader(fh)
        try:
            next(reader)
            for row in reader:
                yield [v if v != "" else None for v in row]
        except UnicodeDecodeError:
            found = [p for p in encoding_problems(path, encoding, name, lambda *a: None) if p]
            raise StagingFailed(found or [Problem("file.encoding", f"not valid {encoding}", file=name)]) from None
        except csv.Error as exc:
            raise StagingFailed([Problem("file.format", f"not CSV (§8.1): {exc}", file=name,
                                         row=reader.line_num)]) from None
