"""Subcommands; each module: HELP, add_arguments(parser), run(args) -> exit code."""
