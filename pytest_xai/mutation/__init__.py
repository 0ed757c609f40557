"""Mutation testing of an explanation suite (``pytest --xai-mutate``).

The suite is run again against models whose explanations must change (planted shortcuts: a
region of the image drives the logits, every suite prediction is kept) and models whose
explanations must not (harmless releases: float16 weights, folded batch-norm, a tiny weight
perturbation, a user's retrained twin). The score is how many planted shortcuts the suite
catches and how many harmless releases it fails (false alarms).

``planted`` and ``harmless`` build the mutants (torch), ``plan`` chooses them from the seed and
the budget, ``runner`` is the pytest plugin object that re-runs the tests, ``results`` holds the
typed report and its table. Nothing here is imported until ``--xai-mutate`` is given, except
``runner.swap``, which the explain fixture calls and which imports nothing heavy.
"""
