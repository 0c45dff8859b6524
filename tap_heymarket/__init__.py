"""tap-heymarket: a Singer tap for the Heymarket API, built with the Meltano Singer SDK."""

#: The one place the version is written: pyproject.toml reads it (`[tool.setuptools.dynamic]`),
#: and so do the User-Agent header and `tap-heymarket --about`.
__version__ = "0.1.0"
