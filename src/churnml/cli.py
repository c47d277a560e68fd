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


@app.command()
def train(
    data: Annotated[Path, typer.Option(help="Data directory in the contract's layout.")],
    as_of: Annotated[
        str, typer.Option(help="Train on the month ends whose horizon ended by this date.")
    ],
    horizon_days: Annotated[
        int | None, typer.Option(help="Label horizon in days (default 90).")
    ] = None,
    horizon_months: Annotated[
        int | None, typer.Option(help="Label horizon in month ends, instead of days.")
    ] = None,
    churn: Annotated[
        str, typer.Option(help="Which churn counts: any, complete or partial.")
    ] = "any",
    trials: Annotated[int, typer.Option(help="Optuna trials tuning the classifier.")] = 0,
    experiment: Annotated[str, typer.Option(help="MLflow experiment name.")] = "churnml",
    register: Annotated[
        str | None, typer.Option(help="Register the model under this name (alias champion).")
    ] = None,
    config: Annotated[
        Path | None, typer.Option(help="A ChurnModelConfig TOML file; the options above win.")
    ] = None,
) -> None:
    """Train on DATA as of a date, log to MLflow; the last line printed is one JSON object."""
    from churnml.jobs import summary_line, train_job
    from churnml.pipeline import ChurnModelConfig

    def work() -> None:
        base = (
            ChurnModelConfig.from_toml(config.read_text(encoding="utf-8"))
            if config is not None
            else ChurnModelConfig()
        )
        settings = {
            **base.to_dict(),
            "churn": churn,
            "trials": trials,
            "horizon_days": horizon_days,
            "horizon_months": horizon_months,
        }
        if horizon_days is None and horizon_months is None:
            settings["horizon_days"] = base.horizon_days
            settings["horizon_months"] = base.horizon_months
        summary = train_job(
            data,
            as_of=as_of,
            config=ChurnModelConfig.from_dict(settings),
            experiment=experiment,
            register=register,
        )
        typer.echo(summary_line(summary))

    _run(work)


@app.command()
def score(
    model: Annotated[
        str, typer.Option(help="models:/NAME@champion, a model_uri train printed, or a folder.")
    ],
    data: Annotated[Path, typer.Option(help="Data directory in the contract's layout.")],
    as_of: Annotated[str, typer.Option(help="Score the population at this date.")],
    out: Annotated[Path, typer.Option(help="Scores file: parquet, or CSV if it ends in .csv.")],
    previous: Annotated[
        Path | None,
        typer.Option(help="The previous scoring's file: also write the early warnings."),
    ] = None,
) -> None:
    """Score every customer at a date with a trained model; write one row per customer."""
    from churnml.jobs import score_job

    def work() -> None:
        written = score_job(model, data, as_of=as_of, out=out, previous=previous)
        typer.echo(f"wrote {', '.join(str(p) for p in written)}")

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
