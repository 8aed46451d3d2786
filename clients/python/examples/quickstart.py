"""Apply configurations, run a backup and wait for it, then read the status.

    python examples/quickstart.py        # deploy/examples/quickstart.yaml, quickstart_full
    python examples/quickstart.py --endpoint http://127.0.0.1:50051 FILE.yaml CONFIGURATION

With no arguments it applies the quickstart shipped with the checkout (a small
file tree and a SQLite database, nothing else to install) and backs up
quickstart_full.

Exits 0 when the backup completed, 1 when it failed, 2 on bad input (the
error names the field).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import vigil
from vigil.catalog.v1 import catalog_service_pb2, job_pb2
from vigil.status.v1 import status_service_pb2

# deploy/examples/quickstart.yaml of the checkout this example lives in.
QUICKSTART_FILE = Path(__file__).resolve().parents[3] / "deploy" / "examples" / "quickstart.yaml"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("file", nargs="?", default=str(QUICKSTART_FILE), help="configurations in the shape of `vigil config apply -f`")
    parser.add_argument("configuration", nargs="?", default="quickstart_full", help="the configuration to back up")
    parser.add_argument("--endpoint", default=None, help="vigild address (default: $VIGIL_ENDPOINT or http://127.0.0.1:50051)")
    parser.add_argument("--timeout", type=float, default=3600, help="seconds to wait for the backup")
    args = parser.parse_args()

    with vigil.Client(args.endpoint) as client:
        try:
            for result in client.apply_file(args.file):
                print(f"{result.name}: {catalog_service_pb2.ApplyAction.Name(result.action).removeprefix('APPLY_ACTION_').lower()}")

            def progress(job: job_pb2.BackupJob) -> None:
                phase = f" ({job.progress.phase})" if job.progress.phase else ""
                print(f"  {job.name}: {job_pb2.JobState.Name(job.state).removeprefix('JOB_STATE_').lower()}{phase}")

            job = client.run_backup(args.configuration, wait=True, timeout=args.timeout, on_update=progress)
            print(f"backup {job.name} completed: artifact {job.artifact}, {job.stats.files} files, {job.stats.bytes_read} bytes read")
        except vigil.InvalidArgument as error:
            print(f"bad input: {error.field or '-'}: {error.reason}", file=sys.stderr)
            return 2
        except vigil.JobFailed as error:
            print(f"backup failed: {error.reason}", file=sys.stderr)
            return 1

        report = client.status_report()
        print(f"status: {status_service_pb2.Verdict.Name(report.verdict).removeprefix('VERDICT_')} - {report.headline}")
        for action in report.recommendations:
            print(f"  {action.priority}. {action.title}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
