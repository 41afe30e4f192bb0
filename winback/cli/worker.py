"""``winback worker``: a Prefect process worker for winback's deployments (a dealer group's
worker machine; deployments/README.md)."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated

import typer

from winback.cli.common import fail, say


def worker(
    pool: Annotated[str, typer.Option(help="The Prefect work pool to take flow runs from.")] = "winback",
    limit: Annotated[
        int | None, typer.Option(min=1, help="Flow runs at once on this machine. Default: no limit.")
    ] = None,
) -> None:
    """Start a Prefect process worker that runs winback's flow runs with this installation's
    Python (needs PREFECT_API_URL: the group's Prefect server)."""
    if not os.environ.get("PREFECT_API_URL"):
        example = "http://prefect-host:4200/api"
        fail(say("set PREFECT_API_URL to the Prefect server's API first, such as {example}", example=example))
    # prefect.yaml has the worker start each flow run as `python -m prefect.engine`: the python
    # first on PATH must be this one, which holds winback and its dependencies. Put it there
    # rather than ask the worker machine's operator to activate the environment first.
    bin_dir = str(Path(sys.executable).parent)
    env = {**os.environ, "PATH": os.pathsep.join([bin_dir, os.environ.get("PATH", "")])}
    args = [sys.executable, "-m", "prefect", "worker", "start", "--pool", pool, "--type", "process"]
    if limit is not None:
        args += ["--limit", str(limit)]
    os.execve(sys.executable, args, env)  # the worker takes this process: signals reach it
