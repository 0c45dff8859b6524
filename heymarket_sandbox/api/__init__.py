"""The API's endpoints: the request helpers (request.py), one handler module per resource
and the route table the server dispatches on (routes.py); see docs/sandbox.md, "Layout".

Handlers read and change the data only through the shared `State` (state.py); auth, rate
limit, faults and the answer distortions are the server's and faults.py's, not theirs.
"""
