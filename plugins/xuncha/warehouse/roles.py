"""Warehouse roles (migration 0040): the county readers of the registry, passwords from the environment, and URLs.

Roles and what each may do are made by migration 0040; this module does what SQL in the repository cannot:
one county reader `xuncha_county_<code>` per code of config/counties.yml, and each role's password, which only
ever comes from the environment (never the repository, never a log):

  XUNCHA_LOADER_PASSWORD           xuncha_loader  (the pipeline; the Airflow connection `xuncha_warehouse` uses it)
  XUNCHA_READER_PASSWORD           xuncha_reader  (report consumers: the mart tables)
  XUNCHA_COUNTY_READER_PASSWORD_<code>  xuncha_county_<code> (its own county's mart rows)

A role whose variable is unset keeps its password (or has none: the embedded server lets local users in over
its Unix socket, which only the owner of XUNCHA_HOME can reach). `sync` runs after every `xuncha db migrate`.
"""

from __future__ import annotations

import re

from xuncha.settings import get_settings

LOADER = "xuncha_loader"
READER = "xuncha_reader"
COUNTY_GROUP = "xuncha_county_reader"
_CODE = re.compile(r"\A[0-9A-Za-z]{1,12}\Z")


def county_role(code: str) -> str:
    """Name of county `code`'s reader role; ValueError for a code that is not 1-12 letters or digits."""
    if not _CODE.match(code):
        raise ValueError(f"county code {code!r} is not 1-12 letters or digits")
    return f"xuncha_county_{code.lower()}"


def password_var(role: str) -> str:
    """The environment variable holding `role`'s password."""
    if role == LOADER:
        return "XUNCHA_LOADER_PASSWORD"
    if role == READER:
        return "XUNCHA_READER_PASSWORD"
    return "XUNCHA_COUNTY_READER_PASSWORD_" + role.removeprefix("xuncha_county_").upper()


def sync(conn, codes: list[str] | None = None) -> list[str]:
    """Make the county readers of `codes` (default: every code of the registry), re-apply grants and row-level
    security (audit.apply_access) and set passwords from the environment. Needs the owner's connection (a role
    allowed to create roles). Returns the county roles made now."""
    from psycopg2 import sql

    if codes is None:
        from xuncha import registry

        codes = [c.code for c in registry.default().counties]
    made = []
    with conn.cursor() as cur:
        cur.execute("SELECT to_regprocedure('audit.apply_access()') IS NOT NULL")
        if not cur.fetchone()[0]:
            return made  # migration 0040 not applied (a migrations folder of tests)
        for code in codes:
            role = county_role(code)
            cur.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,))
            if cur.fetchone() is None:
                cur.execute(sql.SQL("CREATE ROLE {} LOGIN NOSUPERUSER NOBYPASSRLS IN ROLE {}").format(
                    sql.Identifier(role), sql.Identifier(COUNTY_GROUP)))
                made.append(role)
        cur.execute("SELECT audit.apply_access()")
    _set(conn, [LOADER, READER, *(county_role(c) for c in codes)])
    return made


def set_passwords(conn) -> list[str]:
    """Set the password of every existing role whose variable is set in the environment (LOADER, READER and
    county readers: XUNCHA_COUNTY_READER_PASSWORD_<CODE>); roles that do not exist are left alone. What a skipped
    migration run still does (xuncha.warehouse.migration_state). Needs the owner's connection. Returns the roles set."""
    passwords = get_settings().role_passwords
    if not passwords:
        return []
    wanted = {LOADER, READER} | {county_role(v.removeprefix("XUNCHA_COUNTY_READER_PASSWORD_"))
                                 for v in passwords if v.startswith("XUNCHA_COUNTY_READER_PASSWORD_")
                                 and _CODE.match(v.removeprefix("XUNCHA_COUNTY_READER_PASSWORD_"))}
    with conn.cursor() as cur:
        cur.execute("SELECT rolname FROM pg_roles WHERE rolname = ANY(%s)", (sorted(wanted),))
        existing = sorted(r for (r,) in cur.fetchall())
    return _set(conn, existing)


def _set(conn, role_names: list[str]) -> list[str]:
    """ALTER ROLE … PASSWORD for each of `role_names` whose variable is set; returns those set."""
    from psycopg2 import sql

    passwords, done = get_settings().role_passwords, []
    with conn.cursor() as cur:
        for role in role_names:
            password = passwords.get(password_var(role))
            if password:
                cur.execute(sql.SQL("ALTER ROLE {} PASSWORD %s").format(sql.Identifier(role)), (password,))
                done.append(role)
    return done


def role_url(owner_or_loader_url: str, role: str) -> str:
    """`owner_or_loader_url` with the user replaced by `role` and the password by the role's environment variable
    (none when unset). Host, port, database and options stay."""
    from sqlalchemy.engine import make_url

    u = make_url(owner_or_loader_url).set(username=role, password=get_settings().role_passwords.get(password_var(role)))
    base, _, query = u.render_as_string(hide_password=False).partition("?")
    # a Unix-socket host stays readable (host=/path, as the embedded server's URLs are written)
    return base + ("?" + query.replace("%2F", "/") if query else "")
