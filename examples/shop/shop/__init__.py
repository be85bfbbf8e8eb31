"""A small shop service: pricing and checkout, written mostly by a coding agent.

It is the example codewitness's demo, docs and benchmarks run: ``python -m shop.server`` serves
it on loopback, ``examples/shop/make_manifest.py`` writes the manifest that marks its
AI-written functions.
"""
