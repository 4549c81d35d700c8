"""The fuzz suite (issue 12): every public entry point given bad, extreme and hostile input.

Each case is classified as one of ``good`` (the right answer, or a :class:`numeric.SmeqError`
naming the argument and the fix), ``crash`` (any other exception, or a misleading error),
``silent`` (a wrong answer, NaN or a warning instead of an error), ``hang`` (no answer within the
case's timeout) or ``state`` (global RNG, the caller's tensors or an immutable object changed).
``python -m tests.fuzz`` prints the count per class; the tests assert ``good`` for every case.

Measured with ``python -m tests.fuzz`` (235 explicit cases), on the code before issue 12's fixes
(commit ca5d3a8 with this harness copied in) and after:

=========  ====  =====  ======  ====  =====
           good  crash  silent  hang  state
=========  ====  =====  ======  ====  =====
before       98     57      74     0      6
after       235      0       0     0      0
=========  ====  =====  ======  ====  =====

The Hypothesis properties in the ``test_<area>.py`` files (``tox -e fuzz`` runs them with the
``thorough`` profile) failed 8 of 12 before and found three more defects while the fixes went in
(cosine offsets ≳ 1e154, an overflowing estimator mean, posterior means beyond 1e308 standard
deviations).
"""
