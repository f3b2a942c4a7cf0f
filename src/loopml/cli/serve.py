"""`loopml serve`: every deployment of the workspace over HTTP and gRPC."""

from __future__ import annotations

import gc
import json

import typer

from loopml.cli._options import JSON

TOKEN_VARIABLE = "LOOPML_SERVE_TOKEN"


def register(app: typer.Typer) -> None:
    app.command("serve")(serve)


def serve(
    host: str = typer.Option(
        "127.0.0.1", "--host", metavar="ADDRESS", help="The address to listen on."
    ),
    port: int = typer.Option(8080, "--port", metavar="PORT", help="The HTTP port (0: any free)."),
    grpc_port: int = typer.Option(
        8081, "--grpc-port", metavar="PORT", help="The gRPC port (0: any free)."
    ),
    no_grpc: bool = typer.Option(False, "--no-grpc", help="Serve HTTP only."),
    workers: int = typer.Option(
        1, "--workers", metavar="N", help="Server processes sharing the ports."
    ),
    token: str = typer.Option(
        None,
        "--token",
        metavar="TOKEN",
        envvar=TOKEN_VARIABLE,
        show_envvar=True,
        help="Require 'Authorization: Bearer TOKEN' on every endpoint but health.",
    ),
    insecure: bool = typer.Option(
        False, "--insecure", help="Serve a non-loopback address with no token."
    ),
    poll_seconds: float = typer.Option(
        0.2, "--poll-seconds", metavar="S", help="How often to look for changes to serve."
    ),
    flush_seconds: float = typer.Option(
        1.0, "--flush-seconds", metavar="S", help="How often the prediction log is written."
    ),
    as_json: bool = JSON,
) -> None:
    """Serve every deployment of the workspace until stopped (Ctrl-C or SIGTERM).

    Open Inference Protocol (KServe V2) over REST at /v2 and over gRPC, MLflow's
    /invocations, /metrics and /openapi.json. Follows deployment changes and alias
    moves without a restart.

    \b
    Example:
      loopml deploy churn --model churn@champion
      loopml serve --port 8080
      curl -s localhost:8080/v2/models/churn
    """
    if workers == 1:
        # This process serves: Python's cycle collector stays off until the server is up
        # (its startup freezes what starting made and turns the collector back on).
        # Starting imports scikit-learn, SciPy and SQLAlchemy, objects that live as long
        # as the process, which the collector would walk again and again meanwhile.
        gc.disable()
    from loopml.serve._server import ServeOptions, listening
    from loopml.serve._server import serve as run
    from loopml.workspace import workspace

    options = ServeOptions(
        host=host,
        port=port,
        grpc_port=None if no_grpc else grpc_port,
        workers=workers,
        token=token or None,
        insecure=insecure,
        poll_seconds=poll_seconds,
        flush_seconds=flush_seconds,
    ).checked()
    with workspace() as ws:
        served = [record.name for record in ws.store.deployments()]
        options = listening(options)  # said once the ports are known free (0: picked)
        port = options.port
        grpc = None if options.grpc_port is None else f"{host}:{options.grpc_port}"
        if as_json:  # one line on start, what a supervisor reads: strict JSON, compact
            said = {"deployments": served, "http": f"http://{host}:{port}", "grpc": grpc}
            typer.echo(json.dumps(said))
        else:
            typer.echo(
                f"serving {len(served)} deployment(s) on http://{host}:{port}"
                + ("" if grpc is None else f" and gRPC {grpc}"),
                err=True,
            )
        run(ws, options)
