"""shardcron's executor: the SDK and embedded server that runs jobs inside an application."""
