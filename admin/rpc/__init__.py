"""The executor-facing API under `/api` (XXL-JOB compatible): registry, callbacks, progress."""

from .views import blueprint

__all__ = ["blueprint"]
