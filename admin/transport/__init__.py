"""Transport: every call the admin makes to an executor — the non-blocking multiplexer, the
blocking client, name resolution off the sending thread, and typed outcomes."""
