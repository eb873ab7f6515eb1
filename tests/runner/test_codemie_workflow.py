"""CodeMie workflow executions: create, poll to a terminal status, read the output."""

from __future__ import annotations

import pytest

from .conftest import RunRunner
from .fakes import TOKEN, FakeServer, FakeWorkflow, Reply, Request, bearer_guard

WORKFLOW = "wf-nightly"
EXECUTIONS_PATH = f"/v1/workflows/{WORKFLOW}/executions"


@pytest.fixture
def codemie(server: FakeServer) -> FakeServer:
    server.guard = bearer_guard(lambda token: token == TOKEN)
    return server


def workflow_env(server: FakeServer, **extra: str | None) -> dict[str, str | None]:
    return {
        "AISCHED_TARGET_KIND": "workflow",
        "AISCHED_TARGET_ID": WORKFLOW,
        "AISCHED_PLATFORM_URL": server.url,
        "AISCHED_TOKEN": TOKEN,
        **extra,
    }


def test_workflow_is_polled_until_it_succeeds(codemie: FakeServer, run_runner: RunRunner) -> None:
    flow = FakeWorkflow(
        codemie, WORKFLOW, ["Not Started", "In Progress", "In Progress", "Succeeded"]
    )

    run = run_runner(workflow_env(codemie))

    assert run.exit_code == 0, run.describe()
    (create,) = codemie.requests_to("POST", EXECUTIONS_PATH)
    assert create.json() == {"user_input": "Summarize yesterday's incidents"}
    assert flow.polls == 4
    result = run.result
    assert result.output == "workflow final answer"
    assert result.executionId == "exec-7f3a"
    assert result.conversationId == "conv-wf-1"
    assert result.tokensUsed == 123
    assert result.attempts == 1
    statuses = [line["status"] for line in run.events("workflow.status")]
    assert statuses == ["In Progress", "Succeeded"]


def test_execution_id_falls_back_to_id(codemie: FakeServer, run_runner: RunRunner) -> None:
    FakeWorkflow(codemie, WORKFLOW, ["Succeeded"], id_field="id")

    run = run_runner(workflow_env(codemie))

    assert run.exit_code == 0, run.describe()
    assert run.result.executionId == "exec-7f3a"


@pytest.mark.parametrize("final", ["Failed", "Aborted", "Interrupted"])
def test_workflow_ending_unsuccessfully_fails_the_run(
    codemie: FakeServer, run_runner: RunRunner, final: str
) -> None:
    FakeWorkflow(codemie, WORKFLOW, ["In Progress", final])

    run = run_runner(workflow_env(codemie))

    assert run.exit_code == 1, run.describe()
    result = run.result
    assert f"ended '{final}'" in result.message
    assert result.executionId == "exec-7f3a"
    assert result.tokensUsed == 123


def test_workflow_still_running_at_the_deadline_fails(
    codemie: FakeServer, run_runner: RunRunner
) -> None:
    FakeWorkflow(codemie, WORKFLOW, ["In Progress"])

    run = run_runner(workflow_env(codemie, AISCHED_TIMEOUT_SECONDS="1"))

    assert run.exit_code == 1, run.describe()
    message = run.result.message
    assert "deadline of 1 s (AISCHED_TIMEOUT_SECONDS)" in message
    assert "exec-7f3a" in message and "In Progress" in message
    assert run.result.executionId == "exec-7f3a"


def test_transient_poll_errors_are_retried(codemie: FakeServer, run_runner: RunRunner) -> None:
    flow = FakeWorkflow(codemie, WORKFLOW, ["In Progress", "In Progress", "Succeeded"])
    flow.before_poll = lambda poll: Reply(502, "bad gateway") if poll == 2 else None

    run = run_runner(workflow_env(codemie))

    assert run.exit_code == 0, run.describe()
    assert run.result.output == "workflow final answer"


def test_unknown_workflow_is_a_configuration_error(
    codemie: FakeServer, run_runner: RunRunner
) -> None:
    run = run_runner(workflow_env(codemie, AISCHED_TARGET_ID="wf-missing"))

    assert run.exit_code == 2, run.describe()
    assert "HTTP 404" in run.result.message
    assert "wf-missing" in run.result.message


def test_missing_output_does_not_fail_a_succeeded_workflow(
    codemie: FakeServer, run_runner: RunRunner
) -> None:
    flow = FakeWorkflow(codemie, WORKFLOW, ["Succeeded"])
    codemie.route("GET", f"{flow.execution_path}/states", Reply(500, "index down"))

    run = run_runner(workflow_env(codemie, AISCHED_MAX_ATTEMPTS="2"))

    assert run.exit_code == 0, run.describe()
    assert run.result.output == ""
    assert "output not available" in run.result.message


def test_output_comes_from_the_last_state_on_the_last_page(
    codemie: FakeServer, run_runner: RunRunner
) -> None:
    flow = FakeWorkflow(codemie, WORKFLOW, ["Succeeded"])

    def paged_states(request: Request) -> Reply:
        page = int(request.query["page"][0])
        data = [{"id": "state-1"}] if page == 0 else [{"id": "state-9"}, {"id": "state-2"}]
        return Reply(200, {"data": data, "pagination": {"page": page, "pages": 2, "total": 3}})

    codemie.route("GET", f"{flow.execution_path}/states", paged_states)

    run = run_runner(workflow_env(codemie))

    assert run.exit_code == 0, run.describe()
    assert run.result.output == "workflow final answer"  # state-2's output
    pages = [r.query["page"] for r in codemie.requests_to("GET", f"{flow.execution_path}/states")]
    assert pages == [["0"], ["1"]]
