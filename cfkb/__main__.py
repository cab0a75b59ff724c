from cfkb.cli import cli

cli(prog_name="cfkb")
