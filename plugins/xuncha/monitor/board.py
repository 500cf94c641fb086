"""The county status board 事件与县区状态: open incidents and every county's state, as one offline HTML page.

`county_states(url, registry, now)` gives one row per county system active on the expected night: newest loaded
night (of its whole lineage), last quarantine, open incidents, delivery channel, contacts and next deadline.
`render(...)` makes the page served by the Airflow UI plugin (xuncha.orchestration.ui at /xuncha/incidents): every
asset inline, county text escaped, forms to acknowledge and resolve for operators only (`can_act`), and a banner
when no notification channel is configured.
"""

from __future__ import annotations

import datetime as dt
import html
from zoneinfo import ZoneInfo

from xuncha.monitor.findings import KINDS, expected_night, local_time
from xuncha.warehouse import db


def next_deadline(county, now: dt.datetime) -> dt.datetime | None:
    """The next deadline after `now` (aware) of a night the county exports: night N is due at `deadline` local time on
    N+1 (registry). None when the county exports no night in the next 40 days (or stopped)."""
    tz = ZoneInfo(county.timezone)
    local = now.astimezone(tz)
    for k in range(41):
        night = local.date() - dt.timedelta(days=1) + dt.timedelta(days=k)
        due = dt.datetime.combine(night + dt.timedelta(days=1), county.deadline, tz)
        if due > local and county.active_on(night) and county.exports_on(night):
            return due
    return None


def county_states(url: str | None, registry, now: dt.datetime, include_ended: bool = False) -> list[dict]:
    """One dict per county active on the expected night (registry order): code, name, lineage, last_loaded_night,
    last_quarantine ({business_date, batch_id, export_id} or None), open_incidents ([{incident_id, kind, state}]),
    delivery (text), contacts (text), next_deadline (aware datetime or None), ended (None, or for a county whose last
    night, registry `active_to`, is past: {"active_to", "successor": label or None}). `include_ended`: the ended
    counties too (`xuncha counties`; the page lists the active ones)."""
    night = expected_night(now)
    out = []
    with db.connect(url) as conn, conn.cursor() as cur:
        for c in registry.counties:
            ended = _ended(registry, c, night)
            if not c.active_on(night) and not (include_ended and ended):
                continue
            lineage = list(registry.lineage(c.code))
            cur.execute("""SELECT max(business_date) FILTER (WHERE status = 'loaded') FROM audit.batches
                            WHERE county_code = ANY(%s)""", (lineage,))
            last = cur.fetchone()[0]
            cur.execute("""SELECT business_date, batch_id, export_id FROM audit.batches
                            WHERE county_code = ANY(%s) AND status = 'quarantined' ORDER BY batch_id DESC LIMIT 1""", (lineage,))
            q = cur.fetchone()
            cur.execute("""SELECT incident_id, kind, state FROM audit.incidents
                            WHERE county_code = %s AND state <> 'resolved' ORDER BY incident_id""", (c.code,))
            incs = [{"incident_id": i, "kind": k, "state": s} for i, k, s in cur.fetchall()]
            out.append({"code": c.code, "name": c.name, "lineage": lineage, "last_loaded_night": last,
                        "last_quarantine": q and {"business_date": q[0], "batch_id": q[1], "export_id": q[2]},
                        "open_incidents": incs, "delivery": _delivery(c), "contacts": _contacts(c),
                        "next_deadline": next_deadline(c, now), "ended": ended})
    return out


def _ended(registry, county, night: dt.date) -> dict | None:
    """{"active_to", "successor"} when the county's last night (registry `active_to`) is before `night`, else None."""
    if county.active_to is None or county.active_to >= night:
        return None
    successor = registry.get(county.successor).label if county.successor else None
    return {"active_to": county.active_to, "successor": successor}


def condition(state: dict, now: dt.datetime, max_age_nights: int = 1) -> str:
    """One word for a `county_states` row at `now`: `ended → <successor>` (its last night, registry `active_to`, is
    past: its nights go on under its successor, nothing is expected of it), else `quarantined` (an open quarantine
    incident, or its newest quarantine is of a night after its newest loaded night), `stale` (an open stale incident,
    never loaded, or the newest loaded night more than `max_age_nights` behind the expected night, yesterday in
    Asia/Shanghai: xuncha.monitor.findings' stale rule), both joined by ', ', or `ok`. What `xuncha counties` and the
    page 事件与县区状态 show."""
    if state.get("ended"):
        return f"ended → {state['ended']['successor'] or '—'}"
    kinds = {i["kind"] for i in state["open_incidents"]}
    last, q = state["last_loaded_night"], state["last_quarantine"]
    out = []
    if "quarantine" in kinds or (q and (last is None or q["business_date"] > last)):
        out.append("quarantined")
    if "stale" in kinds or last is None or (expected_night(now) - last).days > max_age_nights:
        out.append("stale")
    return ", ".join(out) or "ok"


def lag_line(newest: dt.date | None, now: dt.datetime, max_age_nights: int = 1) -> str | None:
    """The header line when the warehouse as a whole is behind the expected night (yesterday at `now`), so every
    county shows `stale` for one reason: 'newest night in the warehouse: 2017-02-28, 3568 nights behind today
    (expected night 2026-12-06) …'. None when the newest night loaded (xuncha.monitor.nights.newest_night) is within
    `max_age_nights` of it."""
    night = expected_night(now)
    if newest is None:
        return f"the warehouse holds no loaded night yet (expected night {night}): every active county is stale"
    behind = (night - newest).days
    if behind <= max_age_nights:
        return None
    return (f"newest night in the warehouse: {newest}, {behind} nights behind today (expected night {night}): every "
            f"county is stale against today — a demo or history load, or nothing loaded since "
            f"(see `xuncha nights --to {newest}`)")


def _delivery(c) -> str:
    if c.pulled:
        return f"HTTP pull 拉取 ({c.delivery['http']['conn_id']})"
    target = c.delivery.get("landing", "default")
    return "landing 投递目录" + ("" if target == "default" else f" ({target})")


def _contacts(c) -> str:
    parts = list(c.contacts.get("email") or [])
    if c.contacts.get("chat_conn_id"):
        parts.append(f"chat 群机器人 {c.contacts['chat_conn_id']}")
    return ", ".join(parts)


CSS = """body{font-family:system-ui,"Noto Sans CJK SC","Microsoft YaHei",sans-serif;margin:20px;color:#1c2430}
h1{font-size:22px;margin:0 0 12px}h2{font-size:17px;margin:22px 0 8px}
table{border-collapse:collapse;width:100%;font-size:13px}th,td{border-bottom:1px solid #dde3ea;padding:6px 8px;
text-align:left;vertical-align:top}th{background:#f3f5f8}.critical{color:#b71c1c;font-weight:600}
.warning{color:#8a5a00}.banner{background:#fff3cd;border:1px solid #e0b400;padding:10px 14px;margin:0 0 14px;
border-radius:4px}.muted{color:#667}form{display:inline-flex;gap:4px;margin:2px 0}input[type=text]{width:11em}
button{cursor:pointer}.state-open{color:#b71c1c}.state-acknowledged{color:#1565c0}"""


def _e(value) -> str:
    return html.escape("" if value is None else str(value))


def _t(value: dt.datetime | None) -> str:
    return local_time(value)


def render(incidents: list[dict], states: list[dict], *, can_act: bool, user: str, channels_off: str | None,
           prefix: str = "/xuncha", message: str | None = None, now: dt.datetime | None = None,
           lag: str | None = None) -> str:
    """The page: `incidents` (xuncha.monitor.incidents.listing), `states` (county_states); `can_act` shows the
    acknowledge/resolve forms (operators), else the page is read-only; `channels_off` the banner text (None: none);
    `now`: each county's `condition` at `now` in a state column (as `xuncha counties` shows it; default the clock);
    `lag`: `lag_line`'s text above the counties (None: none)."""
    now = now or dt.datetime.now(dt.timezone.utc)
    parts = ["<!DOCTYPE html><html lang='zh-CN'><head><meta charset='utf-8'><title>事件与县区状态 Incidents</title>",
             f"<style>{CSS}</style></head><body><h1>事件与县区状态 · Incidents and counties</h1>"]
    if channels_off:
        parts.append(f"<div class='banner' id='notifications-off' role='alert'>⚠ {_e(channels_off)}</div>")
    if message:
        parts.append(f"<div class='banner' id='message'>{_e(message)}</div>")
    role = "operator 运维（可确认、解决）" if can_act else "viewer 只读"
    parts.append(f"<p class='muted' id='who'>{_e(user)} — {role}</p>")
    parts.append(f"<h2>未解决事件 Open incidents ({len(incidents)})</h2>")
    if not incidents:
        parts.append("<p id='no-incidents'>无未解决事件 — nothing open.</p>")
    else:
        parts.append("<table id='incidents'><thead><tr><th>#</th><th>县区 county</th><th>类型 kind</th><th>状态 state</th>"
                     "<th>首次/最近 first/last seen</th><th>摘要 summary</th>" + ("<th>操作 action</th>" if can_act else "")
                     + "</tr></thead><tbody>")
        for i in incidents:
            sev = i["severity"]
            state = i["state"] + (f" · {i['acknowledged_by']} {_t(i['acknowledged_at'])}"
                                  + (f" «{i['ack_note']}»" if i["ack_note"] else "") if i["state"] == "acknowledged" else "")
            row = (f"<tr id='incident-{i['incident_id']}' data-kind='{_e(i['kind'])}' data-state='{_e(i['state'])}'>"
                   f"<td>{i['incident_id']}</td><td>{_e(i['county_code'])}</td>"
                   f"<td class='{sev}'>{_e(i['kind'])} {_e(KINDS[i['kind']][1])}</td>"
                   f"<td class='state-{_e(i['state'])}'>{_e(state)}</td>"
                   f"<td>{_t(i['first_seen'])}<br>{_t(i['last_seen'])} (×{i['seen_count']})</td><td>{_e(i['summary'])}"
                   + (f" <a href='{prefix}/quarantine/{int(i['detail']['batch_id'])}'>隔离报告</a>"
                      if i["kind"] == "quarantine" and (i.get("detail") or {}).get("batch_id") else "") + "</td>")
            if can_act:
                acts = ""
                if i["state"] == "open":
                    acts += (f"<form method='post' action='{prefix}/incidents/{i['incident_id']}/ack' class='ack'>"
                             "<input type='text' name='note' placeholder='备注 note'><button type='submit'>确认 Acknowledge</button></form>")
                acts += (f"<form method='post' action='{prefix}/incidents/{i['incident_id']}/resolve' class='resolve'>"
                         "<input type='text' name='reason' required placeholder='原因 reason'>"
                         "<button type='submit'>解决 Resolve</button></form>")
                row += f"<td>{acts}</td>"
            parts.append(row + "</tr>")
        parts.append("</tbody></table>")
    parts.append("<h2>县区状态 Counties</h2>")
    if lag:
        parts.append(f"<p class='banner' id='warehouse-lag'>{_e(lag)}</p>")
    parts.append("<table id='counties'><thead><tr><th>县区 county</th><th>最新入库 newest loaded night</th>"
                 "<th>最近隔离 last quarantine</th><th>未解决事件 open incidents</th><th>投递方式 channel</th>"
                 "<th>联系人 contacts</th><th>下一截止 next deadline</th><th>状态 state</th></tr></thead><tbody>")
    for s in states:
        q = s["last_quarantine"]
        quarantine = (f"<a href='{prefix}/quarantine/{int(q['batch_id'])}'>{_e(q['business_date'])} {_e(q['export_id'])}</a>"
                      if q else "—")
        incs = ", ".join(f"#{i['incident_id']} {_e(i['kind'])}" for i in s["open_incidents"]) or "—"
        lineage = f" <span class='muted'>(含 {', '.join(s['lineage'][1:])})</span>" if len(s["lineage"]) > 1 else ""
        parts.append(f"<tr id='county-{_e(s['code'])}'><td>{_e(s['name'])} {_e(s['code'])}{lineage}</td>"
                     f"<td class='last-loaded'>{_e(s['last_loaded_night'] or '从未入库 never')}</td><td>{quarantine}</td>"
                     f"<td class='open'>{incs}</td><td>{_e(s['delivery'])}</td><td class='contacts'>{_e(s['contacts']) or '—'}</td>"
                     f"<td>{_t(s['next_deadline'])}</td><td class='state'>{_e(condition(s, now))}</td></tr>")
    parts.append("</tbody></table></body></html>")
    return "".join(parts)
