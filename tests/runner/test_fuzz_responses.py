"""Fuzzed platform answers: whatever comes back, the runner keeps its contract (spec §4.1).

Hypothesis serves odd answers from the local doubles to one call of each platform —
malformed JSON, bodies of megabytes, wrong types in each field the runner reads, slow
drips, redirects (elsewhere and to themselves), bytes that are not UTF-8 or lie about
their charset, garbled gzip, empty bodies, odd status codes, garbage `Retry-After`, and
echoes of the request with its credentials. `run_runner` checks every run for the
invariants (one valid result of at most 4096 bytes with the spec's keys, JSON-lines logs,
nothing on stderr, no secret anywhere); this module adds the exit code the spec asks for
and that no answer makes the runner fall into its internal-error path.

Every answer is served by a real HTTP server to the runner as a real process, so a run
costs about a second: the example counts are moderate and the deadline is short.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from .conftest import RunnerRun, RunRunner
from .fakes import (
    API_KEY,
    CLIENT_SECRET,
    ISSUED_TOKENS,
    SIGNING_SECRET,
    TOKEN,
    WEBHOOK_TOKEN,
    FakeServer,
    FakeWorkflow,
    Reply,
    Request,
    bearer_guard,
    codemie_answer,
    echo,
    openai_answer,
)

# Short enough that a drip or a long Retry-After ends a run quickly, long enough for a
# few retries of a slow machine.
DEADLINE_SECONDS = 2.0
EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "25"))
ANSWER = "the real answer ✓"
CONFIG_STATUSES = (401, 403, 404)
SUCCESS_STATUSES = (200, 201, 202, 203, 206, 299)
# Everything else a server (or something in between) may answer with.
OTHER_STATUSES = (
    *(301, 302, 303, 304, 307, 308),
    *(400, 405, 408, 409, 410, 413, 418, 422, 425, 429, 451, 499),
    *(500, 501, 502, 503, 504, 507, 599, 600, 999),
)
RETRY_AFTER = ("nan", "NaN", "inf", "-inf", "-1", "1e999", "0", "0.001", "3600", "abc", "")
RETRY_AFTER_DATES = (
    "Mon, 01 Jan 0001 00:00:00 GMT",
    "Fri, 31 Dec 9999 23:59:59 GMT",
    "Mon, 99 Foo",
)
CHARSETS = ("utf-16", "utf-32", "rot13", "base64", "hex", "zlib", "latin-1", "no-such", "idna")
FUZZ_SETTINGS = settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    # Shrinking re-runs the runner dozens of times; the drawn answer is printed instead.
    phases=[Phase.explicit, Phase.generate],
    print_blob=False,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@dataclass(frozen=True)
class Target:
    """One platform call: where it is served, its valid answer, and the fields it reads."""

    name: str
    method: str
    path: str
    env: Callable[[FakeServer], dict[str, str | None]]
    valid: Callable[[], Reply]
    # Dotted paths into the valid answer (digits index lists) the runner reads.
    fields: tuple[str, ...]
    # Where the answer's text is (None: the whole body is the answer).
    answer_path: str | None
    # Whether a 2xx answer with any body is a success (webhooks).
    any_2xx_succeeds: bool = False


def codemie_env(server: FakeServer) -> dict[str, str | None]:
    return {"AISCHED_PLATFORM_URL": server.url, "AISCHED_TOKEN": TOKEN}


def openai_env(server: FakeServer) -> dict[str, str | None]:
    return {
        "AISCHED_PLATFORM_TYPE": "openai",
        "AISCHED_PLATFORM_URL": server.url,
        "AISCHED_API_KEY": API_KEY,
        "AISCHED_TARGET_ID": "gpt-test",
    }


def webhook_env(server: FakeServer) -> dict[str, str | None]:
    return {
        "AISCHED_PLATFORM_TYPE": "webhook",
        "AISCHED_PLATFORM_URL": server.url + "/hook",
        "AISCHED_TOKEN": WEBHOOK_TOKEN,
        "AISCHED_SIGNING_SECRET": SIGNING_SECRET,
    }


ASSISTANT = Target(
    "codemie assistant",
    "POST",
    "/v1/assistants/asst-1/model",
    codemie_env,
    lambda: codemie_answer(ANSWER, tokens=42),
    ("generated", "tokensUsed", "success", "agentError", "toolErrors"),
    "generated",
)
OPENAI = Target(
    "openai",
    "POST",
    "/v1/chat/completions",
    openai_env,
    lambda: openai_answer(ANSWER),
    (
        "choices",
        "choices.0",
        "choices.0.message",
        "choices.0.message.content",
        "usage",
        "usage.total_tokens",
        "id",
    ),
    "choices.0.message.content",
)
WEBHOOK = Target(
    "webhook",
    "POST",
    "/hook",
    webhook_env,
    lambda: Reply(200, ANSWER),
    (),
    None,
    any_2xx_succeeds=True,
)


# --- what the servers answer -------------------------------------------------------------

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats()
    | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=6,
)


@dataclass(frozen=True)
class Body:
    """A fuzzed body; `kind` says what the runner may make of it."""

    kind: str  # "valid", "huge", "wrong-type", "garbage", "surrogates", "echo"
    value: Any  # bytes, str or a JSON-able value
    field: str = ""


def set_path(document: Any, dotted: str, value: Any) -> Any:
    """A copy of `document` with the value at `dotted` replaced."""
    document = json.loads(json.dumps(document))
    *parents, last = dotted.split(".")
    node = document
    for part in parents:
        node = node[int(part)] if isinstance(node, list) else node[part]
    if isinstance(node, list):
        node[int(last)] = value
    else:
        node[last] = value
    return document


def garbage_bodies() -> st.SearchStrategy[bytes | str]:
    return st.one_of(
        st.just(b""),
        st.binary(min_size=1, max_size=64),  # mostly not UTF-8
        st.just(b"\xff\xfe\x00{\x80\x81"),
        st.text(max_size=40),  # hardly ever JSON
        st.sampled_from(['{"generated": ', "[1, 2", "{'single': 'quotes'}", "nul\x00l", "{}" * 3]),
        st.just("[" * 100_000),  # nested deeper than any parser recurses
        st.just('{"tokensUsed": ' + "9" * 5000 + "}"),  # an int longer than Python parses
        st.just('{"generated": "x", "tokensUsed": NaN, "choices": Infinity}'),
        st.sampled_from([1, 3]).map(lambda mib: "x" * (mib * 2**20)),  # megabytes of text
    )


def bodies(target: Target) -> st.SearchStrategy[Body]:
    valid = target.valid().body
    huge_text = "ok " * 700_000
    huge = (
        huge_text if target.answer_path is None else set_path(valid, target.answer_path, huge_text)
    )
    options = [
        st.just(Body("valid", valid)),
        garbage_bodies().map(lambda b: Body("garbage", b)),
        st.just(Body("echo", None)),
        # JSON escapes of lone surrogates, which no UTF-8 text can hold.
        st.just(
            Body(
                "surrogates",
                '{"generated": "\\ud800 lone", "choices": [{"message": {"content": "\\udfff"}}]}',
            )
        ),
        # A real answer of megabytes: the result keeps an excerpt, the log the whole.
        st.just(Body("huge", huge)),
    ]
    if target.fields:
        options.append(
            st.tuples(st.sampled_from(target.fields), json_values).map(
                lambda fv: Body("wrong-type", set_path(valid, fv[0], fv[1]), fv[0])
            )
        )
    return st.one_of(options)


@dataclass(frozen=True)
class Answer:
    status: int
    body: Body
    delivery: str = "plain"  # "plain", "drip", "gzip-garbage", "redirect-elsewhere", ...
    headers: tuple[tuple[str, str], ...] = ()
    content_type: str | None = None

    @property
    def succeeded_status(self) -> bool:
        return 200 <= self.status < 300


def header_values() -> st.SearchStrategy[tuple[tuple[str, str], ...]]:
    garbage = st.text(
        st.characters(min_codepoint=0x20, max_codepoint=0xFF, exclude_characters="\x7f"),
        max_size=30,
    )
    retry_after = st.sampled_from(RETRY_AFTER + RETRY_AFTER_DATES) | garbage
    return st.lists(
        st.tuples(st.sampled_from(["Retry-After", "X-Odd", "Set-Cookie", "Link"]), retry_after),
        max_size=2,
    ).map(tuple)


def answers(target: Target) -> st.SearchStrategy[Answer]:
    return st.builds(
        Answer,
        status=st.sampled_from(SUCCESS_STATUSES + CONFIG_STATUSES + OTHER_STATUSES),
        body=bodies(target),
        delivery=st.sampled_from(
            ["plain"] * 6 + ["drip", "gzip-garbage", "redirect-elsewhere", "redirect-loop"]
        ),
        headers=header_values(),
        content_type=st.none()
        | st.sampled_from(CHARSETS).map(lambda c: f"text/plain; charset={c}"),
    )


def reply_for(answer: Answer, request: Request, route: str, elsewhere: FakeServer) -> Reply:
    body = answer.body
    value = echo(request).body if body.kind == "echo" else body.value
    reply = Reply(
        answer.status, value, headers=dict(answer.headers), content_type=answer.content_type
    )
    if answer.delivery == "drip":
        # 1 byte every 0.2 s: slower than the deadline for any body of 10 bytes or more.
        return replace(reply, body=_at_least(value, 64), drip_bytes=1, drip_seconds=0.2)
    if answer.delivery == "gzip-garbage":
        return replace(
            reply, body=_at_least(value, 8), headers={**reply.headers, "Content-Encoding": "gzip"}
        )
    if answer.delivery.startswith("redirect"):
        location = elsewhere.url + "/stolen" if answer.delivery.endswith("elsewhere") else route
        return replace(
            reply,
            status=answer.status if 300 <= answer.status < 400 else 302,
            headers={**reply.headers, "Location": location},
        )
    return reply


def _at_least(value: Any, size: int) -> bytes:
    data = Reply(body=value).encoded()[0]
    return data if len(data) >= size else data + b" " * (size - len(data))


# --- what the spec says must come of it -----------------------------------------------------


def effective_status(answer: Answer) -> int:
    if answer.delivery.startswith("redirect"):
        return answer.status if 300 <= answer.status < 400 else 302
    return answer.status


def expected_exits(target: Target, answer: Answer) -> set[int]:
    """Exit codes the spec allows for a request that starts work and gets `answer`."""
    if answer.delivery in ("drip", "gzip-garbage"):
        # The deadline passes while the body trickles; a body that cannot be decoded is
        # no answer: either way the platform may have started the run (exit 1).
        return {1}
    status = effective_status(answer)
    if status in CONFIG_STATUSES:
        return {2}
    if not 200 <= status < 300:
        return {1}  # redirects are not followed: the URL is wrong, the run failed
    if target.any_2xx_succeeds:
        return {0}
    kind = answer.body.kind
    if status == 204 or kind in ("garbage", "echo"):
        return {1}  # no usable answer (204 has no body)
    if kind in ("valid", "huge"):
        return {0}
    if kind == "surrogates":
        # An answer for the assistant and OpenAI (exit 0), none for a workflow create.
        return {0} if target.answer_path else {1}
    return {0, 1}  # a wrong type in a field: see `check_wrong_type`


def check_wrong_type(target: Target, answer: Answer, run: RunnerRun) -> None:
    """A wrong type in a field the answer cannot do without fails the run; elsewhere not."""
    answer_fields = (
        "generated",
        "choices",
        "choices.0",
        "choices.0.message",
        "choices.0.message.content",
    )
    if answer.body.field in answer_fields:
        assert run.exit_code == 1, run.describe()
    elif answer.body.field in ("tokensUsed", "usage", "usage.total_tokens", "id"):
        assert run.exit_code == 0, run.describe()
    if run.exit_code == 0:
        assert run.result.output == ANSWER
        tokens = run.result.tokens_used
        assert tokens is None or 0 <= tokens < 2**53, run.describe()


@pytest.fixture
def servers() -> Iterator[tuple[FakeServer, FakeServer]]:
    """The platform and an elsewhere that a redirect points to; both outlive the examples."""
    platform, elsewhere = FakeServer().start(), FakeServer().start()
    yield platform, elsewhere
    platform.stop()
    elsewhere.stop()


def serve(target: Target, answer: Answer, platform: FakeServer, elsewhere: FakeServer) -> None:
    platform.requests.clear()
    elsewhere.requests.clear()
    platform.routes.clear()
    platform.route(
        target.method,
        target.path,
        lambda request: reply_for(answer, request, platform.url + target.path, elsewhere),
    )


def check_run(target: Target, answer: Answer, run: RunnerRun, elsewhere: FakeServer) -> None:
    assert run.exit_code in expected_exits(target, answer), f"{answer}\n{run.describe()}"
    assert not run.events("run.internal_error"), run.describe()
    assert elsewhere.requests == [], "a redirect was followed"
    if (
        answer.body.kind == "wrong-type"
        and answer.delivery == "plain"
        and (answer.succeeded_status and answer.status != 204)
    ):
        check_wrong_type(target, answer, run)
    if run.exit_code == 0 and not target.any_2xx_succeeds and answer.body.kind == "huge":
        assert run.result.output  # an excerpt of the answer, cut to fit


@pytest.mark.parametrize("target", [ASSISTANT, OPENAI, WEBHOOK], ids=lambda t: t.name)
@FUZZ_SETTINGS
@given(data=st.data())
def test_fuzzed_answer_to_the_call_that_starts_the_run(
    target: Target,
    data: st.DataObject,
    servers: tuple[FakeServer, FakeServer],
    run_runner: RunRunner,
) -> None:
    platform, elsewhere = servers
    answer = data.draw(answers(target), label="answer")
    serve(target, answer, platform, elsewhere)

    run = run_runner({**target.env(platform), "AISCHED_TIMEOUT_SECONDS": str(DEADLINE_SECONDS)})

    check_run(target, answer, run, elsewhere)


# --- CodeMie workflows: one step of the exchange answers oddly, the others as the backend --

WORKFLOW = "wf-fuzz"


@dataclass(frozen=True)
class Step:
    """A workflow request, its fields, and what an odd answer to it may do to the run."""

    name: str
    fields: tuple[str, ...]
    huge_path: str
    # "starts": the execution create; "poll": the first status poll (later polls answer
    # "Succeeded"); "best-effort": reading the output of a succeeded execution.
    role: str


STEPS = (
    Step("create", ("execution_id", "overall_status", "conversation_id"), "prompt", "starts"),
    Step("poll", ("overall_status", "tokens_usage", "tokens_usage.input_tokens"), "prompt", "poll"),
    Step(
        "states",
        ("data", "data.0", "data.0.id", "data.0.status", "pagination", "pagination.pages"),
        "data.0.name",
        "best-effort",
    ),
    Step("state output", ("output",), "output", "best-effort"),
)


def step_route(flow: FakeWorkflow, step: Step) -> tuple[str, str]:
    base = f"/v1/workflows/{WORKFLOW}/executions"
    return {
        "create": ("POST", base),
        "poll": ("GET", flow.execution_path),
        "states": ("GET", f"{flow.execution_path}/states"),
        "state output": ("GET", f"{flow.execution_path}/states/state-2/output"),
    }[step.name]


def step_exits(step: Step, answer: Answer) -> set[int]:
    if step.role == "starts":
        exits = expected_exits(STARTS_WORKFLOW, answer)
        # Another execution id sends the polls elsewhere (404, exit 2).
        return {0, 1, 2} if answer.body.kind == "wrong-type" else exits
    if step.role == "best-effort":
        return {0}  # the execution succeeded; an unreadable output only adds a note
    status = effective_status(answer)
    if answer.delivery == "drip":
        return {1}
    if answer.delivery == "gzip-garbage":
        return {0}  # a read is sent again
    if status in CONFIG_STATUSES:
        return {2}
    if not 200 <= status < 300:
        # Sent again after a transient status, unless Retry-After asks for longer than
        # the deadline leaves.
        return {0, 1} if status in (408, 425, 429) or status >= 500 else {1}
    if answer.body.kind == "wrong-type" and answer.body.field == "overall_status":
        return {0, 1, 2}  # a string that happens to be a final status
    return {0} if answer.body.kind in ("valid", "huge", "wrong-type") else {0, 1}


STARTS_WORKFLOW = Target("workflow", "POST", "", codemie_env, Reply, (), None)


@FUZZ_SETTINGS
@given(step=st.sampled_from(STEPS), data=st.data())
def test_fuzzed_answer_to_a_workflow_step(
    step: Step,
    data: st.DataObject,
    servers: tuple[FakeServer, FakeServer],
    run_runner: RunRunner,
) -> None:
    platform, elsewhere = servers
    platform.routes.clear()
    platform.guard = bearer_guard(lambda token: token == TOKEN)
    flow = FakeWorkflow(platform, WORKFLOW, ["In Progress", "Succeeded"])
    method, path = step_route(flow, step)
    backend = platform.routes[(method, path)]
    valid = backend(Request(method, path, {}, {}, b""))
    flow.polls = 0  # that call was only to learn the valid answer
    target = Target(
        f"workflow {step.name}",
        method,
        path,
        codemie_env,
        lambda: valid,
        step.fields,
        step.huge_path,
    )
    answer = data.draw(answers(target), label="answer")
    backend_routes = dict(platform.routes)
    serve(target, answer, platform, elsewhere)
    if step.role == "poll":
        platform.route(method, path, first_only(platform.routes[(method, path)], backend))
    for key, handler in backend_routes.items():
        platform.routes.setdefault(key, handler)

    run = run_runner(
        {
            "AISCHED_TARGET_KIND": "workflow",
            "AISCHED_TARGET_ID": WORKFLOW,
            **codemie_env(platform),
            "AISCHED_TIMEOUT_SECONDS": str(DEADLINE_SECONDS),
        }
    )

    assert run.exit_code in step_exits(step, answer), f"{answer}\n{run.describe()}"
    assert not run.events("run.internal_error"), run.describe()
    assert elsewhere.requests == [], "a redirect was followed"


def first_only(
    odd: Callable[[Request], Reply], usual: Callable[[Request], Reply]
) -> Callable[[Request], Reply]:
    """`odd` answers the first request, `usual` the others."""
    served: list[Request] = []

    def handle(request: Request) -> Reply:
        served.append(request)
        return odd(request) if len(served) == 1 else usual(request)

    return handle


# --- Keycloak: the token endpoint answers oddly, CodeMie as usual ----------------------------

REALM = "fuzz"
TOKEN_PATH = f"/realms/{REALM}/protocol/openid-connect/token"


def keycloak_exits(answer: Answer) -> set[int]:
    """A token request is a read: resent after transient failures, never started work."""
    status = effective_status(answer)
    if answer.delivery in ("drip", "gzip-garbage"):
        return {1}
    if status in (400, *CONFIG_STATUSES):
        return {2}  # Keycloak refusing the client or the user
    if not 200 <= status < 300 or status == 204:
        return {1}
    if answer.body.kind == "valid":
        return {0}
    if answer.body.kind == "wrong-type":
        # Another string is a token CodeMie refuses (401, exit 2); anything else is none.
        return {1, 2} if answer.body.field == "access_token" else {0}
    return {1}


@FUZZ_SETTINGS
@given(data=st.data())
def test_fuzzed_answer_from_keycloak(
    data: st.DataObject, servers: tuple[FakeServer, FakeServer], run_runner: RunRunner
) -> None:
    platform, elsewhere = servers
    token = f"kc-fuzz-{uuid.uuid4().hex}"
    ISSUED_TOKENS.append(token)  # so the leak check looks for it too
    target = Target(
        "keycloak token",
        "POST",
        TOKEN_PATH,
        codemie_env,
        lambda: Reply(200, {"access_token": token, "expires_in": 300, "token_type": "Bearer"}),
        ("access_token", "expires_in", "token_type"),
        None,
    )
    answer = data.draw(answers(target), label="answer")
    serve(target, answer, platform, elsewhere)
    platform.route("POST", ASSISTANT.path, codemie_answer(ANSWER))
    platform.guard = lambda request: (
        None
        if request.path == TOKEN_PATH or request.bearer == token
        else Reply(401, {"detail": "invalid token"})
    )

    run = run_runner(
        {
            "AISCHED_PLATFORM_URL": platform.url,
            "AISCHED_AUTH_SERVER_URL": platform.url,
            "AISCHED_AUTH_REALM": REALM,
            "AISCHED_CLIENT_ID": "scheduler",
            "AISCHED_CLIENT_SECRET": CLIENT_SECRET,
            "AISCHED_TIMEOUT_SECONDS": str(DEADLINE_SECONDS),
        }
    )

    assert run.exit_code in keycloak_exits(answer), f"{answer}\n{run.describe()}"
    assert not run.events("run.internal_error"), run.describe()
    assert elsewhere.requests == [], "a redirect was followed"
