"""The XXL-JOB importer: moving an XXL-JOB admin's executor groups and jobs into shardcron.

`source` reads an XXL-JOB 2.4/3.x database (its `xxl_job_group` and `xxl_job_info`
tables), `convert` turns each row into shardcron's values plus a list of what could not be
carried over, and `importer` plans the import against the admin database and applies it in one
transaction. `shardcron import-xxljob` (admin/cli/import_cmd.py) is the command around them.
"""
