"""`fedasr data ...`: build, import, validate, featurize and partition speech data."""

from __future__ import annotations

import typer

from fedasr.cli.data_import import app as import_app
from fedasr.cli.data_lm import lm_command
from fedasr.cli.data_partition import features_command, partition_command
from fedasr.cli.data_synth import synth_command
from fedasr.cli.data_validate import validate_command

app = typer.Typer(no_args_is_help=True, help="Build, import, validate and partition speech data.")
app.command("validate")(validate_command)
app.add_typer(import_app, name="import")
app.command("synth")(synth_command)
app.command("partition")(partition_command)
app.command("features")(features_command)
app.command("lm")(lm_command)
