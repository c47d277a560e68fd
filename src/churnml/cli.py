"""The ``churnml`` command: argument parsing only; the work is in the library."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import typer

from churnml.errors import ChurnMLError

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="Early warning of retail-bank deposit churn.",
    pretty_exceptions_show_locals=False,
)


@app.command()
def demo(
    customers: Annotated[int, typer.Option(help="Customers in the synthetic bank.")] = 5_000,
    months: Annotated[int, typer.Option(help="Months of history.")] = 24,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
    out: Annotated[Path, typer.Option(help="Folder for the demo's tables.")] = Path("demo-output"),
    horizon_days: Annotated[
        int | None, typer.Option(help="Label horizon in days (default 90).")
    ] = None,
    horizon_months: Annotated[
        int | None, typer.Option(help="Label horizon in month ends, instead of days.")
    ] = None,
) -> None:
    """Simulate a bank, build labels and features, train and score the models, print a summary."""
    from churnml.demo import run_demo
    from churnml.timeline import Horizon

    _run(
        lambda: typer.echo(
            run_demo(
                n_customers=customers,
                months=months,
                seed=seed,
                out=out,
                horizon=Horizon.of(horizon_days, horizon_months),
            )
        )
    )


@app.command()
def simulate(
    customers: Annotated[int, typer.Option(help="Number of customers.")],
    months: Annotated[int, typer.Option(help="Months of history.")],
    out: Annotated[Path, typer.Option(help="Data directory to write (contract layout).")],
    seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
    file_format: Annotated[str, typer.Option("--format", help="parquet or csv.")] = "parquet",
) -> None:
    """Write a synthetic bank as a data directory in the contract's layout."""
    from churnml.datasets import make_bank
    from churnml.tables import save_tables

    def work() -> None:
        bank = make_bank(n_customers=customers, months=months, seed=seed)
        written = save_tables(
            bank.tables, out, file_format=file_format, extra={"truth": bank.truth}
        )
        typer.echo(f"wrote {', '.join(p.name for p in written)} to {out}")

    _run(work)


def _run(work: Callable[[], None]) -> None:
    """Run a command; turn churnml's own errors into one clear line and exit status 2."""
    try:
        work()
    except ChurnMLError as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(code=2) from None


if __name__ == "__main__":
    app()
