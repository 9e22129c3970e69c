"""The release, written in this one place (the package metadata, `adaptrag --version` and the
HTTP app read it)."""

__version__ = "0.2.0"
