"""``jpki demo``: a short scripted scenario that prints what it did."""

from __future__ import annotations

import click

from web import demo
from web.cli import console, with_services
from web.services import Services


@click.command("demo")
@with_services
def demo_command(services: Services) -> None:
    """Prepare a demo instance (所沢市 and 平塚市) and run a day at the counter."""
    demo.run(services, lambda line: console.print(f"• {line}"))


def attach(main: click.Group) -> None:
    main.add_command(demo_command)
