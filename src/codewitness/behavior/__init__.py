"""What AI-written code does at runtime, compared over time: review sampling for now.

:mod:`~codewitness.behavior.review` samples calls of high-stakes functions into a review queue
(a sensor plug-in). The corpus of sampled calls, replay against another revision, baselines and
drift are to come here.
"""
