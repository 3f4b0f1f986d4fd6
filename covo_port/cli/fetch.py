"""``covo-port fetch``: the pinned upstream Covo-Audio."""

from __future__ import annotations

from pathlib import Path

import click

from covo_port.cli.common import out_console, user_errors
from covo_port.pipeline.fetch import DEFAULT_DEST, UPSTREAM_COMMIT, UPSTREAM_URL
from covo_port.pipeline.fetch import fetch as fetch_upstream


@click.command()
@click.argument("dest", required=False, type=click.Path(path_type=Path))
@click.option("--ref", default=UPSTREAM_COMMIT, show_default=True,
              help="The commit (or tag, or branch) to check out.")
@click.option("--from", "source", default=UPSTREAM_URL, show_default=True,
              metavar="PATH_OR_URL",
              help="Clone from here instead: a URL, a local clone or mirror, or a git bundle.")
@user_errors
def fetch(dest: Path | None, ref: str, source: str) -> None:
    """Clone the upstream Covo-Audio into DEST [default: upstream/Covo-Audio] at the pinned
    commit. A DEST that already holds that commit, clean, is reused; a DEST holding anything
    else is left as it is and refused.
    """
    fetched = fetch_upstream(dest if dest is not None else DEFAULT_DEST, ref, source)
    if fetched.reused:
        out_console.print(f"{fetched.dest} already holds {fetched.commit[:12]}: reused")
    else:
        out_console.print(f"fetched {source} at {fetched.commit[:12]} into {fetched.dest}")
