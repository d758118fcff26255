"""Internals of :mod:`codexkit.tools`: docstring parsing, argument schemas, results."""
