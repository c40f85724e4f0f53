"""Store commands: path, info, import, export, compact, rebuild, retention, recover."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from melious_impact.cli._options import add_period_arguments, add_store_argument
from melious_impact.store.paths import ENV_HOME, default_store_path


def _add_store(p: argparse.ArgumentParser) -> None:
    add_store_argument(p)
    p.add_argument(
        "--storage-option",
        metavar="KEY=VALUE",
        action="append",
        default=[],
        help="object-store option as in pandas/fsspec (key, secret, endpoint_url, region_name); repeatable",
    )


def _command(
    subparsers: Any, name: str, help: str, description: str, *, store: bool = True
) -> argparse.ArgumentParser:
    """The parser of one store command: its help, ``--store`` and ``--storage-option``."""
    p: argparse.ArgumentParser = subparsers.add_parser(name, help=help, description=description)
    if store:
        _add_store(p)
    p.set_defaults(func=run, store_cmd=name)
    return p


def register(subparsers: Any) -> None:
    _command(
        subparsers,
        "path",
        "print the default store folder",
        f"Print the folder the store uses by default (${ENV_HOME}, else the per-user data folder).",
        store=False,
    )

    p = _command(
        subparsers,
        "info",
        "summarise a store: rows, files, dates, dropped rows",
        "Rows, files, bytes, date range, pending journal and dropped counts.",
    )
    p.add_argument("--json", action="store_true", help="print machine-readable JSON")

    p = _command(
        subparsers,
        "import",
        "import rows from Parquet, CSV or JSONL (twice counts once)",
        "Import rows; a file imported twice is stored once.",
    )
    p.add_argument("files", nargs="+", metavar="FILE", help="files to import")
    p.add_argument(
        "--format", choices=("parquet", "csv", "jsonl"), help="file format (default: from the suffix)"
    )
    p.add_argument(
        "--batch-output",
        action="store_true",
        help="the files are Melious batch output JSONL (one response a line)",
    )
    p.add_argument("--batch-id", help="batch id recorded on rows imported with --batch-output")

    p = _command(
        subparsers,
        "export",
        "export rows to Parquet, CSV or JSONL",
        "Write the requests table (optionally filtered) to a file.",
    )
    p.add_argument("output", metavar="FILE", help="file to write")
    p.add_argument(
        "--format", choices=("parquet", "csv", "jsonl"), help="file format (default: from the suffix)"
    )
    add_period_arguments(p)
    p.add_argument("--team", action="append", dest="teams", help="only this team; repeatable")

    p = _command(
        subparsers,
        "compact",
        "merge each partition's small files into one",
        "Merge small files; safe while writers and readers work.",
    )
    p.add_argument(
        "--min-files", type=int, default=2, help="compact partitions with at least this many files"
    )
    p.add_argument(
        "--grace-seconds",
        type=float,
        default=0.0,
        help="keep merged-away files this long for open connections (default 0)",
    )

    p = _command(
        subparsers,
        "rebuild",
        "parse stored rows again from the verbatim impact and billing objects",
        (
            "Parse the environment_impact and billing_cost objects kept verbatim with each row "
            "again, and write back the impact and billing columns and parse_warnings of every row "
            "that changes (after an upgrade whose parsing improved). Atomic per date partition; "
            "running it twice changes nothing more."
        ),
    )
    p.add_argument("--quiet", action="store_true", help="no progress line")

    p = _command(
        subparsers,
        "retention",
        "delete partitions older than N days",
        "Drop whole date partitions older than --max-age-days (UTC).",
    )
    p.add_argument("--max-age-days", type=int, required=True, help="keep this many days before today")

    _command(
        subparsers,
        "recover",
        "convert journals left by dead processes to Parquet",
        "Done on every open too; useful after a crash, before a copy.",
    )


def _open(args: argparse.Namespace) -> Any:
    from melious_impact.cli._stores import require_existing
    from melious_impact.store.impact_store import ImpactStore

    opts: dict[str, Any] = {}
    for kv in args.storage_option:
        key, sep, value = kv.partition("=")
        if not sep:
            raise ValueError(f"--storage-option needs KEY=VALUE, got {kv!r}")
        opts[key] = value
    if args.store_cmd != "import":  # only an import may start a new store
        require_existing(args.store)
    return ImpactStore(args.store, storage_options=opts or None)


def run(args: argparse.Namespace) -> int:
    cmd = args.store_cmd
    if cmd == "path":
        print(default_store_path())
        return 0
    store = _open(args)
    try:
        if cmd == "info":
            info = store.info()
            if args.json:
                print(json.dumps(info, indent=2, default=str))
            else:
                for key in (
                    "root",
                    "rows",
                    "files",
                    "bytes",
                    "partitions",
                    "first_date",
                    "last_date",
                    "journal_segments",
                    "quarantined_files",
                ):
                    print(f"{key:18} {info[key]}")
                for key, value in sorted(info["stats"].items()):
                    print(f"{key:18} {value}")
        elif cmd == "import":
            total = 0
            for f in args.files:
                if args.batch_output:
                    from melious_impact.capture.batch_file import import_batch_output

                    n = import_batch_output(store, f, batch_id=args.batch_id)
                else:
                    n = store.import_file(f, args.format)
                print(f"{f}: {n} new rows")
                total += n
            print(f"imported {total} rows")
        elif cmd == "export":
            n = store.export(args.output, args.format, start=args.start, end=args.end, teams=args.teams)
            print(f"wrote {n} rows to {args.output}")
        elif cmd == "compact":
            res = store.compact(min_files=args.min_files, grace_s=args.grace_seconds)
            print(", ".join(f"{k}={v}" for k, v in res.items()))
        elif cmd == "rebuild":
            from melious_impact.rebuild import rebuild

            rep = rebuild(store, progress=None if args.quiet else _progress)
            print(
                f"reparsed {rep.rows_reparsed} rows; {rep.rows_changed} changed; "
                f"{rep.partitions_rewritten} partition(s) rewritten"
            )
        elif cmd == "retention":
            dropped = store.retain(args.max_age_days)
            print(f"dropped {len(dropped)} partition(s)" + (f": {', '.join(dropped)}" if dropped else ""))
        elif cmd == "recover":
            rep = store.recover()
            print(
                f"recovered {rep.rows} rows from {rep.segments} segment(s); "
                f"{rep.damaged_records} torn record(s) dropped; {rep.failed} failed"
            )
            return 1 if rep.failed else 0
    finally:
        store.close()
    return 0


def _progress(done: int, total: int) -> None:
    """One progress line on stderr, rewritten in place on a terminal."""
    if sys.stderr.isatty():
        end = "\n" if done == total else ""
        print(f"\rrebuild: {done}/{total} partitions", end=end, file=sys.stderr, flush=True)
    elif done == total or done % max(1, total // 10) == 0:
        print(f"rebuild: {done}/{total} partitions", file=sys.stderr, flush=True)
