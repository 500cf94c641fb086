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
          host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1"):
    """Serve the push intake on its own (the Airflow API server also serves it, at /xuncha-intake)."""
    import uvicorn

    from xuncha.orchestration import env as airflow_env
    from xuncha.warehouse import db
    from xuncha.intake import server as intake
    from xuncha.warehouse import migrate

    airflow_env.apply()
    migrate.migrate()
    uvicorn.run(intake.app(url=db.warehouse_url()), host=host, port=port)
