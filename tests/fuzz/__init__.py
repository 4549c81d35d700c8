"""The fuzz suite (issue 12): every public entry point given bad, extreme and hostile input.

Each case is classified as one of ``good`` (the right answer, or a :class:`numeric.SmeqError`
naming the argument and the fix), ``crash`` (any other exception, or a misleading error),
``silent`` (a wrong answer, NaN or a warning instead of an error), ``hang`` (no answer within the
case's timeout) or ``state`` (global RNG, the caller's tensors or an immutable object changed).
``python -m tests.fuzz`` prints the count per class; the tests assert ``good`` for every case.
"""
