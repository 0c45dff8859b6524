"""The JSON schemas of the streams, one `<stream name>.json` each (package resources)."""
