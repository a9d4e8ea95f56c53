"""shardcron's shared core: what the admin and the executor both use.

The clock, the error base, the settings reader and token rules, the wire protocol, the number
rules, the logging format, the lean HTTP/1.1 client, private files, the SQL engine and versioned
schemas. Nothing here imports `shardcron.admin` or `shardcron.executor`
(tests/test_package_boundaries.py).
"""
