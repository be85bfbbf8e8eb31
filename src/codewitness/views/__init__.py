"""Typed read models every face shares: the command line, the dashboard and HTTP API, the MCP server, replay.

A view answers one question from the store (and, where it must, from attribution of the
repository) and renders nothing: each returns frozen dataclasses or JSON-shaped ``TypedDict``\\ s,
and those with a ``--json`` form have a ``to_dict()`` that is exactly it. SQL lives in
:mod:`codewitness.store`; no view imports a face (:mod:`codewitness.cli`, ``server``, ``mcp``).

=======================================  =====================================================
:mod:`~codewitness.views.files`          who wrote each line of a file (``blame``)
:mod:`~codewitness.views.function`       one function: origin x runtime x breaches x exceptions x generations
:mod:`~codewitness.views.runtime`        runtime per function, AI-written beside human code (``runtime``)
:mod:`~codewitness.views.generations`    a generation and its fate: kept, edited, deleted lines; its commits
:mod:`~codewitness.views.invariants`     every rule with its pass and breach counts (``invariants``)
:mod:`~codewitness.views.review`         the review queue (``review list``)
:mod:`~codewitness.views.prompts`        prompt names, versions and texts (``prompts ...``)
:mod:`~codewitness.views.pending`        captured AI lines not committed yet (``status``)
:mod:`~codewitness.views.gate`           the merge gate's report (``check --json``)
:mod:`~codewitness.views.catalog`        every function (attributed or seen running) and the file tree, for pages
:mod:`~codewitness.views.timeline`       a function's runtime over time; AI-written beside human code
:mod:`~codewitness.views.overview`       the dashboard's first page: AI share by commit, runtime sides, failures
:mod:`~codewitness.views.dossier`        one function's page: provenance chain, series, exceptions, samples
:mod:`~codewitness.views.annotated`      one file's lines with the generation, model and prompt behind each
:mod:`~codewitness.views.ledger_lists`   generations a page at a time, one in full, a prompt's diffs
:mod:`~codewitness.views.checks`         stored merge-gate runs and their findings
:mod:`~codewitness.views.paging`         one page of a longer list
=======================================  =====================================================

The modules are imported one by one (``from codewitness.views.files import file_origins``), so a
face loads only what it shows: ``views.files`` needs neither SQLAlchemy nor Rich.

Example:
    >>> from codewitness.views.runtime import runtime_view
    >>> view = runtime_view(store, service="shop", sort="p95", limit=10)  # doctest: +SKIP
"""
