"""``codewitness serve``: HTTP ingest for the sensor, a JSON query API, and the dashboard.

An ASGI application (FastAPI on Starlette, served by uvicorn; extra ``server``):

* :mod:`~codewitness.server.app` -- the settings, the application factory, running it;
* :mod:`~codewitness.server.auth` -- bearer tokens (``codewitness token create``) and browser
  sessions obtained with one; writes always need one, reads with ``--auth read``;
* :mod:`~codewitness.server.api.v1` -- ``POST /api/v1/ingest`` and the ``GET /api/v1/...`` query
  routes (OpenAPI at ``/api/v1/openapi.json``);
* :mod:`~codewitness.server.pages` -- the server-rendered pages, one module per page, from
  ``templates/``; ``static/`` holds every asset (the charting library is vendored, no CDN).

Routes and pages are thin: they parse the request, call one view (:mod:`codewitness.views`) and
render it. Nothing here holds SQL or aggregation.

Example:
    >>> from codewitness.server.app import ServerSettings, create_app
    >>> app = create_app(ServerSettings(database_url="sqlite:////tmp/witness.db"))  # doctest: +SKIP
"""
