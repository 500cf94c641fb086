"""`xuncha push-token CODE` (a county's push token, shown once) and `xuncha intake serve` (the push intake on its own)."""

from __future__ import annotations

from typing import Annotated

import typer

from xuncha.cli import app, console, friendly

intake_app = typer.Typer(help="The push intake (推送接收): counties push exports over HTTP.", no_args_is_help=True)
app.add_typer(intake_app, name="intake")


@app.command("push-token")
@friendly
def push_token(code: Annotated[str, typer.Argument(help="County code.")]):
    """Make (or replace) a county's push token; it is printed once, only its SHA-256 is stored."""
    from xuncha.intake import server as intake
    from xuncha.warehouse import migrate

    migrate.migrate()
    token = intake.issue_token(code)
    console.print(f"push token of {code} (shown once; give it to the county system): {token}", markup=False, soft_wrap=True)


@intake_app.command("serve")
@friendly
def serve(port: Annotated[int, typer.Option(help="Port (loopback).")] = 8095,
          host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
          trigger: Annotated[bool, typer.Option(help="Start a run of the county's DAG xuncha_county_<code> for "
                                                     "each push (needs Airflow's metadata database on this "
                                                     "machine). Off: pushes land and the county's scheduled run "
                                                     "loads them; the receipt says so.")] = False):
    """Serve the push intake on its own (the Airflow API server also serves it, at /xuncha-intake), with a deadline
    on request heads (XUNCHA_PUSH_HEADER_SECONDS), the keep-alive timeout and h11's head size limit
    (xuncha.intake.serve); the body's bounds are the handler's (docs/security.md). Its base URL is
    http://HOST:PORT (POST /exports), not /xuncha-intake. It starts no Airflow run unless --trigger."""
    from xuncha.intake import serve as intake_serve
    from xuncha.intake import server as intake
    from xuncha.orchestration import env as airflow_env
    from xuncha.warehouse import db, migrate

    airflow_env.apply()
    migrate.migrate()
    console.print(f"push intake on http://{host}:{port}/exports ({'starts' if trigger else 'does not start'} "
                  "county DAG runs; without them each county's scheduled run loads its pushes)", markup=False, soft_wrap=True)
    intake_serve.run(intake.app(url=db.warehouse_url(), triggers=trigger), host=host, port=port)
