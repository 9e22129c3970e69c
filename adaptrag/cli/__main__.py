"""`python -m adaptrag.cli` runs the `adaptrag` command."""

from adaptrag.cli import main

main()
