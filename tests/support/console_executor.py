"""The executor application of the console's browser story (run with `shardcron executor run`).

`story` logs a line every 0.4 s for a few seconds, so the console's live log tail has something
to follow; `longRun` waits until it is killed.
"""

from shardcron.executor import Executor

executor = Executor()

STORY_LINES = 10


@executor.job("story")
def story(ctx):
    ctx.log("shard %s of %s, param %r", ctx.shard_index, ctx.shard_total, ctx.param)
    for i in range(1, STORY_LINES + 1):
        if ctx.wait(0.4):
            ctx.check_cancelled()
        ctx.log("step %d of %d <b>not bold</b>", i, STORY_LINES)
    ctx.log("story done")
    return "told"


@executor.job("longRun")
def long_run(ctx):
    ctx.log("waiting to be killed")
    ctx.wait(300)
    ctx.check_cancelled()
    return "was never killed"
