"""`python -m adaptrag` runs the `adaptrag` command."""

from adaptrag.cli import main

main()
