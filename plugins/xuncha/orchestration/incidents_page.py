"""The incidents page 事件与县区状态 in the Airflow UI (routes of xuncha.orchestration.ui's app, at /xuncha/incidents).

- `GET /xuncha/incidents` — open incidents and every county's state (xuncha.monitor.board), a banner when no
  notification channel is configured. Every signed-in user reads it.
- `POST /xuncha/incidents/{id}/ack` (form field `note`) and `POST /xuncha/incidents/{id}/resolve` (form field
  `reason`) — operators only: users Airflow's auth manager lets edit DAGs (`is_authorized_dag(method="PUT")`: the
  simple auth manager's user, op and admin roles; a viewer gets 403). The actor's name is the signed-in user's.
  A resolve notifies like the health run does. Both answer with a redirect back to the page (303); a form posted
  from another origin is refused (403).
"""

from __future__ import annotations

import datetime as dt
from urllib.parse import quote, urlsplit

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from airflow.api_fastapi.app import get_auth_manager
from airflow.api_fastapi.core_api.security import GetUserDep

router = APIRouter()


def _can_act(request: Request, user) -> bool:
    """Can `user` acknowledge and resolve (edit DAGs, or admin)?"""
    return get_auth_manager().is_authorized_dag(method="PUT", user=user)   # the api-server's own instance


def _require_operator(request: Request, user) -> None:
    """403 unless `user` is an operator and the form came from this site (the JWT cookie is SameSite=Lax already; a
    foreign Origin is refused as well)."""
    origin = request.headers.get("origin")
    if origin and origin != "null" and urlsplit(origin).netloc != request.headers.get("host"):
        raise HTTPException(403, "a form from another site")
    if not _can_act(request, user):
        raise HTTPException(403, "acknowledging and resolving incidents needs a user who can edit DAGs (operator)")


@router.get("/incidents", response_class=HTMLResponse)
def incidents_page(request: Request, user: GetUserDep, msg: str | None = None):
    """GET /incidents: the board, with forms for operators and read-only for viewers."""
    from xuncha import registry
    from xuncha.monitor import board, incidents, nights
    from xuncha.orchestration import notifications
    from xuncha.orchestration.ui import PREFIX, _url

    url = _url()
    now = dt.datetime.now(dt.timezone.utc)
    return board.render(incidents.listing(url), board.county_states(url, registry.default(), now),
                        can_act=_can_act(request, user), user=user.get_name(), channels_off=notifications.off_line(),
                        prefix=PREFIX, message=msg, now=now, lag=board.lag_line(nights.newest_night(url), now))


@router.post("/incidents/{incident_id}/ack")
def acknowledge(incident_id: int, request: Request, user: GetUserDep, note: str = Form("")):
    """POST /incidents/{id}/ack: acknowledge an open incident as the signed-in operator."""
    from xuncha.monitor import incidents
    from xuncha.orchestration.ui import PREFIX, _url

    _require_operator(request, user)
    try:
        incidents.ack(_url(), incident_id, user.get_name(), note.strip())
    except incidents.IncidentError as exc:
        return RedirectResponse(f"{PREFIX}/incidents?msg={quote(str(exc))}", status_code=303)
    return RedirectResponse(f"{PREFIX}/incidents?msg={quote(f'#{incident_id} 已确认 acknowledged')}", status_code=303)


@router.post("/incidents/{incident_id}/resolve")
def resolve(incident_id: int, request: Request, user: GetUserDep, reason: str = Form(...)):
    """POST /incidents/{id}/resolve: resolve an incident as the signed-in operator, and notify."""
    from xuncha import registry
    from xuncha.monitor import incidents, notices
    from xuncha.orchestration import notifications
    from xuncha.orchestration.ui import PREFIX, _url
    from xuncha.settings import get_settings

    _require_operator(request, user)
    url = _url()
    try:
        event = incidents.resolve(url, incident_id, user.get_name(), reason.strip())
    except incidents.IncidentError as exc:
        return RedirectResponse(f"{PREFIX}/incidents?msg={quote(str(exc))}", status_code=303)
    notices.deliver(url, [event], registry.default(), notifications.deliver, get_settings().ui_url)
    return RedirectResponse(f"{PREFIX}/incidents?msg={quote(f'#{incident_id} 已解决 resolved')}", status_code=303)
