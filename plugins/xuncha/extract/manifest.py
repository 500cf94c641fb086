"""Reading and checking an export's manifest.json against the spec and the files beside it."""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path

from xuncha.extract import landing
from xuncha.extract import limits
from xuncha.errors import Problem
from xuncha.spec import manifest_schema
from xuncha.text import excerpt

_CHUNK = 1 << 20
# generated_at may be later than the platform's clock by at most this much (export spec §3, §4.3): a stamp from
# the future would otherwise let rows stamped up to it win over every later correction.
CLOCK_TOLERANCE = dt.timedelta(minutes=10)
_SHANGHAI = dt.timezone(dt.timedelta(hours=8))


@dataclass(frozen=True)
class ExportFile:
    """One file a manifest lists: entity, file name, format (csv|xlsx|jsonl), encoding, data rows, SHA-256."""
    entity: str
    path: str
    format: str
    encoding: str | None
    rows: int
    sha256: str


@dataclass(frozen=True)
class Manifest:
    """A manifest.json that passed its schema (export spec §3); `raw` is the parsed JSON as sent."""
    export_id: str
    county_code: str
    business_date: dt.date
    generated_at: dt.datetime
    mode: str
    spec_version: str
    files: tuple[ExportFile, ...]
    raw: dict

    @property
    def declared_rows(self) -> int:
        """Data rows the manifest declares over all its files."""
        return sum(f.rows for f in self.files)


@functools.cache
def _ecma_regex(pattern: str) -> re.Pattern:
    """`pattern` with ECMA-262 semantics (JSON Schema's regex dialect): `$` at its end matches only at the end
    of the string, never before a final line break as Python's `$` does (so `"410303-20210411-01\\n"` does not
    match `^[A-Za-z0-9._-]+$`)."""
    if pattern.endswith("$") and not pattern.endswith("\\$"):
        pattern = pattern[:-1] + r"\Z"
    return re.compile(pattern)


@functools.cache
def _validator_class():
    """Draft 2020-12 with `pattern` checked as JSON Schema means it (_ecma_regex): jsonschema's own check uses
    Python's re.search, whose `$` accepts an `export_id` ending in a line break (issue 27)."""
    import jsonschema

    def pattern(validator, patrn, instance, schema):
        if validator.is_type(instance, "string") and not _ecma_regex(patrn).search(instance):
            yield jsonschema.ValidationError(what_is_wrong(instance, patrn)[0])

    return jsonschema.validators.extend(jsonschema.Draft202012Validator, {"pattern": pattern})


# What a manifest field's `pattern` asks, in plain words (English, Chinese), for the fields of manifest.schema.json:
# a county reads "export_id holds a line break", never a regular expression (county trial, issue 27).
_FORMS = {
    r"^1\.[0-9]+$": ("a version 1.N, e.g. 1.0", "版本号形如 1.0"),
    r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$": ("1 to 128 characters A-Z a-z 0-9 . _ -, starting with a letter or digit",
                                             "1 至 128 个字符，仅限 A-Z a-z 0-9 . _ -，以字母或数字开头"),
    r"^[0-9]{6}$": ("six digits (GB/T 2260 county code), e.g. 410325", "6 位数字的区划代码（GB/T 2260），如 410325"),
    r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$": ("a date YYYY-MM-DD, e.g. 2026-12-05", "日期格式 YYYY-MM-DD，如 2026-12-05"),
    r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?(Z|[+-][0-9]{2}:[0-9]{2})$":
        ("a date-time with its offset, e.g. 2026-12-06T01:30:00+08:00", "带时区的日期时间，如 2026-12-06T01:30:00+08:00"),
    r"^[A-Za-z0-9_][A-Za-z0-9._-]*$": ("a plain file name of A-Z a-z 0-9 . _ -", "仅含 A-Z a-z 0-9 . _ - 的文件名"),
    r"^[0-9a-f]{64}$": ("64 lowercase hex digits (SHA-256)", "64 位小写十六进制数字（SHA-256）"),
}
_FREE = {r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$", r"^[A-Za-z0-9_][A-Za-z0-9._-]*$"}
_CLASS = re.compile(r"\[([^\]]+)\][*{]")


def what_is_wrong(value: str, pattern: str) -> tuple[str, str]:
    """Plain words (English, Chinese) for a manifest string `value` that fails the schema's `pattern`: it ends in a
    line break, holds spaces or characters outside the allowed set (named), or is not of the field's form.
    Never quotes the regular expression (county trial: a raw regex told the clerk nothing)."""
    form, form_zh = _FORMS.get(pattern, ("of the form the export spec gives (§3)", "规范第 3 节规定的格式"))
    m = _CLASS.search(pattern) if pattern in _FREE else None   # ids and names: one allowed character set
    allowed = re.compile(f"[{m.group(1)}]") if m else None
    if value == "":
        return f"is empty: write {form}", f"为空：应为{form_zh}"
    if value.rstrip("\r\n") != value:
        return (f"ends in a line break: remove it (must be {form})", f"末尾带有换行符：请删除（应为{form_zh}）")
    if value.strip() != value:
        return (f"starts or ends with spaces: remove them (must be {form})", f"首尾带有空格：请删除（应为{form_zh}）")
    bad = sorted({c for c in value if not allowed.fullmatch(c)}) if allowed else []
    if bad:
        shown = " ".join(f"U+{ord(c):04X}" if not c.isprintable() or c.isspace() else c for c in bad)
        return (f"holds characters other than {_chars(m.group(1))}"
                f" ({shown}): remove them (must be {form})",
                f"含有不允许的字符（{shown}）：请删除（应为{form_zh}）")
    return f"is not {form}", f"格式不对：应为{form_zh}"


def _chars(cls: str) -> str:
    """`A-Za-z0-9._-` as `A-Z a-z 0-9 . _ -`: a character class in plain words."""
    return " ".join(re.findall(r".-.|.", cls))


def peek(export_dir: Path) -> dict:
    """The manifest's JSON as sent, however it fares against the schema ({} when it cannot be read): the self-check
    tells the county and export id of a manifest that fails the schema on another field."""
    try:
        with landing.open_regular(export_dir / "manifest.json") as fh:
            raw = json.loads(fh.read().decode("utf-8-sig"))
    except (OSError, ValueError, RecursionError):
        return {}
    return raw if isinstance(raw, dict) else {}


def read(export_dir: Path) -> tuple[Manifest | None, list[Problem]]:
    """Parse and schema-check manifest.json; (None, problems) when it cannot be used."""
    path = export_dir / "manifest.json"
    try:
        with landing.open_regular(path) as fh:   # never through a link (xuncha.extract.landing)
            raw = json.loads(fh.read().decode("utf-8-sig"))
    except FileNotFoundError:
        return None, [Problem("manifest.missing", f"no manifest.json in {export_dir.name}", file="manifest.json")]
    except OSError:
        return None, [Problem(landing.RULE, "manifest.json is not a regular file: refused without being read",
                              file="manifest.json")]
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        return None, [Problem("manifest.json", f"manifest.json is not valid UTF-8 JSON: {exc}", file="manifest.json")]
    except RecursionError:
        return None, [Problem("manifest.json", "manifest.json nests a value too deep to read (§3)", file="manifest.json")]
    import jsonschema

    validator = _validator_class()(manifest_schema(), format_checker=jsonschema.FormatChecker())
    problems = [_schema_problem(e) for e in sorted(validator.iter_errors(raw), key=lambda e: list(map(str, e.absolute_path)))]
    if problems:
        return None, problems
    # The schema's patterns admit month 13 or 25:61 (and `format` is only checked where the optional format
    # validators are installed): the dates are parsed here, so a bad one is this export's problem, never a crash.
    try:
        business_date = dt.date.fromisoformat(raw["business_date"])
    except ValueError as exc:
        problems.append(Problem("manifest.schema", f"business_date: not a calendar date ({exc})", file="manifest.json",
                                column="business_date", value=excerpt(raw["business_date"])))
    try:
        generated_at = dt.datetime.fromisoformat(raw["generated_at"].replace("Z", "+00:00"))
    except ValueError as exc:
        problems.append(Problem("manifest.schema", f"generated_at: not an ISO 8601 date-time ({exc})",
                                file="manifest.json", column="generated_at", value=excerpt(raw["generated_at"])))
    if problems:
        return None, problems
    night_start = dt.datetime.combine(business_date, dt.time(0), _SHANGHAI)
    if generated_at < night_start:
        problems.append(Problem("manifest.time", f"generated_at {generated_at.isoformat()} is before the business "
                                f"night {business_date} began (Asia/Shanghai)", file="manifest.json",
                                column="generated_at", value=raw["generated_at"]))
    if generated_at > dt.datetime.now(dt.timezone.utc) + CLOCK_TOLERANCE:
        problems.append(Problem("manifest.time", f"generated_at {generated_at.isoformat()} is in the future (more than "
                                f"{CLOCK_TOLERANCE} ahead of the platform's clock)", file="manifest.json",
                                column="generated_at", value=raw["generated_at"]))
    if problems:
        return None, problems
    entities = [f["entity"] for f in raw["files"]]
    dupes = sorted({e for e in entities if entities.count(e) > 1})
    if dupes:
        return None, [Problem("manifest.schema", f"entity listed twice: {', '.join(dupes)}", file="manifest.json")]
    files = tuple(
        ExportFile(f["entity"], f["path"], f["format"], f.get("encoding"), f["rows"], f["sha256"]) for f in raw["files"]
    )
    manifest = Manifest(
        export_id=raw["export_id"],
        county_code=raw["county_code"],
        business_date=business_date,
        generated_at=generated_at,
        mode=raw["mode"],
        spec_version=raw["spec_version"],
        files=files,
        raw=raw,
    )
    return manifest, []


def _schema_problem(e) -> Problem:
    """A manifest.schema problem from a jsonschema error: field, what is wrong in plain words (English and
    Chinese; `what_is_wrong` for patterns), the value sent."""
    where = "/".join(map(str, e.absolute_path)) or None
    field = where or "(root)"
    if e.validator == "pattern" and isinstance(e.instance, str):
        en, zh = what_is_wrong(e.instance, e.validator_value)
        return Problem("manifest.schema", f"{field} {en}", file="manifest.json", column=where, value=excerpt(e.instance),
                       message_zh=f"清单字段 {field} {zh}")
    zh = {"required": "缺少必填字段", "enum": "取值不在规范允许的范围内", "type": "类型不对",
          "additionalProperties": "含有规范未定义的字段", "minItems": "不能为空",
          "maximum": "超过规范允许的上限（第 10.2 节）：请拆分为多个批次", "maxItems": "条目过多（第 10.2 节）"}.get(e.validator, "不符合规范")
    return Problem("manifest.schema", f"{field}: {excerpt(e.message)}", file="manifest.json", column=where,
                   message_zh=f"清单字段 {field}：{zh}（见规范第 3 节）")


# A row's updated_at may be later than its export's night by at most this much (export spec §4.3): exporters stamp
# rows by their own clock and often write the night some hours after it ends.
UPDATED_AT_TOLERANCE = dt.timedelta(days=1)


def updated_at_bound(manifest: Manifest, now: dt.datetime | None = None) -> dt.datetime:
    """The latest updated_at a row of this export may carry (export spec §4.3): the later of generated_at and the
    end of the business night (24:00 Asia/Shanghai), plus UPDATED_AT_TOLERANCE — and never past the platform's
    clock (+ CLOCK_TOLERANCE). A stamp after it would win over every later correction of the row."""
    night_end = dt.datetime.combine(manifest.business_date + dt.timedelta(days=1), dt.time(0), _SHANGHAI)
    now = now or dt.datetime.now(dt.timezone.utc)
    return min(max(manifest.generated_at, night_end) + UPDATED_AT_TOLERANCE, now + CLOCK_TOLERANCE)


def content(manifest: Manifest) -> frozenset[tuple[str, str, str]]:
    """What an export holds, as (entity, path, sha256) of its files: equal content = a re-send (§4.4)."""
    return frozenset((f.entity, f.path, f.sha256) for f in manifest.files)


def sha256_of(path: Path) -> str:
    """Hex SHA-256 of a file, read in 1 MiB chunks."""
    h = hashlib.sha256()
    with landing.open_regular(path) as fh:
        while chunk := fh.read(_CHUNK):
            h.update(chunk)
    return h.hexdigest()


def check_files(manifest: Manifest, export_dir: Path, expected_county: str | tuple[str, ...]) -> tuple[dict[str, str], list[Problem]]:
    """County code, presence and checksums. Returns (actual sha256 per path, problems)."""
    problems: list[Problem] = []
    allowed = (expected_county,) if isinstance(expected_county, str) else expected_county
    if manifest.county_code not in allowed:
        problems.append(Problem(
            "manifest.county",
            f"manifest says county {manifest.county_code}, but the export was delivered for {allowed[0]}",
            file="manifest.json", column="county_code", value=manifest.county_code,
        ))
    actual: dict[str, str] = {}
    present = []
    for f in manifest.files:
        p = export_dir / f.path
        if not p.is_file():
            problems.append(Problem("file.missing", f"{f.entity} file listed in the manifest is not in the export", file=f.path))
        else:
            present.append((f.path, p))
    too_big = limits.check_sizes(present)   # before any byte is hashed
    if too_big:
        return actual, problems + too_big
    for f in manifest.files:
        p = export_dir / f.path
        if not p.is_file():
            continue
        try:
            actual[f.path] = sha256_of(p)
        except OSError:   # swapped for a link or a FIFO since xuncha.extract.landing.check_tree looked
            problems.append(Problem(landing.RULE, "not a regular file: refused without being read", file=f.path))
            continue
        if actual[f.path] != f.sha256:
            problems.append(Problem(
                "file.sha256", f"SHA-256 is {actual[f.path]}, manifest declares {f.sha256}", file=f.path, value=actual[f.path],
            ))
    return actual, problems
