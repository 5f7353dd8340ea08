"""The reference math: each equation of docs/derivations.md in plain numpy.

No ``out=`` arguments, no workspaces, no BLAS calls: a function here computes what its
docstring's equation says and returns a new array, so that it can be read beside the
derivation. The fast path (:mod:`handgrad.fast`) must equal these functions; the tests in
``tests/fast/`` prove it. Modules here import only numpy, :mod:`handgrad.errors` and each
other.
"""
