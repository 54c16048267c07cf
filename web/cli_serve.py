"""``jpki serve``: the web service under waitress, with the workers as threads of its process
(``web.server``)."""

from __future__ import annotations

import click

from web.cli import with_services
from web.server import serve_until_stopped
from web.services import Services


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=click.IntRange(0, 65535))
@click.option("--no-workers", is_flag=True,
              help="Serve only; the tier and revocation workers run as separate processes "
                   "(`jpki worker ...`).")
@with_services
def serve(services: Services, host: str, port: int, no_workers: bool) -> None:
    """Serve the web service (counter, portal, API, CRLs, CA certificates, OCSP) until Ctrl-C
    or SIGTERM."""
    serve_until_stopped(services, host, port, workers=not no_workers)


def attach(main: click.Group) -> None:
    main.add_command(serve)
