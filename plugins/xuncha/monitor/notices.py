"""Who hears about an incident, and what they are told (通知).

- **Operators** (`Audience` key `operators`) hear every event of every incident, in English with the Chinese terms,
  through the operators' channels (the SMTP connection's own `to`, the chat connection).
- **A county's contacts** (`contacts` of its entry in config/counties.yml: e-mail and/or a chat robot connection)
  hear when an incident of their own county opens and when it is resolved, in Chinese: what was wrong, and for a
  quarantine each problem's file, row, column and value, how to fix it, and the link to the quarantine report page.
  No county hears about another county's incidents. Escalations go to operators only.

Sending itself is the caller's `send(audience, subject, text) -> [(channel, target, error or None)]`
(xuncha.orchestration.notifications.deliver: Airflow's notifiers); `deliver` records every attempt in
audit.notifications.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Callable

from xuncha.monitor.findings import KINDS, local_time
from xuncha.warehouse import db


@dataclass(frozen=True)
class Audience:
    """Who a message goes to: `key` 'operators' or a county code; `email` addresses (None: the SMTP connection's own
    `to`), `chat_conn_id` (None: the operators' chat connection); `zh`: the message is written in Chinese only."""
    key: str
    name: str
    email: tuple[str, ...] | None = None
    chat_conn_id: str | None = None
    zh: bool = False


OPERATORS = Audience("operators", "operators 运维")
Sender = Callable[[Audience, str, str], list]
"""send(audience, subject, text) -> [(channel, target, error or None)], one entry per channel tried."""

FIX_ZH = {
    "manifest": "请按《导出规范》重新生成 manifest.json（区划代码、业务日期、文件清单须与实际一致）后重新投递。",
    "export.reused": "同一导出批次号不能用于不同内容：请使用新的批次号重新导出。",
    "export.failed": "平台处理出错，非县区责任；运维人员会处理，无需操作。",
    "file.sha256": "文件在传输中被改动或清单写错：请重新导出并重新投递完整文件。",
    "file.rows": "清单声明的行数与文件不符：请重新导出，确保文件完整。",
    "file.encoding": "文件编码与清单声明不符：请按清单声明的编码（UTF-8 或 GB18030）重新导出。",
    "file.columns": "请按《导出规范》的列名和列顺序重新导出该文件。",
    "file": "请重新导出该文件并重新投递。",
    "row.reference": "该行引用的记录不存在：请一并导出被引用的记录（或更正引用）后重新投递。",
    "row": "请在本县系统中更正该行的值后重新导出当晚数据。",
    "person.clear": "不得发送真实姓名或身份证号：请改用人员化名编号后重新导出。",
    "withdraw.held": "全量快照将撤销大量记录：请确认是否导出不完整；如确需撤销，请联系运维人员确认。",
}
KIND_FIX_ZH = {
    "stale": "请检查本县系统的夜间导出任务是否运行，并补发缺失日期的导出。",
    "missing": "请尽快导出并投递上述日期的数据。",
    "late": "请检查导出任务的运行时间，确保在截止时间前完成投递。",
    "volume": "请检查导出程序是否正确读取了当晚的变更数据（仅有心跳、没有数据行）。",
    "platform_failure": "平台处理出错，非县区责任；运维人员会处理，无需操作。",
    "pull_failure": "平台无法从本县系统拉取数据：请检查接口服务是否运行、令牌是否有效。",
    "rectification_overdue": "请督促责任单位完成整改或在系统中更新整改状态。",
    "clues_overdue": "请督促线索承办单位按三个月期限反馈处置情况。",
}


def _row_zh(row) -> str:
    """A report's `row` (data row from 1, export spec §10.1) as a county clerk finds it in the file: the data row,
    and the line counting the header (the line a spreadsheet shows)."""
    if not row:
        return "表头" if row == 0 else "第 — 行"
    return f"第 {row} 条数据（含表头为第 {row + 1} 行）"


def fix_zh(rule: str | None) -> str:
    """How a county fixes a problem of `rule` (a RULES_ZH id, `:<expectation>` allowed), in Chinese."""
    rule = (rule or "").split(":")[0]
    for key in (rule, rule.split(".")[0]):
        if key in FIX_ZH:
            return FIX_ZH[key]
    return "请按《导出规范》更正后重新导出并投递。"


def audiences(registry, incident: dict, event: str) -> list[Audience]:
    """Operators always; the county's own contacts (if it has any) on `opened` and `resolved`."""
    out = [OPERATORS]
    if event in ("opened", "resolved"):
        try:
            county = registry.get(incident["county_code"])
        except KeyError:
            return out
        c = county.contacts or {}
        if c:
            out.append(Audience(county.code, county.label, tuple(c.get("email") or ()) or (), c.get("chat_conn_id"),
                                zh=True))
    return out


def compose(event: str, incident: dict, audience: Audience, county_name: str, ui_url: str) -> tuple[str, str]:
    """(subject, text) of `event` about `incident` (a row of xuncha.monitor.incidents) for `audience`."""
    kind_zh = KINDS[incident["kind"]][1]
    link = _link(incident, ui_url)
    if audience.zh:
        return _zh(event, incident, county_name, kind_zh, link)
    verb = {"opened": "opened", "escalated": "ESCALATED (open, not acknowledged)", "resolved": "resolved"}[event]
    subject = f"[Xuncha] incident #{incident['incident_id']} {verb}: {incident['kind']} {kind_zh} — {county_name}"
    lines = [incident["summary"], f"severity: {incident['severity']}; first seen {_t(incident['first_seen'])}, "
                                  f"last seen {_t(incident['last_seen'])}, seen {incident['seen_count']} time(s)"]
    if event == "resolved":
        lines.append(f"resolved by {incident['resolved_by']} at {_t(incident['resolved_at'])}: {incident['resolved_reason']}")
    for p in (incident.get("detail") or {}).get("problems") or []:
        lines.append(f"- [{p.get('rule')}] {_where(p)}: {p.get('message')}")
    lines.append(f"incidents: {ui_url}/xuncha/incidents" + (f"\nquarantine report: {link}" if link else ""))
    return subject, "\n".join(lines)


def _zh(event: str, inc: dict, county_name: str, kind_zh: str, link: str | None) -> tuple[str, str]:
    detail = inc.get("detail") or {}
    if event == "resolved":
        subject = f"【巡察数据平台】{county_name}：{kind_zh}已解决（事件 #{inc['incident_id']}）"
        who = "问题已消除，平台自动确认" if inc["resolved_by"] == "auto" else f"由 {inc['resolved_by']} 处理"
        return subject, f"{subject}\n{who}，时间 {_t(inc['resolved_at'])}。\n说明：{inc['resolved_reason']}"
    subject = f"【巡察数据平台】{county_name}：{kind_zh}（事件 #{inc['incident_id']}）"
    lines = [subject, f"发现时间：{_t(inc['first_seen'])}"]
    kind = inc["kind"]
    if kind in ("quarantine", "platform_failure"):
        lines.append(f"问题：业务日期 {detail.get('business_date')} 的导出（批次号 {detail.get('export_id')}）"
                     + ("未通过校验，已被隔离，未入库。" if kind == "quarantine" else "在平台处理时出错，未入库。"))
        listed, count = len(detail.get("problems") or []), detail.get("problem_count") or 0
        if count > listed:
            lines.append(f"共 {count} 项问题，以下是前 {listed} 项；全部问题见隔离报告。")
        for i, p in enumerate(detail.get("problems") or [], 1):
            check = f"，{p['check']}" if p.get("check") else ""
            lines.append(f"{i}. 文件 {p.get('file') or '—'}，{_row_zh(p.get('row'))}，"
                         f"列 {p.get('column') or '—'}，值 “{p.get('value') if p.get('value') is not None else '—'}”："
                         f"{p.get('rule_zh') or p.get('rule')}（{p.get('rule')}{check}）")
            # The problem's own advice (advice_zh: `found_date 的日期写法不符合规范：请写成 YYYY-MM-DD …`) where the
            # report has one; the rule's general one after it (what to send again).
            lines.append(f"   处理方法：{p['message_zh'] + '；' if p.get('message_zh') else ''}{fix_zh(p.get('rule'))}")
        if not detail.get("problems"):
            lines.append(f"处理方法：{KIND_FIX_ZH.get(kind, fix_zh(None))}")
        if link:
            lines.append(f"隔离报告：{link}")
    elif kind == "stale":
        lines.append(f"问题：最新入库的业务日期为 {detail.get('last_loaded_night') or '无（从未入库）'}，"
                     f"应至 {detail.get('expected_night')}" + (f"，已落后 {detail['age_nights']} 天。" if detail.get("age_nights") else "。"))
    elif kind in ("missing", "late"):
        lines.append(f"问题：以下业务日期的导出{'过了截止时间仍未收到' if kind == 'missing' else '晚于截止时间到达'}："
                     + "、".join(detail.get("nights") or []))
    elif kind == "volume":
        if detail.get("rule") == "heartbeats_only":
            lines.append(f"问题：自 {detail.get('since')} 起连续 {detail.get('nights')} 晚的导出没有数据行"
                         f"（仅心跳，\"files\": []），而此前每晚中位数为 {detail.get('median'):g} 行。")
        else:
            lines.append(f"问题：业务日期 {detail.get('since')} 的导出只有 {detail.get('rows')} 行，"
                         f"远低于此前每晚中位数 {detail.get('median'):g} 行。")
    else:
        lines.append(f"问题：{inc['summary']}")
    if kind not in ("quarantine", "platform_failure"):
        lines.append(f"处理方法：{KIND_FIX_ZH.get(kind, fix_zh(None))}")
    lines.append("问题消除后平台会自动确认并通知。如有疑问请联系市巡察办数据运维人员。")
    return subject, "\n".join(lines)


def _link(incident: dict, ui_url: str) -> str | None:
    batch = (incident.get("detail") or {}).get("batch_id")
    return f"{ui_url}/xuncha/quarantine/{batch}" if batch and incident["kind"] == "quarantine" else None


def _where(p: dict) -> str:
    return ", ".join(x for x in (p.get("file"), p.get("row") and f"row {p['row']}", p.get("column") and f"column {p['column']}",
                                 p.get("value") is not None and f"value {p['value']!r}") if x)


def _t(value) -> str:
    return local_time(value)


def deliver(url: str | None, events: list, registry, send: Sender, ui_url: str,
            now: dt.datetime | None = None) -> list[dict]:
    """Send each event (xuncha.monitor.incidents.Event) to its audiences through `send`, record every attempt in
    audit.notifications; returns the rows recorded ({incident_id, event, audience, channel, target, ok, error})."""
    now = now or dt.datetime.now(dt.timezone.utc)
    out = []
    for ev in events:
        inc = ev.incident
        try:
            name = registry.get(inc["county_code"]).label
        except KeyError:
            name = inc["county_code"]
        for aud in audiences(registry, inc, ev.event):
            subject, text = compose(ev.event, inc, aud, name, ui_url)
            for channel, target, error in send(aud, subject, text):
                out.append({"incident_id": inc["incident_id"], "event": ev.event, "audience": aud.key,
                            "channel": channel, "target": target, "ok": error is None, "error": error})
    record(url, out, now)
    return out


def record(url: str | None, rows: list[dict], now: dt.datetime) -> None:
    """Insert `rows` (as `deliver` returns them; incident_id None for a test message) into audit.notifications."""
    if not rows:
        return
    with db.connect(url) as conn, conn.cursor() as cur:
        cur.executemany("""INSERT INTO audit.notifications (incident_id, event, audience, channel, target, ok, error, sent_at)
                           VALUES (%(incident_id)s, %(event)s, %(audience)s, %(channel)s, %(target)s, %(ok)s, %(error)s,
                                   %(now)s)""", [{**r, "now": now} for r in rows])
