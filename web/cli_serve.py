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
@click.option("--ocsp-port", type=click.IntRange(0, 65535), default=None,
              help="Also serve the OCSP responder on its own front (uvicorn) on this port; "
                   "a proxy in front routes /ocsp there.")
@with_services
def serve(services: Services, host: str, port: int, no_workers: bool,
          ocsp_port: int | None) -> None:
    """Serve the web service (counter, portal, API, CRLs, CA certificates, OCSP) until Ctrl-C
    or SIGTERM."""
    serve_until_stopped(services, host, port, workers=not no_workers, ocsp_port=ocsp_port)


def attach(main: click.Group) -> None:
    main.add_command(serve)
