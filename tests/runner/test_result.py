"""encode_result: the termination message always fits and stays valid JSON."""

from __future__ import annotations

import json

import pytest

from aischeduler_runner.contract import (
    RESULT_LIMIT_BYTES,
    TRUNCATION_MARK,
    RunResult,
    decode_result,
    encode_result,
)


def make(output: str = "", message: str = "done", **fields: object) -> RunResult:
    values: dict[str, object] = {
        "result": "Succeeded",
        "message": message,
        "output": output,
        "executionId": "exec-1",
        "conversationId": "conv-1",
        "tokensUsed": 42,
        "durationSeconds": 1.5,
        "attempts": 1,
    }
    values.update(fields)
    return RunResult.model_validate(values)


def is_excerpt(excerpt: str, original: str) -> bool:
    if excerpt == original:
        return True
    return excerpt.endswith(TRUNCATION_MARK) and original.startswith(
        excerpt[: -len(TRUNCATION_MARK)]
    )


CASES = {
    "ascii short": make("a short answer"),
    "ascii long": make("lorem ipsum " * 2000),
    "emoji": make("😀" * 5000),
    "cjk": make("漢字テスト" * 2000),
    "mixed multibyte": make("aé漢😀ß" * 3000),
    "quotes": make('"' * 5000),
    "newlines and tabs": make("line\n\ttab\r" * 1500),
    "control characters": make("\x01\x02\x1f" * 2000),
    "backslashes": make("\\" * 5000),
    "escapes and emoji": make('"😀\n\\漢\x00' * 1500),
    "lone surrogates": make("\ud800ok\udfff" * 2000),
    "huge message": make("", message="m" * 100_000),
    "huge message and output": make("o" * 100_000, message="é" * 100_000),
    "huge escaped message": make("x", message='"\n' * 50_000),
    "1 MB output": make("x" * 1_000_000),
    "huge ids": make("out", executionId="e" * 10_000, conversationId="c" * 10_000),
}


@pytest.mark.parametrize("limit", [RESULT_LIMIT_BYTES, 512])
@pytest.mark.parametrize("name", list(CASES))
def test_encoded_result_fits_and_keeps_what_it_can(name: str, limit: int) -> None:
    original = CASES[name]
    encoded = encode_result(original, limit)

    assert len(encoded) <= limit
    decoded = decode_result(encoded)  # valid UTF-8, valid JSON, valid RunResult
    clean = {
        k: v.encode("utf-8", "replace").decode() if isinstance(v, str) else v
        for k, v in original.model_dump(by_alias=True).items()
    }
    assert is_excerpt(decoded.output, clean["output"]) or decoded.output == ""
    # Only a tiny limit with huge ids leaves no room for the message.
    assert is_excerpt(decoded.message, clean["message"]) or (limit < 1024 and not decoded.message)
    for key in ("result", "tokens_used", "duration_seconds", "attempts"):
        assert getattr(decoded, key) == getattr(original, key)
    whole = json.dumps(clean, ensure_ascii=False, separators=(",", ":")).encode()
    if len(whole) <= limit:
        assert decoded.model_dump(by_alias=True) == clean
    elif (decoded.output, decoded.message) != (clean["output"], clean["message"]):
        # Cut no more than needed: one more character (at most 6 bytes escaped) would not fit.
        assert len(encoded) > limit - 6 - len(TRUNCATION_MARK.encode())


def test_output_is_cut_before_message() -> None:
    decoded = decode_result(encode_result(make("o" * 10_000, message="keep this message")))
    assert decoded.message == "keep this message"
    assert decoded.output.startswith("o" * 3000)
    assert decoded.output.endswith(TRUNCATION_MARK)


def test_object_of_exactly_the_limit_is_not_cut() -> None:
    base = len(encode_result(make("")))
    exact = make("x" * (RESULT_LIMIT_BYTES - base))
    encoded = encode_result(exact)
    assert len(encoded) == RESULT_LIMIT_BYTES
    assert decode_result(encoded) == exact


def test_failed_result_with_nulls_round_trips() -> None:
    failed = RunResult(result="Failed", message="boom", durationSeconds=0.0, attempts=0)
    encoded = encode_result(failed)
    assert json.loads(encoded) == {
        "result": "Failed",
        "message": "boom",
        "output": "",
        "executionId": None,
        "conversationId": None,
        "tokensUsed": None,
        "durationSeconds": 0.0,
        "attempts": 0,
    }
    assert decode_result(encoded) == failed


def test_limit_too_small_for_any_result_is_an_error() -> None:
    with pytest.raises(ValueError, match="cannot fit"):
        encode_result(make("x"), limit=50)
