"""What goes wrong with an export, said precisely: county, file, row, column, rule, value.

A `Problem` is one finding; any critical problem quarantines the export. Every rule has a stable id (used in
reports, tests and the export spec, §10) and a Chinese label for county staff (RULES_ZH).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from xuncha.text import excerpt

MESSAGE_CHARS = 600

RULES_ZH = {
    "manifest.missing": "缺少导出清单 manifest.json",
    "manifest.json": "导出清单不是有效的 JSON",
    "manifest.schema": "导出清单不符合规范",
    "manifest.county": "导出清单的区划代码与投递目录所属县区不符",
    "manifest.spec_version": "规范版本不受支持",
    "manifest.time": "生成时间早于业务日期或晚于当前时间",
    "export.reused": "导出批次号已用于内容不同的导出",
    "export.failed": "平台处理该导出时出错（非县区责任）",
    "file.size": "文件超出规范规定的大小限制",
    "file.missing": "清单所列文件缺失",
    "file.not_regular": "不是普通文件（符号链接、外部硬链接、设备、管道或套接字），未打开即拒收",
    "file.sha256": "文件 SHA-256 校验值不符",
    "file.rows": "文件行数与清单不符",
    "file.encoding": "文件编码与清单不符",
    "file.format": "文件格式错误，无法解析",
    "file.columns": "文件列与规范不符（缺列、多列或列名错误）",
    "row.invalid": "数据行未通过校验",
    "row.reference": "数据行引用的记录不存在",
    "person.clear": "人员标识疑似真实姓名或身份证号",
    "withdraw.held": "全量快照将撤销过多记录，已暂停待确认",
}


@dataclass(frozen=True)
class Problem:
    """One finding about an export: the rule id (RULES_ZH, optionally `:<expectation>`), a message, and where
    (file, data row from 1, column) with the offending value; severity critical quarantines, warning does not."""
    rule: str
    message: str
    file: str | None = None
    row: int | None = None
    column: str | None = None
    value: str | None = None
    severity: str = "critical"
    message_zh: str | None = None   # what to do, in Chinese, for county staff (the rules counties hit most)
    check: str | None = None        # the check in plain words when the suite names it (meta.check): `date format 日期格式`

    def __post_init__(self):
        # A report or alert quotes at most a bounded excerpt of any value (export spec §10.2): a county's value of
        # megabytes must not become a report, an alert or a webhook of megabytes. A column is a county's header
        # cell too (a 100 KB "column name"). Half a surrogate pair (JSON's "\ud83d") cannot be written as UTF-8:
        # it is quoted as its escape, so writing the report never fails on what the county sent.
        for name, limit in (("value", None), ("column", None), ("message", MESSAGE_CHARS), ("message_zh", MESSAGE_CHARS)):
            text = getattr(self, name)
            if text is None:
                continue
            text = excerpt(text) if limit is None else excerpt(text, limit)
            if not text.isascii():
                text = text.encode("utf-8", "backslashreplace").decode("utf-8")
            object.__setattr__(self, name, text)
        if self.message_zh is None:   # what to do, in Chinese, for the messages counties hit most (xuncha.advice_zh)
            from xuncha.advice_zh import advice

            object.__setattr__(self, "message_zh", advice(self.rule, self.message, self.column, self.value))

    @property
    def rule_zh(self) -> str:
        """The rule's Chinese label for county staff (RULES_ZH; the rule id itself when unknown)."""
        return RULES_ZH.get(self.rule.split(":")[0], self.rule)

    def where(self) -> str:
        """`file, row n, column c`: the parts that are known."""
        parts = [p for p in (self.file, f"row {self.row}" if self.row else None, f"column {self.column}" if self.column else None) if p]
        return ", ".join(parts)

    def __str__(self) -> str:
        where = self.where()
        value = f" (value {self.value!r})" if self.value is not None else ""
        return f"[{self.label}] {where + ': ' if where else ''}{self.message}{value}"

    @property
    def label(self) -> str:
        """The rule as county reports show it: the rule id, and the check in plain words when one is named
        (`row.invalid, date format 日期格式`: the suite's meta.check, else the GX type in words; never GX's
        `unexpected_rows_expectation`)."""
        check = self.check_words
        return f"{self.rule_id}, {check}" if check else self.rule_id

    @property
    def check_words(self) -> str | None:
        """The check that found the problem in plain words (`date format 日期格式`, `code list 代码表`); None when
        the rule names no check (a parser's or a file's problem)."""
        from xuncha.advice_zh import check_name

        if not self.expectation:
            return None
        return self.check or check_name(self.expectation)

    @property
    def rule_id(self) -> str:
        """The rule id of export spec §10.1 (`row.invalid`), without the check named after a colon."""
        return self.rule.split(":", 1)[0]

    @property
    def expectation(self) -> str | None:
        """The check that found the problem when the rule names one (`row.invalid:expect_column_values_to_be_in_set`
        -> `expect_column_values_to_be_in_set`), else None."""
        return self.rule.split(":", 1)[1] if ":" in self.rule else None

    def to_dict(self) -> dict:
        """JSON-ready dict of the problem as a report entry (export spec §10.1): `rule` exactly a rule id of
        §10.1, `rule_zh` its Chinese label, the check that found it in its own field `expectation` (or None) and in
        plain words in `check` (or None)."""
        return {**asdict(self), "rule": self.rule_id, "expectation": self.expectation, "check": self.check_words,
                "rule_zh": self.rule_zh}
