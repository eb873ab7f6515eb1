"""Odd AssistantSchedules through the real apiserver, with the operator running.

Every input is either refused at admission with a message naming the field or rule,
or accepted and then reported (`Ready=False` with a reason and a message), or valid and
`Ready=True`. Throughout, the operator stays up (no traceback in its log) and keeps
reconciling a canary schedule whose spec changes between batches.

`CASES` is the table of named kinds (at least 40); `test_generated_specs` adds
hypothesis-generated crons, zones, runAt forms, inputs and pod labels.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, event, given, settings
from hypothesis import strategies as st
from kubernetes.client.exceptions import ApiException
from schedules import Schedules, body, condition, is_ready

from conftest import OperatorProcess

# Reasons the spec allows for Ready=False (§2.2).
NOT_READY_REASONS = {"InvalidSpec", "InvalidSchedule", "InvalidTimeZone", "ReconcileError"}
READY = "ready"
REFUSED = "refused"


@dataclass(frozen=True)
class Case:
    """One kind of input and what must come of it.

    `expect` is READY, REFUSED (then `says` is in the apiserver's message) or a set of
    Ready=False reasons (then `says`, when given, is in the condition's message).
    """

    kind: str
    spec: dict[str, Any]
    expect: str | frozenset[str]
    says: str = ""
    name: str = ""


def refused(kind: str, says: str, name: str = "", **spec: Any) -> Case:
    return Case(kind, spec, REFUSED, says, name)


def invalid(kind: str, reason: str | set[str], says: str = "", **spec: Any) -> Case:
    reasons = frozenset({reason} if isinstance(reason, str) else reason)
    return Case(kind, spec, reasons, says)


def ready(kind: str, name: str = "", **spec: Any) -> Case:
    return Case(kind, spec, READY, "", name)


DROP = None  # a spec value of None removes the field from the default body

CASES = [
    # --- refused by the CRD schema -----------------------------------------------------
    refused("name of 64 characters", "at most 63 characters", name="n" * 64),
    refused("assistant and workflow", "exactly one of spec.assistant", workflow={"id": "w"}),
    refused("neither assistant nor workflow", "exactly one of spec.assistant", assistant=DROP),
    refused("schedule and runAt", "exactly one of spec.schedule", runAt="2099-01-01T00:00:00Z"),
    refused("neither schedule nor runAt", "exactly one of spec.schedule", schedule=DROP),
    refused("input of 32769 characters", "spec.input", input="x" * 32769),
    refused("timeoutSeconds 0", "spec.timeoutSeconds", timeoutSeconds=0),
    refused("jitterSeconds 3601", "spec.jitterSeconds", jitterSeconds=3601),
    refused("maxTokensPerRun 0", "spec.maxTokensPerRun", maxTokensPerRun=0),
    invalid("H with an empty range", "InvalidSchedule", "H(40-20)", schedule="H(40-20) * * * *"),
    invalid("H with a step beyond its range", "InvalidSchedule", "H/61", schedule="H/61 * * * *"),
    invalid("unknown placeholder", "InvalidSpec", "{{ .Now }}", input="at {{ .Now }}"),
    invalid("unclosed placeholder", "InvalidSpec", "no closing }}", input="at {{ .Date"),
    refused("timeoutSeconds 86401", "spec.timeoutSeconds", timeoutSeconds=86401),
    refused("timeoutSeconds 2**63-1", "spec.timeoutSeconds", timeoutSeconds=2**63 - 1),
    refused("retries -1", "spec.retries", retries=-1),
    refused("retries 11", "spec.retries", retries=11),
    refused("retries as a string", "spec.retries", retries="3"),
    refused("historyLimit 0", "spec.historyLimit", historyLimit=0),
    refused("historyLimit 101", "spec.historyLimit", historyLimit=101),
    refused(
        "startingDeadlineSeconds -1", "spec.startingDeadlineSeconds", startingDeadlineSeconds=-1
    ),
    refused("concurrencyPolicy unknown", "spec.concurrencyPolicy", concurrencyPolicy="Sometimes"),
    refused("platform type unknown", "spec.platform.type", platform={"type": "grpc"}),
    refused("suspend as a string", "spec.suspend", suspend="yes"),
    refused("schedule of 257 characters", "spec.schedule", schedule="0 " * 128 + "*"),
    refused(
        "runAt of 65 characters",
        "spec.runAt",
        schedule=DROP,
        runAt="2099-01-01T00:00:00Z" + " " * 45,
    ),
    refused(
        "Secret name with capitals",
        "credentialsSecretRef.name",
        platform={"credentialsSecretRef": {"name": "Codemie_Credentials"}},
    ),
    refused(
        "Secret name empty",
        "credentialsSecretRef.name",
        platform={"credentialsSecretRef": {"name": ""}},
    ),
    refused(
        "ServiceAccount name with a space",
        "serviceAccountName",
        runner={"serviceAccountName": "my runner"},
    ),
    refused(
        "podLabels with our managed-by",
        "podLabels cannot set",
        runner={"podLabels": {"app.kubernetes.io/managed-by": "me"}},
    ),
    refused(
        "podLabels with our schedule label",
        "podLabels cannot set",
        runner={"podLabels": {"aischeduler.io/schedule": "other"}},
    ),
    # --- accepted, then reported on the status -------------------------------------------
    invalid("day-of-week 7", "InvalidSchedule", "0 0 * * 7", schedule="0 0 * * 7"),
    invalid("minute 61", "InvalidSchedule", "61 * * * *", schedule="61 * * * *"),
    invalid("four fields", "InvalidSchedule", schedule="* * * *"),
    invalid("six fields (seconds)", "InvalidSchedule", schedule="0 0 0 * * *"),
    invalid("TZ= prefix", "InvalidSchedule", schedule="TZ=UTC 0 0 * * *"),
    invalid("CRON_TZ= prefix", "InvalidSchedule", schedule="CRON_TZ=Europe/Paris 0 0 * * *"),
    invalid("@every", "InvalidSchedule", schedule="@every 5m"),
    invalid("empty schedule", "InvalidSchedule", schedule=""),
    invalid("emoji in the cron", "InvalidSchedule", schedule="🙂 * * * *"),
    invalid("step of zero", "InvalidSchedule", schedule="*/0 * * * *"),
    invalid("reversed range", "InvalidSchedule", schedule="5-1 * * * *"),
    invalid("unknown zone", "InvalidTimeZone", "Mars/Olympus", timeZone="Mars/Olympus"),
    invalid("zone as a path", "InvalidTimeZone", timeZone="../../../etc/passwd"),
    invalid("zone as an offset", "InvalidTimeZone", timeZone="UTC+3"),
    invalid("zone in the wrong case", "InvalidTimeZone", timeZone="europe/paris"),
    invalid(
        "runAt in words", "InvalidSchedule", "invalid runAt", schedule=DROP, runAt="next tuesday"
    ),
    invalid("runAt on 30 February", "InvalidSchedule", schedule=DROP, runAt="2027-02-30T10:00:00Z"),
    invalid("runAt in month 13", "InvalidSchedule", schedule=DROP, runAt="2027-13-01T10:00:00"),
    invalid(
        "runAt offset +25:00", "InvalidSchedule", schedule=DROP, runAt="2099-01-01T00:00:00+25:00"
    ),
    invalid("runAt year 99999", "InvalidSchedule", schedule=DROP, runAt="99999-01-01T00:00:00Z"),
    # --- valid ------------------------------------------------------------------------
    ready("name of 63 characters", name="n" * 63),
    ready("name of 1 character", name="a"),
    ready("input of 32768 two-byte characters", input="é" * 32768),
    ready("input in many scripts", input="日本語 עברית العربية 🙂 e\u0301 \u200b zero-width"),
    ready("@yearly", schedule="@yearly"),
    ready("H in every field", schedule="H H H H H"),
    ready("H forms in lists", schedule="H(0-29)/10,45 H(8-10) * * 1-5"),
    ready(
        "every placeholder", input='{{ .ScheduledTime }} {{ .Date "-1w" }} {{.Week}} {{ .Trigger }}'
    ),
    ready("JSON in the input", input='{"a": {"b": [1, 2]}}'),
    ready("jitter and token limit at the edges", jitterSeconds=3600, maxTokensPerRun=1),
    ready("Kathmandu (+05:45)", timeZone="Asia/Kathmandu"),
    ready("limits at their maximum", timeoutSeconds=86400, retries=10, historyLimit=100),
    ready("30 February (never fires)", schedule="0 0 30 2 *"),
    ready("podLabels of others' domains", runner={"podLabels": {"cost.example.com/team": "a"}}),
    ready("unknown spec field (pruned)", surprise={"nested": True}),
    ready("runAt without offset", schedule=DROP, runAt="2099-06-01T09:30:00"),
    # --- schedule policies (spec §7) ----------------------------------------------------
    refused("maxRuns 0", "spec.maxRuns", maxRuns=0),
    refused("pauseAfterFailures 0", "spec.pauseAfterFailures", pauseAfterFailures=0),
    refused("backfillParallelism 11", "spec.backfillParallelism", backfillParallelism=11),
    refused(
        "tokenBudget per Year", "spec.tokenBudget.per", tokenBudget={"tokens": 5, "per": "Year"}
    ),
    refused("tokenBudget of 0", "spec.tokenBudget.tokens", tokenBudget={"tokens": 0, "per": "Day"}),
    invalid("startTime not a time", "InvalidSpec", "spec.startTime", startTime="tomorrow"),
    invalid(
        "endTime before startTime",
        "InvalidSpec",
        "must be after spec.startTime",
        startTime="2030-01-02T00:00:00Z",
        endTime="2030-01-01T00:00:00Z",
    ),
    ready(
        "window, limits and budget",
        startTime="2020-01-01T00:00:00",
        endTime="2099-01-01T00:00:00",
        maxRuns=3,
        pauseAfterFailures=2,
        tokenBudget={"tokens": 1000, "per": "Month"},
        backfillParallelism=3,
    ),
    # Found by this suite: the apiserver refused the CronJob (422) and the operator
    # retried forever with no status; now the spec is Invalid with the field named.
    invalid(
        "podLabels key with a space",
        "InvalidSpec",
        "podLabels: key 'bad key'",
        runner={"podLabels": {"bad key": "v"}},
    ),
    invalid(
        "podLabels value of 64 chars",
        "InvalidSpec",
        "not a valid label value",
        runner={"podLabels": {"cost": "v" * 64}},
    ),
    invalid(
        "podAnnotations key a/b/c",
        "InvalidSpec",
        "podAnnotations: key 'a/b/c'",
        runner={"podAnnotations": {"a/b/c": "v"}},
    ),
    # Found by this suite: timedelta overflowed in the missed-time step (a traceback).
    ready("startingDeadlineSeconds 2**62", startingDeadlineSeconds=2**62),
]


def manifest(name: str, spec: dict[str, Any]) -> dict[str, Any]:
    cr = body(name)
    for key, value in spec.items():
        if value is DROP:
            cr["spec"].pop(key, None)
        else:
            cr["spec"][key] = value
    return cr


def fresh_name(case: Case, index: int) -> str:
    return case.name or f"case-{index}-{uuid.uuid4().hex[:5]}"


def create_or_refusal(s: Schedules, cr: dict[str, Any]) -> str | None:
    """Creates `cr`; the apiserver's message when it refuses it, else None."""
    try:
        s.create(cr)
    except ApiException as exc:
        assert exc.status in (400, 422), (exc.status, exc.body)
        return str(exc.body)
    return None


def outcome(s: Schedules, name: str) -> tuple[str, dict[str, Any]]:
    """READY, or the Ready=False reason, once the status describes the current generation."""
    status = s.wait_observed(name)
    ready_condition = condition(status, "Ready")
    assert ready_condition.get("message"), status
    if ready_condition["status"] == "True":
        assert is_ready(s.get(name)), status
        return READY, ready_condition
    assert ready_condition["status"] == "False", ready_condition
    return ready_condition["reason"], ready_condition


@dataclass
class Watch:
    """The canary and the operator, checked between batches."""

    s: Schedules
    operator: OperatorProcess
    log_start: int
    canary: str = "canary"

    def check(self) -> None:
        assert self.operator.process is not None and self.operator.process.poll() is None, (
            "the operator exited"
        )
        log = self.operator.log_text()[self.log_start :]
        assert "Traceback" not in log, log[-5000:]
        # A spec change observed: the operator still reconciles other schedules.
        self.s.sync(self.canary)


@pytest.fixture
def watch(s: Schedules, operator: OperatorProcess) -> Watch:
    w = Watch(s, operator, len(operator.log_text()))
    s.create(body(w.canary))
    s.wait_ready(w.canary)
    return w


def test_named_kinds(s: Schedules, watch: Watch) -> None:
    assert len(CASES) >= 40
    accepted: list[tuple[Case, str]] = []
    wrong: list[str] = []
    for index, case in enumerate(CASES):
        name = fresh_name(case, index)
        refusal = create_or_refusal(s, manifest(name, case.spec))
        if case.expect == REFUSED:
            if refusal is None:
                wrong.append(f"{case.kind}: accepted, expected a refusal saying {case.says!r}")
            elif case.says not in refusal:
                wrong.append(f"{case.kind}: refused without {case.says!r}: {refusal}")
        elif refusal is not None:
            wrong.append(f"{case.kind}: refused: {refusal}")
        else:
            accepted.append((case, name))
    watch.check()
    for case, name in accepted:
        got, ready_condition = outcome(s, name)
        if case.expect == READY and got != READY:
            wrong.append(f"{case.kind}: expected Ready, got {ready_condition}")
        if isinstance(case.expect, frozenset) and (
            got not in case.expect or case.says not in ready_condition["message"]
        ):
            wrong.append(
                f"{case.kind}: expected {set(case.expect)} {case.says!r}, got {ready_condition}"
            )
    watch.check()
    assert not wrong, "\n".join(wrong)


# --- generated -------------------------------------------------------------------------

CRON_FIELDS = [
    "*",
    "0",
    "7",
    "59",
    "60",
    "*/0",
    "*/7",
    "1-5",
    "5-1",
    "1,2,3",
    "?",
    "L",
    "H",
    "H/15",
    "H(0-29)",
    "JAN",
    "MON-FRI",
    "-1",
    "a",
    "0x1",
    "🙂",
    "",
]
ZONES = [
    "UTC",
    "Europe/Berlin",
    "America/St_Johns",
    "Etc/GMT+14",
    "Local",
    "EST5EDT",
    "",
    "Europe/Kyiv",
    "US/Pacific-New",
    "Antarctica/Troll",
    "../UTC",
    "Europe/Berlin\n",
]


LABEL_PART = st.from_regex(r"[a-z0-9]([-a-z0-9.]{0,20}[a-z0-9])?", fullmatch=True).filter(
    lambda k: ".." not in k and not k.startswith(("app.kubernetes.io", "aischeduler.io"))
)


def crons() -> st.SearchStrategy[str]:
    fields = st.lists(st.sampled_from(CRON_FIELDS), min_size=4, max_size=6).map(" ".join)
    macros = st.sampled_from(["@hourly", "@daily", "@midnight", "@reboot", "@HOURLY", "@ daily"])
    return fields | macros | st.text(max_size=20)


def run_ats() -> st.SearchStrategy[str]:
    dates = st.tuples(
        st.integers(0, 10000), st.integers(0, 13), st.integers(0, 32), st.integers(0, 25)
    ).map(lambda t: f"{t[0]:04d}-{t[1]:02d}-{t[2]:02d}T{t[3]:02d}:00:00")
    offsets = st.sampled_from(["", "Z", "+01:00", "-12:00", "+14:00", "+24:00", "z", " UTC"])
    return st.tuples(dates, offsets).map("".join) | st.text(max_size=30)


def specs() -> st.SearchStrategy[dict[str, Any]]:
    timing = st.one_of(
        st.builds(lambda c: {"schedule": c}, crons()),
        st.builds(lambda r: {"schedule": DROP, "runAt": r}, run_ats()),
    )
    extras = st.fixed_dictionaries(
        {},
        optional={
            "timeZone": st.sampled_from(ZONES) | st.text(max_size=15),
            "input": st.text(max_size=2000),
            "timeoutSeconds": st.integers(-5, 100_000),
            "historyLimit": st.integers(-1, 150),
            "runner": st.builds(
                lambda labels: {"podLabels": labels},
                # Valid label syntax here; invalid keys and values are named cases above.
                st.dictionaries(LABEL_PART, LABEL_PART | st.just(""), max_size=2),
            ),
        },
    )
    return st.tuples(timing, extras).map(lambda t: {**t[0], **t[1]})


GENERATED = 30
CANARY_EVERY = 10


@settings(
    max_examples=GENERATED,
    deadline=None,
    derandomize=True,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(spec=specs())
def test_generated_specs(s: Schedules, watch: Watch, spec: dict[str, Any]) -> None:
    name = f"gen-{uuid.uuid4().hex[:8]}"
    refusal = create_or_refusal(s, manifest(name, spec))
    if refusal is not None:
        assert "spec" in refusal or "metadata" in refusal, refusal
        event("refused at admission")
    else:
        got, ready_condition = outcome(s, name)
        assert got == READY or got in NOT_READY_REASONS, ready_condition
        event(f"accepted: {got}")  # the mix, with --hypothesis-show-statistics
    examples = _count(s)
    if examples % CANARY_EVERY == 0:
        watch.check()


_COUNTS: dict[str, int] = {}


def _count(s: Schedules) -> int:
    _COUNTS[s.namespace] = _COUNTS.get(s.namespace, 0) + 1
    return _COUNTS[s.namespace]
