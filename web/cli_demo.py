"""``jpki demo``: a short scripted scenario that prints what it did; ``--serve`` then serves it.

``jpki demo`` alone runs the scripted day (for scripted runs and screenshots). ``jpki demo
--serve`` is what ``make run`` does: the demo data once per instance (municipalities, operators,
CAs, a few hundred residents and the scripted day; a re-run finds them and skips the day), then
the web service with its workers, printing the URLs and the demo logins.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from web import demo
from web.cli import console, with_services
from web.server import serve_until_stopped
from web.services import Services

if TYPE_CHECKING:  # web.cli_serve imports web.cli, which attaches this module: import late
    from web.server import Running


def _say(line: str) -> None:
    console.print(f"• {line}")


def announce_demo(services: Services, running: Running) -> None:
    """The demo logins and card, clearly marked as demo-only."""
    console.print("DEMO ONLY — sign-ins of this demonstration instance (never use it for real "
                  "data):")
    for login, role, code in demo.DEMO_OPERATORS:
        console.print(f"  operator {login:<15} {role.value:<11} ({code})  password "
                      f"{demo.DEMO_PASSWORD}")
    for card in demo.cards(services)[:1]:
        console.print(f"  card {card} (auth PIN {demo.DEMO_AUTH_PIN}, signing password "
                      f"{demo.DEMO_SIGNING_PASSWORD}): portal login with "
                      f"`jpki login --card {card} --code CODE --url {running.url}`")
    console.print("Ctrl-C stops the service.")


@click.command("demo")
@click.option("--serve", "then_serve", is_flag=True,
              help="Then serve the demo instance with its workers (the demo data is loaded "
                   "once; a re-run just serves). This is `make run`.")
@click.option("--host", default="127.0.0.1", show_default=True, help="With --serve.")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(0, 65535),
              help="With --serve (0: any free port).")
@with_services
def demo_command(services: Services, then_serve: bool, host: str, port: int) -> None:
    """Prepare a demo instance (所沢市 and 平塚市) and run a day at the counter."""
    if not then_serve:
        demo.run(services, _say)
        return
    demo.ensure(services, _say)
    serve_until_stopped(services, host, port,
                        announce=lambda running: announce_demo(services, running))


def attach(main: click.Group) -> None:
    main.add_command(demo_command)
