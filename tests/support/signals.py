"""For tests that stop a child process with SIGINT (Ctrl-C)."""

from __future__ import annotations

import signal


def default_sigint() -> None:
    """`preexec_fn` giving the child the default SIGINT action. A test run started in the
    background of a non-interactive shell ignores SIGINT, and children inherit that; the child
    would then never see the Ctrl-C the test sends."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)
