"""tap-heymarket: a Singer tap for the Heymarket API, built with the Meltano Singer SDK."""
