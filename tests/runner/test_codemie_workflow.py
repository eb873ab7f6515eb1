"""CodeMie workflow executions: create, poll to a terminal status, read the output."""

from __future__ import annotations

import signal
import subprocess

import pytest

from .conftest import RunRunner
from .fakes import MAYBE_STARTED, TOKEN, FakeServer, FakeState, FakeWorkflow, Reply, bearer_guard

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
    flow = FakeWorkflow(codemie, WORKFLOW, ["In Progress"] * 3 + ["Succeeded"])

    run = run_runner(workflow_env(codemie))

    assert run.exit_code == 0, run.describe()
    (create,) = codemie.requests_to("POST", EXECUTIONS_PATH)
    assert create.json() == {"user_input": "Summarize yesterday's incidents"}
    assert flow.polls == 4
    result = run.result
    assert result.output == "workflow final answer"
    assert result.execution_id == "exec-7f3a"
    assert result.conversation_id == "conv-wf-1"
    assert result.tokens_used == 123
    assert result.attempts == 1
    statuses = [line["status"] for line in run.events("workflow.status")]
    assert statuses == ["Succeeded"]  # created "In Progress"
    assert codemie.requests_to("PUT", flow.abort_path) == []


def test_execution_is_known_by_execution_id_only(
    codemie: FakeServer, run_runner: RunRunner
) -> None:
    codemie.route("POST", EXECUTIONS_PATH, Reply(200, {"id": "row-1", "overall_status": "x"}))

    run = run_runner(workflow_env(codemie))

    assert run.exit_code == 1, run.describe()
    assert "no 'execution_id'" in run.result.message
    assert run.result.execution_id is None


@pytest.mark.parametrize("final", ["Failed", "Aborted"])
def test_failed_workflow_names_the_failing_state_and_its_error(
    codemie: FakeServer, run_runner: RunRunner, final: str
) -> None:
    error = "HTTPError: 502 from https://jira.example/rest/api"
    # The failing state is on the second page of states (100 a page), a later one too.
    states = [FakeState("plan", output="the plan")] * 120 + [
        FakeState("fetch incidents", final, output=error),
        FakeState("AI/Run Thoughts", final, output="a later state with the same status"),
    ]
    FakeWorkflow(codemie, WORKFLOW, [final], states=states)

    run = run_runner(workflow_env(codemie))

    assert run.exit_code == 1, run.describe()
    result = run.result
    assert f"ended '{final}' in state 'fetch incidents': {error}" in result.message
    assert result.output == error
    assert result.execution_id == "exec-7f3a"
    assert result.tokens_used == 123
    outputs = [r.path for r in codemie.requests if r.path.endswith("/output")]
    assert outputs == [f"{EXECUTIONS_PATH}/exec-7f3a/states/state-121/output"]


def test_interrupted_workflow_waits_for_input(codemie: FakeServer, run_runner: RunRunner) -> None:
    states = [FakeState("draft"), FakeState("human review", "Interrupted")]
    flow = FakeWorkflow(codemie, WORKFLOW, ["Interrupted"], states=states)

    run = run_runner(workflow_env(codemie))

    assert run.exit_code == 1, run.describe()
    message = run.result.message
    assert "ended 'Interrupted' in state 'human review'" in message
    assert "waits for input in CodeMie" in message
    assert codemie.requests_to("PUT", flow.abort_path) == []  # a person may still resume it


def test_authentication_required_is_final_and_a_configuration_error(
    codemie: FakeServer, run_runner: RunRunner
) -> None:
    payload = '{"error": "authentication_required", "servers": [], "node_name": "jira"}'
    states = [FakeState("jira", "AUTHENTICATION_REQUIRED", output=payload)]
    flow = FakeWorkflow(codemie, WORKFLOW, ["AUTHENTICATION_REQUIRED", "Succeeded"], states=states)

    run = run_runner(workflow_env(codemie))

    assert run.exit_code == 2, run.describe()
    assert flow.polls == 1
    message = run.result.message
    assert "ended 'AUTHENTICATION_REQUIRED' in state 'jira'" in message
    assert "a person must log in" in message and "MCP server in CodeMie" in message
    assert "authentication_required" not in message  # the payload stays in CodeMie


def test_workflow_still_running_at_the_deadline_is_aborted(
    codemie: FakeServer, run_runner: RunRunner
) -> None:
    flow = FakeWorkflow(codemie, WORKFLOW, ["In Progress"])

    run = run_runner(workflow_env(codemie, AISCHED_TIMEOUT_SECONDS="1"))

    assert run.exit_code == 1, run.describe()
    message = run.result.message
    assert "deadline of 1 s (AISCHED_TIMEOUT_SECONDS)" in message
    assert "exec-7f3a" in message and "In Progress" in message
    assert message.endswith("; the execution exec-7f3a was aborted in CodeMie")
    assert run.result.execution_id == "exec-7f3a"
    (abort,) = codemie.requests_to("PUT", flow.abort_path)
    assert abort.bearer == TOKEN
    assert flow.aborted


def test_failed_abort_is_reported(codemie: FakeServer, run_runner: RunRunner) -> None:
    flow = FakeWorkflow(codemie, WORKFLOW, ["In Progress"])
    codemie.route("PUT", flow.abort_path, Reply(500, {"detail": "lock timeout"}))

    run = run_runner(workflow_env(codemie, AISCHED_TIMEOUT_SECONDS="1"))

    assert run.exit_code == 1, run.describe()
    assert "aborting the execution exec-7f3a in CodeMie failed: HTTP 500" in run.result.message
    assert len(codemie.requests_to("PUT", flow.abort_path)) == 1


def test_sigterm_aborts_the_running_execution(codemie: FakeServer, run_runner: RunRunner) -> None:
    flow = FakeWorkflow(codemie, WORKFLOW, ["In Progress"])
    flow.before_poll = lambda poll: Reply(block=True) if poll == 2 else None

    def terminate_when_polling(process: subprocess.Popen[bytes]) -> None:
        assert codemie.blocked.wait(30), "the runner never polled twice"
        process.send_signal(signal.SIGTERM)

    run = run_runner(workflow_env(codemie), popen=terminate_when_polling)

    assert run.exit_code == 1, run.describe()
    message = run.result.message
    assert "SIGTERM" in message
    assert message.endswith("; the execution exec-7f3a was aborted in CodeMie")
    (abort,) = codemie.requests_to("PUT", flow.abort_path)
    assert abort.bearer == TOKEN


@pytest.mark.parametrize("failure", MAYBE_STARTED.values(), ids=MAYBE_STARTED.keys())
def test_execution_request_that_may_have_started_is_not_sent_again(
    codemie: FakeServer, run_runner: RunRunner, failure: Reply
) -> None:
    codemie.route("POST", EXECUTIONS_PATH, failure)

    run = run_runner(workflow_env(codemie))

    assert run.exit_code == 1, run.describe()
    assert len(codemie.requests_to("POST", EXECUTIONS_PATH)) == 1
    assert "may have started the run (its id is not known)" in run.result.message
    assert run.result.attempts == 1


def test_execution_request_refused_with_503_is_sent_again(
    codemie: FakeServer, run_runner: RunRunner
) -> None:
    flow = FakeWorkflow(codemie, WORKFLOW, ["Succeeded"])
    created = codemie.routes[("POST", EXECUTIONS_PATH)]
    answers = iter([Reply(503, "draining"), Reply(503, "draining")])
    codemie.route("POST", EXECUTIONS_PATH, lambda r: next(answers, None) or created(r))

    run = run_runner(workflow_env(codemie))

    assert run.exit_code == 0, run.describe()
    assert len(codemie.requests_to("POST", EXECUTIONS_PATH)) == 3
    assert run.result.attempts == 3
    assert flow.polls == 1


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
    assert len(codemie.requests_to("GET", f"{flow.execution_path}/states")) == 2  # a read: resent
    assert run.result.output == ""
    assert "output not available" in run.result.message


def test_output_comes_from_the_last_state_on_the_last_page(
    codemie: FakeServer, run_runner: RunRunner
) -> None:
    states = [FakeState(f"step {i}", output=f"output {i}") for i in range(1, 251)]
    flow = FakeWorkflow(codemie, WORKFLOW, ["Succeeded"], states=states)

    run = run_runner(workflow_env(codemie))

    assert run.exit_code == 0, run.describe()
    assert run.result.output == "output 250"
    pages = [r.query["page"] for r in codemie.requests_to("GET", f"{flow.execution_path}/states")]
    assert pages == [["0"], ["2"]]
