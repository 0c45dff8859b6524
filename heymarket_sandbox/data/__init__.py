"""The sandbox's data: one store per resource, the `World` that builds them all for one
configuration, and the truth a full sync must end with (docs/sandbox.md, "Layout").

No HTTP here: nothing in `data/` imports the state, the API handlers or the server. The
stores are deterministic from the seed and read the switches only as a configuration dict.
"""
