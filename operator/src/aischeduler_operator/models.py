"""Typed AssistantSchedule spec and status (aischeduler.io/v1alpha1).

These models are the single source of truth for the CRD schema (see ``crd.py``): field
names, defaults, ranges and lengths here are what the apiserver enforces."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from aischeduler_runner.contract import PlatformType, RunReport

GROUP = "aischeduler.io"
VERSION = "v1alpha1"
KIND = "AssistantSchedule"
PLURAL = "assistantschedules"
SHORT_NAME = "asched"

ConcurrencyPolicy = Literal["Allow", "Forbid", "Replace"]
Trigger = Literal["Scheduled", "Manual", "OneTime", "Backfill"]
RunOutcome = Literal["Succeeded", "Failed", "Missed"]
Phase = Literal["Active", "Suspended", "Completed", "Paused", "Invalid"]
BudgetPeriod = Literal["Day", "Week", "Month"]

MAX_INPUT_CHARS = 32768
DNS_LABEL = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"
DNS_SUBDOMAIN = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"


class _Model(BaseModel):
    # Spec objects are parsed from what the apiserver stored (already schema-checked), so
    # unknown fields from newer CRD versions are ignored rather than failing the reconcile.
    model_config = ConfigDict(extra="ignore", frozen=True, populate_by_name=True)


class Target(_Model):
    id: str = Field(min_length=1, max_length=253, description="Id of the assistant or workflow.")


class SecretRef(_Model):
    name: str = Field(
        min_length=1,
        max_length=253,
        pattern=DNS_SUBDOMAIN,
        description="Name of a Secret in the schedule's namespace.",
    )


class Platform(_Model):
    type: PlatformType | None = Field(
        default=None, description="API the runner calls. Default: the operator's setting."
    )
    url: str | None = Field(
        default=None,
        max_length=2048,
        pattern=r"^https?://",
        description="Base URL of the platform API. Default: the operator's setting.",
    )
    credentials_secret_ref: SecretRef | None = Field(
        default=None,
        alias="credentialsSecretRef",
        description="Secret holding the credentials (never inline). Default: the operator's.",
    )


Quantity = Annotated[
    int | str,
    Field(json_schema_extra={"x-kubernetes-int-or-string": True}),
]


class Resources(_Model):
    requests: dict[str, Quantity] | None = Field(default=None, description="e.g. cpu: 50m")
    limits: dict[str, Quantity] | None = Field(default=None, description="e.g. memory: 256Mi")


class Runner(_Model):
    image: str | None = Field(default=None, max_length=512, description="Runner image.")
    resources: Resources | None = Field(default=None, description="Runner container resources.")
    service_account_name: str | None = Field(
        default=None,
        alias="serviceAccountName",
        max_length=253,
        pattern=DNS_SUBDOMAIN,
        description="ServiceAccount of the runner pod (its token is never mounted).",
    )
    pod_annotations: dict[str, str] | None = Field(
        default=None, alias="podAnnotations", description="Added to the runner pod."
    )
    pod_labels: dict[str, str] | None = Field(
        default=None,
        alias="podLabels",
        description="Added to the runner pod; cannot override the operator's own labels.",
    )


class TokenBudget(_Model):
    tokens: int = Field(ge=1, description="Tokens (summed from the runs' tokensUsed) per period.")
    per: BudgetPeriod = Field(
        description="Day, Week (ISO, from Monday) or Month, in the schedule's timeZone."
    )


class AssistantScheduleSpec(_Model):
    assistant: Target | None = Field(default=None, description="Assistant to run.")
    workflow: Target | None = Field(default=None, description="Workflow to run.")
    input: str = Field(
        default="",
        max_length=MAX_INPUT_CHARS,
        description=(
            "The prompt (assistant) or user_input (workflow). May use placeholders for the "
            "run's scheduled time in timeZone: {{ .ScheduledTime }}, {{ .Date }}, "
            '{{ .Date "-1d" }} ("+2d", "-1w"), {{ .Week }}, {{ .Schedule }}, {{ .Trigger }}.'
        ),
    )
    schedule: str | None = Field(
        default=None,
        max_length=256,
        description=(
            "5-field cron or @yearly/@annually/@monthly/@weekly/@daily/@midnight/@hourly. "
            "H in a field (H, H(a-b), H/n, H(a-b)/n) is a value derived from namespace/name "
            "that spreads schedules over the field's range; status.effectiveSchedule shows it."
        ),
    )
    run_at: str | None = Field(
        default=None,
        alias="runAt",
        max_length=64,
        description="One-time run, RFC 3339; without an offset it is read in timeZone.",
    )
    time_zone: str | None = Field(
        default=None,
        alias="timeZone",
        max_length=64,
        description="IANA time zone for schedule and runAt. Default: the operator's, else UTC.",
    )
    jitter_seconds: int | None = Field(
        default=None,
        ge=0,
        le=3600,
        alias="jitterSeconds",
        description=(
            "Random delay, up to this many seconds, inside the runner before it calls the "
            "platform; never more than half the run's deadline."
        ),
    )
    suspend: bool = Field(default=False, description="No new runs; running ones finish.")
    concurrency_policy: ConcurrencyPolicy = Field(
        default="Forbid", alias="concurrencyPolicy", description="As CronJob."
    )
    starting_deadline_seconds: int = Field(
        default=300,
        ge=0,
        alias="startingDeadlineSeconds",
        description="A run that cannot start this long after its time is recorded as Missed.",
    )
    timeout_seconds: int = Field(
        default=3600, ge=1, le=86400, alias="timeoutSeconds", description="Per-run deadline."
    )
    retries: int = Field(
        default=1, ge=0, le=10, description="Job backoffLimit; configuration errors never retry."
    )
    max_tokens_per_run: int | None = Field(
        default=None,
        ge=1,
        alias="maxTokensPerRun",
        description=(
            "Limit passed to the platform where it has one (openai: max_tokens); "
            "codemie and webhook have none."
        ),
    )
    history_limit: int = Field(
        default=10, ge=1, le=100, alias="historyLimit", description="Entries in status.history."
    )
    start_time: str | None = Field(
        default=None,
        alias="startTime",
        max_length=64,
        description=(
            "Active window start, RFC 3339 (without an offset read in timeZone): no scheduled "
            "run before it."
        ),
    )
    end_time: str | None = Field(
        default=None,
        alias="endTime",
        max_length=64,
        description=(
            "Active window end, RFC 3339 (without an offset read in timeZone): scheduled times "
            "at or after it do not run; the schedule is then Completed."
        ),
    )
    max_runs: int | None = Field(
        default=None,
        ge=1,
        alias="maxRuns",
        description=(
            "After this many started runs (any trigger but Backfill) the schedule is Completed."
        ),
    )
    pause_after_failures: int | None = Field(
        default=None,
        ge=1,
        alias="pauseAfterFailures",
        description=(
            "After this many Failed runs in a row the schedule pauses (condition Paused, reason "
            "TooManyFailures) until annotation aischeduler.io/resume gets a new value or the "
            "spec changes."
        ),
    )
    backfill_parallelism: int = Field(
        default=1,
        ge=1,
        le=10,
        alias="backfillParallelism",
        description="Runs a backfill (annotation aischeduler.io/backfill) keeps going at once.",
    )
    token_budget: TokenBudget | None = Field(
        default=None,
        alias="tokenBudget",
        description=(
            "Tokens the runs may use per period; when reached the schedule pauses (reason "
            "BudgetExceeded) until the next period."
        ),
    )
    platform: Platform = Field(default_factory=Platform, description="Where the runner calls.")
    runner: Runner = Field(default_factory=Runner, description="Runner pod overrides.")


# ----------------------------------------------------------------------------- status


class Condition(_Model):
    type: str
    status: Literal["True", "False", "Unknown"]
    reason: str
    message: str = ""
    last_transition_time: str = Field(alias="lastTransitionTime")
    observed_generation: int | None = Field(default=None, alias="observedGeneration")


class HistoryEntry(_Model, RunReport):
    """One finished (or missed) run: what its Job says, plus what the runner reported."""

    job: str
    trigger: Trigger
    result: RunOutcome
    scheduled_time: str | None = Field(default=None, alias="scheduledTime")
    start_time: str | None = Field(default=None, alias="startTime")
    completion_time: str | None = Field(default=None, alias="completionTime")


class ActiveRun(_Model):
    job: str
    start_time: str | None = Field(default=None, alias="startTime")


class Runs(_Model):
    total: int = 0
    succeeded: int = 0
    failed: int = 0
    missed: int = 0
    consecutive_failures: int = Field(default=0, alias="consecutiveFailures")
    # Absent while zero (a status from before these fields reads the same).
    failed_in_a_row: int | None = Field(
        default=None,
        alias="failedInARow",
        description=(
            "Failed runs since the last success or resume (Missed runs neither count nor "
            "break it); compared with spec.pauseAfterFailures. Absent: 0."
        ),
    )
    backfill: int | None = Field(
        default=None,
        description="Backfill runs among succeeded and failed (not counted in maxRuns). Absent: 0.",
    )


class Tokens(_Model):
    period: str = Field(description="The budget period: 2026-11-25, 2026-W48 or 2026-11.")
    used: int = Field(default=0, description="Tokens recorded in this period.")


class Backfill(_Model):
    value: str = Field(description="The aischeduler.io/backfill value acted on (never twice).")
    total: int = 0
    started: int = 0
    succeeded: int = 0
    failed: int = 0
    message: str = ""


class AssistantScheduleStatus(_Model):
    observed_generation: int | None = Field(default=None, alias="observedGeneration")
    conditions: list[Condition] = Field(default_factory=list)
    phase: Phase | None = None
    target: str | None = Field(default=None, description="e.g. assistant/abc (display).")
    time_zone: str | None = Field(
        default=None, alias="timeZone", description="Effective time zone (display)."
    )
    effective_schedule: str | None = Field(
        default=None,
        alias="effectiveSchedule",
        description="The cron expression the CronJob runs: spec.schedule with H resolved.",
    )
    next_run_time: str | None = Field(default=None, alias="nextRunTime")
    next_run_times: list[str] = Field(default_factory=list, alias="nextRunTimes")
    last_schedule_time: str | None = Field(default=None, alias="lastScheduleTime")
    last_successful_time: str | None = Field(default=None, alias="lastSuccessfulTime")
    last_result: RunOutcome | None = Field(default=None, alias="lastResult")
    active: list[ActiveRun] = Field(default_factory=list)
    runs: Runs = Field(default_factory=Runs)
    history: list[HistoryEntry] = Field(default_factory=list)
    tokens: Tokens | None = Field(default=None, description="Token use when a budget is set.")
    backfill: Backfill | None = Field(default=None, description="The latest backfill.")
    schedule_watermark: str | None = Field(
        default=None,
        alias="scheduleWatermark",
        description="Scheduled times up to this instant are accounted for (run or Missed).",
    )
    last_run_now: str | None = Field(
        default=None,
        alias="lastRunNow",
        description="The aischeduler.io/run-now value already acted on (never twice).",
    )

    last_resume: str | None = Field(
        default=None,
        alias="lastResume",
        description="The aischeduler.io/resume value already acted on (never twice).",
    )

    def to_dict(self) -> dict[str, Any]:
        return self.model_dump(by_alias=True, exclude_none=True, mode="json")
