"""``python -m pytest_xai.report merge shard-*.json --html report.html --json report.json``:
merge the JSON reports of a suite's shards into one report, HTML and JSON, with the same gate
as one run's. Exits 0 after writing the merged report (the gate reads its JSON), 2 when the
shards cannot be merged (the message names the field and both values)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m pytest_xai.report", description="pytest_xai reports")
    commands = p.add_subparsers(dest="command", required=True)
    merge = commands.add_parser("merge", help="merge the JSON reports of a suite's shards into one report")
    merge.add_argument("shards", nargs="+", type=Path, help="the shards' JSON reports (--xai-report=shard-k.json)")
    merge.add_argument("--html", type=Path, default=None, help="write the merged HTML report here")
    merge.add_argument("--json", type=Path, default=None, help="write the merged JSON report here")
    return p


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    args = parser().parse_args(argv)
    from pytest_xai.report import write_report
    from pytest_xai.report.merge import ShardMismatchError, load_shard, merge_reports

    if args.html is None and args.json is None:
        print("merge: nothing to write; pass --html PATH and/or --json PATH", file=sys.stderr)
        return 2
    try:
        merged = merge_reports([load_shard(path) for path in args.shards])
    except ShardMismatchError as e:
        print(f"merge: {e}", file=sys.stderr)
        return 2
    for path in (args.json, args.html):
        if path is not None:
            write_report(merged, path)
    outcomes = ", ".join(f"{n} {key}" for key, n in merged.outcomes.items())
    print(f"merged {len(args.shards)} shard reports: {outcomes}; exitstatus {merged.exitstatus}, "
          f"{'complete' if merged.complete else 'INCOMPLETE'}, {len(merged.failed)} failed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
