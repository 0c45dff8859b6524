"""`python -m tap_heymarket`: the same entry point as the `tap-heymarket` command."""

from tap_heymarket.cli import main

main()
