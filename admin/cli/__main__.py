"""`python -m shardcron.admin.cli` is the `shardcron` command."""

from . import main

main(prog_name="shardcron")
