"""The commands that read an output folder dagen wrote: ``report`` and ``show``.

Both read the folder alone (its parts and ``metadata.json``), so they work on a copy of an
output, with no cluster and no model; ``dagen.cli`` registers them.

Example:
    dagen report out/people                    # out/people/report.html
    dagen show out/people -n 5 -c name,age
"""

from __future__ import annotations

import click

from dagen.cli.exits import friendly_errors

__all__ = ["report", "show"]


@click.command()
@click.argument("output", type=click.Path(file_okay=False))
@click.option("-o", "--to", "to", type=click.Path(dir_okay=False), default=None,
              help="Where to write the HTML file [default: OUTPUT/report.html].")  # fmt: skip
@friendly_errors
def report(output: str, to: str | None) -> None:
    """Write the run report of OUTPUT: one HTML file that opens offline.

    The run, per-column statistics, judge scores, drop reasons, and each model's usage,
    calls in flight and latency over time, all read from OUTPUT alone.
    """
    from dagen.report import write_report

    click.echo(f"wrote {write_report(output, to)}")


@click.command()
@click.argument("output", type=click.Path(file_okay=False))
@click.option("-n", "--num-records", type=click.IntRange(min=1), default=5, show_default=True,
              help="Rows to show.")  # fmt: skip
@click.option("--offset", type=click.IntRange(min=0), default=0, show_default=True,
              help="Rows to skip first.")  # fmt: skip
@click.option("-c", "--columns", default=None,
              help="Comma-separated columns to show (default: all).")  # fmt: skip
@click.option("--json", "as_json", is_flag=True, help="Print rows as JSON lines.")
@friendly_errors
def show(output: str, num_records: int, offset: int, columns: str | None, as_json: bool) -> None:
    """Print rows of OUTPUT (a folder dagen run wrote) in a readable layout."""
    from rich.console import Console

    from dagen.report import OutputFolder
    from dagen.report.show import print_rows, rows_as_json

    folder = OutputFolder(output)
    names = None
    if columns is not None:
        names = [c.strip() for c in columns.split(",") if c.strip()]
        unknown = [c for c in names if c not in folder.column_names]
        if unknown or not names:
            raise click.BadParameter(
                f"unknown column(s) {', '.join(unknown) or '(none given)'}; "
                f"the dataset has {', '.join(folder.column_names)}",
                param_hint="--columns",
            )
    table = folder.head(num_records, offset=offset, names=names)
    if as_json:
        for line in rows_as_json(table):
            click.echo(line)
        return
    total = int(folder.metadata["rows_written"])
    print_rows(Console(), table, first=offset, total=total)
