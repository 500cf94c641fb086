"""What a county should do about a problem, in Chinese (整改说明), beside the English message; readable check names.

County staff read Chinese; the rule title (errors.RULES_ZH) alone said what failed, not what to do (county trial).
`advice(rule, message, column)` gives the Chinese sentence for the messages counties hit most — the issue-27
kinds (scientific ids, lost characters, error cells, CR line ends, UTF-8 rows in GB18030, non-ASCII ids, JSON
exponents, surrogates, nesting), the suites' required/type/code-list/length/date/pattern/range/unique/reference
rules, encodings, formats, columns, checksums, row counts and size limits — matched on the English message the
platform itself writes (the English stays the reference; export spec §10.1). None when no sentence fits; then
the rule's own title (RULES_ZH) is all the Chinese there is.

`check_name(expectation)` names a Great Expectations expectation in plain words (county reports do not show
`unexpected_rows_expectation`). This module imports nothing of Xuncha (errors.Problem calls it).
"""

from __future__ import annotations

import re

# (rule prefix, English message pattern, Chinese template: {col} the column, named groups of the pattern). First
# match wins; the order puts the specific sentences before the general ones.
_ADVICE: tuple[tuple[str, str, str], ...] = (
    ("row.invalid", r"is an id: ASCII as issued",
     "{col} 是编号，应与签发时完全一致（仅 ASCII 字符）；其中含有全角、形近（如西里尔字母）、零宽或方向控制字符：请改回原编号"),
    ("row.invalid", r"scientific form",
     "{col} 被电子表格写成了科学计数法（如 4.10325E+17），编号已被舍入：请把编号列设为“文本”格式，填回原编号后重新导出"),
    ("row.invalid", r"made mostly of '\?'",
     "{col} 的汉字在转换编码时丢失，变成了问号（字符丢失）：请以 UTF-8 或 GB18030 编码重新导出"),
    ("", r"holds a formula",
     "单元格中是公式：规范只接受值，请把公式转换为数值（复制后“选择性粘贴—数值”）"),
    ("", r"error value",
     "单元格中是 Excel 错误值（如 #N/A、#VALUE!），不是有效数据：请填写实际值，或留空表示无值"),
    ("row.invalid", r"JSON number in exponent form",
     "{col} 是指数形式的 JSON 数字（如 1e5）：请按规范第 8.4 节的格式书写，编号和日期请用 JSON 字符串"),
    ("row.invalid", r"JSON number where the spec wants a JSON string",
     "{col} 应为 JSON 字符串（加双引号），不能写成数字"),
    ("row.invalid", r"surrogate pair",
     "{col} 含有不完整的 UTF-16 代理对（如单独的 \\ud83d），不是有效的 Unicode 文本：请修正导出程序的字符转义"),
    ("row.invalid", r"nested JSON object|JSON array|JSON true/false",
     "{col} 应为字符串或数字，不能是嵌套对象、数组或 true/false"),
    ("row.invalid", r"NUL character",
     "{col} 含有空字符（U+0000，常见于定长字段的填充）：请删除"),
    ("row.invalid", r"TRUE/FALSE cell|cell is no value of the spec",
     "{col} 的单元格类型不被规范接受：请填写文本或数字"),
    ("row.invalid", r"is not a whole number",
     "{col} 应为整数：请填写整数"),
    ("row.invalid", r"number cell in a date column|date cell with a time of day",
     "{col} 是日期列：请使用日期格式的单元格，或文本 YYYY-MM-DD"),
    ("row.invalid", r"number cell in a \w+ column",
     "{col} 是文本列，但单元格是数字（Excel 会丢掉前导零、改写长编号）：请把该列设为“文本”格式后重新填写"),
    ("row.invalid", r"date(/time)? cell in a \w+ column",
     "{col} 是文本列，但单元格是日期：时间戳和文本请用文本格式的单元格"),
    ("row.invalid", r"is required",
     "{col} 为必填项，不能为空：请填写"),
    ("row.invalid", r"in code list (?P<codes>\S+)",
     "{col} 的取值不在代码表 {codes} 中：请使用规范代码表中的代码"),
    ("row.invalid", r"not a placeholder word",
     "{col} 是编号，不能填占位词（None、nan、NULL、N/A、- 等）：请填写真实编号或留空"),
    ("row.invalid", r"at most (?P<n>[\d,]+) characters",
     "{col} 超过 {n} 个字符的长度上限：请缩短"),
    ("row.invalid", r"not after its export's time|not later than the export",
     "{col} 不是有效时间，或晚于本批导出的生成时间/业务日期（+1 天）：请核对时间"),
    ("row.invalid", r"is a date: ",
     "{col} 的日期写法不符合规范：请写成 YYYY-MM-DD，年四位、月和日各两位，用“-”分隔，如 2019-03-05（不能写 2019-3-5 或 2019/03/05）"),
    ("row.invalid", r"is a timestamp: ",
     "{col} 的时间写法不符合规范：请写成带时区的 YYYY-MM-DDTHH:MM:SS+08:00，各部分两位数字，如 2019-03-15T08:04:11+08:00"
     "（不能省略秒或时区，不能写 2019-03-15 8:04）"),
    ("row.invalid", r"(is|be) a (valid )?date\b",
     "{col} 不是真实存在的日期（如 2 月 30 日、4 月 31 日）：请核对日期，写成 YYYY-MM-DD，如 2019-03-05"),
    ("row.invalid", r"(is|be) a (valid )?(timestamptz|timestamp|datetime)",
     "{col} 不是有效的日期时间（如 25 时、2 月 30 日）：请核对，写成带时区的 YYYY-MM-DDTHH:MM:SS+08:00，如 2019-03-15T08:04:11+08:00"),
    ("row.invalid", r"(is|be) a (valid )?(integer|numeric|number|decimal|smallint|bigint)",
     "{col} 不是有效数字：请只填写数字"),
    ("row.invalid", r"(is|be) a (valid )?\w+",
     "{col} 的类型不对：请按规范该列的类型填写"),
    ("row.invalid", r"pattern",
     "{col} 的格式不符合规范规定的格式：请按规范该列的说明填写"),
    ("row.invalid", r"within range|within \[",
     "{col} 超出规范允许的取值范围"),
    ("row.invalid", r"unique within the file|appears more than once",
     "{col} 在同一文件中重复出现：每条记录的编号只能出现一次"),
    ("row.reference", r"of another county system",
     "{col} 引用的其他县区系统记录尚未送达平台（仅警告）：请核对编号"),
    ("row.reference", r"refers to (?P<ref>\w+)",
     "{col} 引用的 {ref} 记录在本批导出和平台已有数据中都找不到：请先发送被引用的记录，或改正编号"),
    ("person.clear", r"",
     "{col} 中疑似有身份证号、手机号或银行卡号：人员信息不得以明文导出，请按规范第 6 节处理"),
    ("file.encoding", r"bytes are UTF-8 text, but the manifest declares gb18030",
     "文件内容是 UTF-8 编码，但清单声明为 gb18030：请把清单中的编码改为 utf-8，或以 GB18030 保存文件"),
    ("file.encoding", r"UTF-8 text in a file the manifest declares gb18030",
     "该行是 UTF-8 编码，混在声明为 GB18030 的文件中（混入其他编码的行）：请把每一行都以 GB18030 保存"),
    ("file.encoding", r"not Unicode",
     "文件中含有不是 Unicode 的文本：请以 UTF-8 或 GB18030 重新导出"),
    ("file.encoding", r"",
     "文件编码与清单声明的不一致：请按清单声明的编码（utf-8、utf-8-sig 或 gb18030）保存整个文件"),
    ("file.format", r"merged cells",
     "工作表中有合并单元格：请取消合并，每个值各占一个单元格"),
    ("file.format", r"blank row",
     "数据行之间有空行：请删除空行"),
    ("file.format", r"header line is longer|empty file|empty sheet",
     "文件第一行应为一行列名（表头），其后每行一条记录：请检查文件内容"),
    ("file.format", r"",
     "文件无法按规范格式读取：请按规范第 8 节（CSV、XLSX 或 JSON Lines）重新导出"),
    ("file.columns", r"required column",
     "缺少规范要求的列：请补上该列（列名用英文）"),
    ("file.columns", r"unknown column|more unknown columns",
     "文件中有规范未定义的列或列名拼写错误：请使用规范中的英文列名"),
    ("file.columns", r"appears \d+ times",
     "同一列名出现多次：每列只能出现一次"),
    ("file.columns", r"",
     "文件的列与规范不符：请使用规范中的英文列名，每列一个表头"),
    ("file.missing", r"",
     "清单中列出的文件不在导出目录中：请把文件一起发送，或从清单中删去"),
    ("file.sha256", r"",
     "文件的 SHA-256 校验值与清单不符（文件在生成清单后被改动或传输不完整）：请重新生成清单或重新发送文件"),
    ("file.rows", r"",
     "文件的数据行数与清单声明的不一致：请重新生成清单"),
    ("file.size", r"",
     "文件超出规范第 10.2 节的大小限制：请拆分为多个批次发送"),
    ("manifest.missing", r"",
     "导出目录中没有 manifest.json：请按规范第 3 节生成清单"),
    ("manifest.json", r"",
     "manifest.json 不是有效的 UTF-8 JSON：请用导出程序重新生成清单"),
    ("manifest.time", r"in the future",
     "清单的生成时间 generated_at 晚于平台当前时间：请校准导出机器的时钟"),
    ("manifest.time", r"",
     "清单的生成时间 generated_at 早于业务日期：请核对 business_date 和 generated_at"),
    ("manifest.schema", r"listed twice",
     "清单中同一实体列出了两次：每个实体只能有一个文件"),
    ("manifest.schema", r"",
     "清单不符合规范第 3 节：请按规范修正该字段"),
)
_COMPILED = tuple((rule, re.compile(pattern), zh) for rule, pattern, zh in _ADVICE)
# The advice whose sentence ends with the county's value rewritten in the spec's form (`rewritten`): pattern → kind.
_REWRITTEN = {r"is a date: ": "date", r"is a timestamp: ": "timestamp"}

# Great Expectations' names for its checks, as county reports show them (rule id first, then this).
_CHECKS = {
    "unexpected_rows_expectation": "row check 行校验",   # a row rule whose suite names no meta.check
    "expect_column_values_to_not_be_null": "required 必填",
    "expect_column_values_to_be_in_set": "code list 代码表",
    "expect_column_values_to_not_be_in_set": "placeholder 占位词",
    "expect_column_values_to_match_regex": "format 格式",
    "expect_column_value_lengths_to_be_between": "length 长度",
    "expect_column_values_to_be_between": "range 范围",
    "expect_column_values_to_be_unique": "unique 唯一",
    "expect_compound_columns_to_be_unique": "unique 唯一",
}


def advice(rule: str, message: str, column: str | None, value: str | None = None) -> str | None:
    """The Chinese sentence saying what to do about a problem of `rule` (`row.invalid:<check>` allowed) whose
    English `message` the platform wrote; `column` fills {col} ("该列" when None). For a date or time in the wrong
    form, `value` (what the county sent) is given back in the spec's form when it can be read without a guess
    (`2017-3-1` → `应写为 2017-03-01`). None when no sentence fits."""
    rule_id = rule.split(":", 1)[0]
    for prefix, pattern, zh in _COMPILED:
        if prefix and rule_id != prefix:
            continue
        m = pattern.search(message)
        if m:
            text = zh.format(col=column or "该列", **{k: v or "" for k, v in m.groupdict().items()})
            kind = _REWRITTEN.get(pattern.pattern)
            written = rewritten(value, kind) if kind and value else None
            return f"{text}。本行应写为 {written}" if written else text
    return None


_DATE_PARTS = re.compile(r"(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})(?:\s*日)?")
_TIME_PARTS = re.compile(r"[ T]+(\d{1,2})\s*[:：时]\s*(\d{1,2})(?:\s*[:：分]\s*(\d{1,2})\s*秒?)?")


def rewritten(value: str, kind: str) -> str | None:
    """`value` (a date or a timestamp in a form the spec does not take, §8.4) in the spec's form, when its parts can
    be read without a guess: year-month-day with `-`, `/`, `.` or 年月日, a real calendar day; for a timestamp a time
    of day after it and no offset, given as Beijing time (`2017-03-01 8:00` → `2017-03-01T08:00:00+08:00（如为北京时间）`).
    None otherwise (day-first forms, offsets, text that is no date)."""
    import datetime as dt

    value = value.strip()
    m = _DATE_PARTS.match(value)
    if not m:
        return None
    try:
        day = dt.date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
    except ValueError:
        return None
    rest = value[m.end():]
    if kind == "date":
        return day.isoformat() if not rest.strip() else None
    t = _TIME_PARTS.fullmatch(rest)
    if not t:
        return None
    try:
        clock = dt.time(int(t.group(1)), int(t.group(2)), int(t.group(3) or 0))
    except ValueError:
        return None
    return f"{day.isoformat()}T{clock.isoformat()}+08:00（如为北京时间）"


def check_name(expectation: str | None) -> str | None:
    """A Great Expectations expectation's type in plain words (`unexpected_rows_expectation` -> "row check 行校验");
    the type with underscores as spaces when unknown; None for None."""
    if expectation is None:
        return None
    return _CHECKS.get(expectation, expectation.removeprefix("expect_").replace("_", " "))
