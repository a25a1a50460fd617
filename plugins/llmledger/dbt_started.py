"""A dbt started before its command is known (``llmledger.warehouse.dbt_build``).

Run as a script by dbt's own Python (``python dbt_started.py <project dir>``), not imported:
it imports nothing of llmledger. It imports dbt and reads the project's saved parse (``dbt
parse``; with partial parsing and nothing changed that re-parses no file) while the caller
stages the config and plans the build on the other core. Then it reads one JSON line from
stdin, ``{"args": [...], "env": {...}}``: the dbt command line (without the ``dbt``) and the
environment variables the plan adds (the refresh window). It runs that command on the parse
it read, exits as the ``dbt`` command would (0 ok, 1 a model or test failed, 2 dbt could not
run), and exits 0 doing nothing on an empty line or a closed stdin (the caller gave up).

dbt writes to stdout exactly what the ``dbt`` command writes, so the caller reads failures the
same way. If the early parse fails, the command parses again itself and reports the error.
"""

from __future__ import annotations

import gc
import json
import os
import sys


def main(argv: list[str]) -> int:
    # Python put this script's folder first on the path: llmledger's modules (config, docs,
    # report, ...) must not stand in for packages dbt imports.
    here = os.path.dirname(os.path.abspath(__file__))
    sys.path[:] = [p for p in sys.path if os.path.abspath(p or os.curdir) != here]
    # Importing dbt and reading its parse make several hundred thousand objects that live to
    # the end and next to no garbage (about 5,000 objects collected at `large`); the cyclic
    # collector would walk them all, again and again: 0.2 s of the start, measured. So it is
    # off until the parse is read, then those objects are frozen (never walked again) and it
    # is on for the build.
    gc.disable()
    try:
        from dbt.cli.main import dbtRunner

        project_dir = argv[1]
        # No manifest.json from the parse (0.15 s): the command writes it as it ends.
        parse = ["parse", "--project-dir", project_dir, "--quiet", "--no-write-json"]
        sys.argv = ["dbt", *parse]  # dbt logs and records its command line from here
        parsed = dbtRunner().invoke(parse)
    finally:
        gc.freeze()
        gc.enable()
    manifest = parsed.result if parsed.success else None
    line = sys.stdin.readline()
    if not line.strip():
        return 0
    request = json.loads(line)
    os.environ.update(request.get("env") or {})
    sys.argv = ["dbt", *request["args"]]
    result = dbtRunner(manifest=manifest).invoke(list(request["args"]))
    if result.success:
        return 0
    if result.exception is not None:
        print(f"dbt could not run: {result.exception}", file=sys.stderr)
        return 2
    return 1


def exit_now(code: int) -> None:
    """Exit with ``code`` as soon as what the process owes is done, as the interpreter would:
    other threads finished (non-daemon ones are waited for), the exit handlers run (dbt-duckdb's
    closes its connections), the logs and the streams flushed; then the process ends without
    the interpreter's finalisation, which frees every object of the big libraries one by one:
    0.2 s after dbt's build, 0.5 to 1 s once Great Expectations is imported (``llmledger``'s
    console script ends this way too, ``llmledger.cli.entry``). Files are written and closed
    by then (every writer uses ``with``), and no open connection writes the warehouse: dbt-duckdb's
    exit handler closes it (a checkpoint, when the profile's keep_open held it for the whole
    build), and llmledger only ever reads it."""
    import atexit
    import logging
    import threading

    try:
        for thread in threading.enumerate():
            if thread is not threading.current_thread() and not thread.daemon:
                thread.join()
        atexit._run_exitfuncs()
        logging.shutdown()
        sys.stdout.flush()
        sys.stderr.flush()
    finally:
        os._exit(code)


if __name__ == "__main__":
    exit_now(main(sys.argv))
