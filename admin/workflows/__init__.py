"""Workflows: named DAGs of steps, each step running an existing job (docs/workflows.md).

`graph` is the pure part (the definition, its validation, and what happens next from the steps'
states); the rest applies it to the database exactly once across nodes."""
