"""`kubectl asched`: list, inspect, run and validate AssistantSchedules from the terminal.

Exit codes (spec §8): 0 done / Succeeded; 1 the run Failed or was Missed, or `validate`
found an invalid object; 2 usage, cluster, CRD or RBAC error; 3 timed out waiting."""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

from aischeduler_operator.cli import views
from aischeduler_operator.cli.cluster import CliError, Cluster
from aischeduler_operator.cli.offline import validate_files
from aischeduler_operator.hashcron import has_hash, resolve_hash
from aischeduler_operator.names import (
    BACKFILL_ANNOTATION,
    RESUME_ANNOTATION,
    RUN_NOW_ANNOTATION,
    RUN_NOW_INPUT_ANNOTATION,
    manual_job_name,
)
from aischeduler_operator.schedule import ScheduleError, TimeZoneError, load_time_zone
from aischeduler_operator.settings import Settings, SettingsError, load_settings

EXIT_OK, EXIT_FAILED, EXIT_ERROR, EXIT_TIMEOUT = 0, 1, 2, 3
# What `validate --assume-operator-defaults` takes the operator to provide.
ASSUMED_DEFAULTS = {"platform_url": "https://operator-default.invalid", "credentials_secret": "x"}


def _out(text: str) -> None:
    sys.stdout.write(text if text.endswith("\n") else text + "\n")


def _dump(data: Any, output: str) -> None:
    if output == "json":
        _out(json.dumps(data, indent=2, ensure_ascii=False))
    else:
        _out(yaml.safe_dump(data, sort_keys=False, allow_unicode=True))


def _now() -> datetime:
    return datetime.now(UTC)


# --------------------------------------------------------------------------- commands


def cmd_list(args: argparse.Namespace, cluster: Cluster) -> int:
    namespace = None if args.all_namespaces else cluster.namespace
    summaries = [views.summarize(o) for o in cluster.schedules(namespace)]
    if args.sort == "next":
        summaries.sort(key=views.sort_key_next)
    else:
        summaries.sort(key=lambda s: (s.namespace, s.name))
    if args.output != "table":
        _dump([s.as_dict() for s in summaries], args.output)
    elif not summaries:
        where = "any namespace" if namespace is None else f"namespace {namespace}"
        _out(f"No AssistantSchedules in {where}.")
    else:
        _out(views.list_rows(summaries, _now(), namespaces=namespace is None))
    return EXIT_OK


def cmd_show(args: argparse.Namespace, cluster: Cluster) -> int:
    obj = cluster.schedule(args.name)
    if args.output != "table":
        _dump(obj, args.output)
    else:
        _out(views.show_text(obj, _now()))
    return EXIT_OK


def cmd_history(args: argparse.Namespace, cluster: Cluster) -> int:
    obj = cluster.schedule(args.name)
    history = (obj.get("status") or {}).get("history") or []
    if args.failed:
        history = views.failed_only(history)
    if args.output != "table":
        _dump(history, args.output)
    elif not history:
        _out(f"No {'failed ' if args.failed else ''}runs recorded for {args.name}.")
    else:
        zone = views.zone_or_utc(views.zone_name_of(obj))
        _out(views.history_rows(history, zone))
    return EXIT_OK


def cmd_logs(args: argparse.Namespace, cluster: Cluster) -> int:
    obj = cluster.schedule(args.name)
    history = (obj.get("status") or {}).get("history") or []
    jobs = cluster.jobs(args.name)
    job_name = args.job or (jobs[0]["metadata"]["name"] if jobs else None)
    if job_name is None and history:
        job_name = history[0].get("job")
    if job_name is None:
        _out(f"{args.name} has no runs yet.")
        return EXIT_OK
    pods = cluster.pods(job_name) if any(j["metadata"]["name"] == job_name for j in jobs) else []
    if pods:
        pod = pods[0]["metadata"]["name"]
        try:
            for chunk in cluster.pod_log(pod, follow=args.follow):
                sys.stdout.write(chunk)
            sys.stdout.flush()
            return EXIT_OK
        except CliError as e:
            reason = f"the pod log of {pod} cannot be read ({e})"
    else:
        reason = f"the pod log is gone (Job {job_name} was removed)"
    entry = next((h for h in history if h.get("job") == job_name), None)
    if entry is None:
        raise CliError(f"{reason}, and no run of Job {job_name} is recorded in the history")
    _out(f"# {reason}; the recorded result:")
    _out(
        f"# {entry.get('result')} ({entry.get('trigger')}): {entry.get('message') or '-'}\n"
        + (entry.get("output") or "")
    )
    return EXIT_OK


def _run_now_value() -> str:
    return _now().strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def cmd_run(args: argparse.Namespace, cluster: Cluster) -> int:
    value = _run_now_value()
    # A leftover input override from an earlier run must not leak into this one: null
    # removes it in a merge patch.
    patched = cluster.patch(
        args.name,
        {
            "metadata": {
                "annotations": {RUN_NOW_ANNOTATION: value, RUN_NOW_INPUT_ANNOTATION: args.input}
            }
        },
    )
    job = manual_job_name(args.name, value)
    _out(f"run-now {value} requested for {cluster.namespace}/{args.name} (Job {job})")
    if not args.wait:
        return EXIT_OK
    entry = _wait_for_run(cluster, args.name, job, patched, args.timeout)
    if entry is None:
        _out(f"timed out after {args.timeout}s waiting for Job {job} to be recorded")
        return EXIT_TIMEOUT
    result = entry.get("result")
    _out(f"{result}: {entry.get('message') or '-'}")
    if entry.get("tokensUsed") is not None:
        _out(f"tokens: {entry['tokensUsed']}")
    if entry.get("output"):
        _out("output:\n" + entry["output"])
    return EXIT_OK if result == "Succeeded" else EXIT_FAILED


def _recorded(obj: dict[str, Any], job: str) -> dict[str, Any] | None:
    history = (obj.get("status") or {}).get("history") or []
    found: dict[str, Any] | None = next((h for h in history if h.get("job") == job), None)
    return found


def _wait_for_run(
    cluster: Cluster, name: str, job: str, obj: dict[str, Any], timeout: int
) -> dict[str, Any] | None:
    """Follows the schedule (a watch, resumed until the deadline) until ``job`` is in its
    history."""
    deadline = time.monotonic() + timeout
    version = obj["metadata"]["resourceVersion"]
    while (remaining := int(deadline - time.monotonic())) > 0:
        for changed in cluster.watch_schedule(name, version, remaining):
            version = changed["metadata"]["resourceVersion"]
            if (entry := _recorded(changed, job)) is not None:
                return entry
        # The watch ended (server time-out): check once with a read, then watch on.
        current = cluster.schedule(name)
        version = current["metadata"]["resourceVersion"]
        if (entry := _recorded(current, job)) is not None:
            return entry
    return None


def _set_suspend(value: bool) -> Callable[[argparse.Namespace, Cluster], int]:
    """suspend sets spec.suspend; resume clears it and also lifts a pause after failures
    (a new value of the aischeduler.io/resume annotation)."""

    def command(args: argparse.Namespace, cluster: Cluster) -> int:
        for name in args.names:
            patch: dict[str, Any] = {"spec": {"suspend": value}}
            if not value:
                patch["metadata"] = {"annotations": {RESUME_ANNOTATION: _run_now_value()}}
            cluster.patch(name, patch)
            _out(f"{cluster.namespace}/{name} {'suspended' if value else 'resumed'}")
        return EXIT_OK

    return command


def cmd_backfill(args: argparse.Namespace, cluster: Cluster) -> int:
    value = f"{args.start}/{args.end}"
    cluster.patch(args.name, {"metadata": {"annotations": {BACKFILL_ANNOTATION: value}}})
    _out(
        f"backfill {value} requested for {cluster.namespace}/{args.name}; "
        f"follow it with: kubectl asched show {args.name}"
    )
    return EXIT_OK


def cmd_next(args: argparse.Namespace) -> int:
    expression = args.schedule
    if has_hash(expression) and not args.for_schedule:
        raise CliError(
            f"{expression!r} uses H, whose value depends on the schedule: add --for NAMESPACE/NAME"
        )
    try:
        expression = resolve_hash(expression, args.for_schedule or "")
        times = views.upcoming(expression, args.tz, _now(), args.count)
    except (ScheduleError, TimeZoneError) as e:
        raise CliError(str(e)) from None
    if expression != args.schedule and args.output == "table":
        _out(f"effective schedule for {args.for_schedule}: {expression}")
    if args.output != "table":
        _dump([{"time": views.iso(t), "note": note} for t, note in times], args.output)
    elif not times:
        _out("The CronJob controller finds no time for this schedule within five years.")
    else:
        _out(views.upcoming_lines(times, load_time_zone(args.tz), _now()))
    return EXIT_OK


def cmd_validate(args: argparse.Namespace) -> int:
    try:
        settings = load_settings()
    except SettingsError as e:
        raise CliError(str(e)) from None
    if args.assume_operator_defaults:
        settings = Settings(**{**settings.model_dump(), **_missing_defaults(settings)})
    checked, problems = validate_files([Path(p) for p in args.files], settings)
    for problem in problems:
        _out(str(problem))
    _out(f"{checked} AssistantSchedule(s) checked, {len(problems)} problem(s)")
    return EXIT_FAILED if problems else EXIT_OK


def _missing_defaults(settings: Settings) -> dict[str, str]:
    return {k: v for k, v in ASSUMED_DEFAULTS.items() if not getattr(settings, k)}


# --------------------------------------------------------------------------- arguments


def _parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("-n", "--namespace", help="namespace (default: the context's)")
    common.add_argument("--context", help="kubeconfig context to use")
    common.add_argument("--kubeconfig", help="path to the kubeconfig file")
    common.add_argument("--as", dest="as_user", metavar="USER", help="impersonate this user")
    output = argparse.ArgumentParser(add_help=False)
    output.add_argument("-o", "--output", choices=("table", "json", "yaml"), default="table")

    parser = argparse.ArgumentParser(
        prog="kubectl asched",
        description="View, run and validate AssistantSchedules (aischeduler.io).",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("list", parents=[common, output], help="schedules with next/last run")
    p.add_argument("-A", "--all-namespaces", action="store_true")
    p.add_argument("--sort", choices=("next", "name"), default="next")
    p.set_defaults(run=cmd_list)

    p = sub.add_parser("show", parents=[common, output], help="the whole picture of one")
    p.add_argument("name")
    p.set_defaults(run=cmd_show)

    p = sub.add_parser("history", parents=[common, output], help="one line per recorded run")
    p.add_argument("name")
    p.add_argument("--failed", action="store_true", help="only runs that did not succeed")
    p.set_defaults(run=cmd_history)

    p = sub.add_parser("logs", parents=[common], help="a run's pod log, or its record")
    p.add_argument("name")
    p.add_argument("job", nargs="?", help="the run's Job (default: the newest)")
    p.add_argument("-f", "--follow", action="store_true")
    p.set_defaults(run=cmd_logs)

    p = sub.add_parser("run", parents=[common], help="run now (test first)")
    p.add_argument("name")
    p.add_argument("--input", help="input for this run only")
    p.add_argument("--wait", action="store_true", help="follow the run to its result")
    p.add_argument("--timeout", type=int, default=600, help="seconds to wait (default 600)")
    p.set_defaults(run=cmd_run)

    for verb, value, what in (
        ("suspend", True, "suspend schedules"),
        ("resume", False, "resume schedules (also after a pause for failures)"),
    ):
        p = sub.add_parser(verb, parents=[common], help=what)
        p.add_argument("names", nargs="+", metavar="NAME")
        p.set_defaults(run=_set_suspend(value))

    p = sub.add_parser("backfill", parents=[common], help="run the scheduled times of a range")
    p.add_argument("name")
    p.add_argument("start", metavar="FROM", help="RFC 3339; without an offset in timeZone")
    p.add_argument("end", metavar="TO", help="excluded; RFC 3339, in the past")
    p.set_defaults(run=cmd_backfill)

    p = sub.add_parser("next", parents=[output], help="next run times of a cron (offline)")
    p.add_argument("schedule")
    p.add_argument("--tz", default="UTC", help="IANA time zone (default UTC)")
    p.add_argument("-n", "--count", type=int, default=5)
    p.add_argument(
        "--for",
        dest="for_schedule",
        metavar="NAMESPACE/NAME",
        help="the schedule an H in SCHEDULE is resolved for",
    )
    p.set_defaults(offline=cmd_next)

    p = sub.add_parser("validate", help="check schedule files as the operator would (offline)")
    p.add_argument("files", nargs="+", metavar="FILE")
    p.add_argument(
        "--assume-operator-defaults",
        action="store_true",
        help="take the platform URL and credentials Secret as set by the operator",
    )
    p.set_defaults(offline=cmd_validate)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as e:  # argparse: --help is 0, a usage error 2
        return int(e.code or 0)
    try:
        if hasattr(args, "offline"):
            code: int = args.offline(args)
            return code
        cluster = Cluster(args.kubeconfig, args.context, args.namespace, args.as_user)
        code = args.run(args, cluster)
        return code  # noqa: RET504 - typed as int for mypy
    except CliError as e:
        sys.stderr.write(f"error: {e}\n")
        return EXIT_ERROR
    except KeyboardInterrupt:
        return 130


def entry_point() -> None:
    sys.exit(main())
