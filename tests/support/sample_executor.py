"""An executor application for tests that run `shardcron executor run` in a subprocess.

Everything comes from SHARDCRON_EXECUTOR_* variables, as an operator would deploy it.
"""

from shardcron.executor import Executor

executor = Executor()


@executor.job("echo")
def echo(ctx):
    ctx.log("echo %r", ctx.param)
    return ctx.param


@executor.job("waitForCancel")
def wait_for_cancel(ctx):
    ctx.wait(300)
    ctx.check_cancelled()
