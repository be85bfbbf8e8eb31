"""Quality metrics of AI-generated code, alert rules, and generation events as OpenTelemetry.

* :mod:`~codewitness.metrics.definitions` -- the eight metrics: what each measures, its unit and
  which way is good, and the threshold read from ``[tool.codewitness.metrics]``;
* :mod:`~codewitness.metrics.samples` -- gathering their samples from the ledger, the attribution,
  the merge gate and the recorded test runs, for one window;
* :mod:`~codewitness.metrics.compute` -- one number per metric (or ``n/a`` with the count), its
  status and trend, optionally per model, agent, prompt or author;
* :mod:`~codewitness.metrics.adherence` -- prompt/code similarity (a local embedding model from the
  ``metrics`` extra, else lexical);
* :mod:`~codewitness.metrics.markers` -- model, prompt version and agent context file changes;
* :mod:`~codewitness.metrics.cost` -- tokens and cost per generation, commit, model and prompt;
* :mod:`~codewitness.metrics.alerts` -- the alert rules (every metric and the runtime rules),
  deduplicated firings, delivery through :mod:`~codewitness.metrics.channels`;
* :mod:`~codewitness.metrics.otel` -- generations as ``gen_ai.*`` spans and the metrics as gauges, over OTLP;
* :mod:`~codewitness.metrics.testruns` -- which AI functions each test ran (``pytest --codewitness-tests``).

The read model every face shows is :mod:`codewitness.views.metrics`.
"""
