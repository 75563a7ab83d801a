"""Run one measurement in this process and print its result as one JSON line:
`python -m benchmarks.worker SCENARIO '{"param": value, ...}'`. The driver (`python -m
benchmarks`) starts one worker per measurement, so each peak-memory figure is its own."""

from __future__ import annotations

import json
import logging
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

MARK = "BENCHMARK-RESULT "


def scenarios() -> dict[str, Callable[..., dict[str, Any]]]:
    from benchmarks import (
        config_load,
        delivery,
        digest_cycle,
        ingest_dumps,
        lexicon,
        search_latency,
        slack_ack,
    )

    return {
        "digest": digest_cycle.run,
        "search": search_latency.run,
        "ingest": ingest_dumps.run,
        "config": config_load.run,
        "delivery": delivery.run,
        "lexicon": lexicon.run,
        "slack_ack": slack_ack.run,
    }


def main(argv: list[str]) -> int:
    logging.basicConfig(level=logging.WARNING)
    name, params = argv[0], json.loads(argv[1]) if len(argv) > 1 else {}
    for key in ("workdir", "archives"):
        if params.get(key):
            params[key] = Path(params[key])
    start = time.perf_counter()
    result = scenarios()[name](**params)
    result["elapsed_seconds"] = time.perf_counter() - start
    import bot  # which code was measured: this tree, or the code before (benchmarks.before)

    result["code"] = str(Path(bot.__file__).resolve().parents[1])
    print(MARK + json.dumps(result, default=str), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
