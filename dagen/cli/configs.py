"""The config-file side of the CLI: ``--functions`` and ``dagen convert``.

``--functions MODULE`` says where custom functions named without a module live (Data
Designer writes ``generator_function: create_greeting``): repeatable, or comma-separated.
``convert`` writes a config (Data Designer's or dagen's) as dagen's own file and lists,
for a Data Designer file, where dagen's run still differs from DD's and what to do
(``dagen.config.convert``); ``dagen.cli`` registers it.

Example:
    dagen convert dd_config.yaml -o dagen.yaml --functions mypkg.columns
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from dagen.cli.exits import friendly_errors

__all__ = ["convert", "functions_option", "module_names"]


def functions_option(command: Callable[..., Any]) -> Callable[..., Any]:
    """``--functions MODULE`` on ``command``."""
    return click.option(
        "--functions",
        multiple=True,
        metavar="MODULE",
        help="Module(s) holding the custom functions the config names without a module.",
    )(command)


def module_names(functions: tuple[str, ...]) -> list[str]:
    """The module names of repeated or comma-separated ``--functions``.

    >>> module_names(("a.b, c", "d"))
    ['a.b', 'c', 'd']
    """
    return [m.strip() for given in functions for m in given.split(",") if m.strip()]


@click.command()
@click.argument("config", type=click.Path(dir_okay=False))
@click.option("-o", "--output", type=click.Path(dir_okay=False), default=None,
              help="Where to write the dagen config (.yaml or .json); stdout when omitted.")  # fmt: skip
@functions_option
@friendly_errors
def convert(config: str, output: str | None, functions: tuple[str, ...]) -> None:
    """Write CONFIG (a Data Designer file, or dagen's) as dagen's own YAML or JSON, and list
    where dagen's run of a Data Designer file differs from DD's, and what to do."""
    from dagen.config.convert import converted

    if output is not None and Path(output).resolve() == Path(config).resolve():
        raise click.BadParameter(
            f"{output} is the file being converted; write the dagen config to another file",
            param_hint="'-o' / '--output'",
        )
    text, notes = converted(config, output, functions=module_names(functions))
    if output is None:
        click.echo(text, nl=False)
    else:
        Path(output).parent.mkdir(parents=True, exist_ok=True)
        Path(output).write_text(text)
        click.echo(f"{config}: written as a dagen config to {output}", err=True)
    if notes:
        click.echo(
            f"{len(notes)} difference(s) from Data Designer's run, and what to do:", err=True
        )
        for note in notes:
            click.echo(f"  - {note}", err=True)
