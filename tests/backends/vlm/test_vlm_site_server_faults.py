"""Fault injection against a real loopback site server (``http.server`` in a thread).

Each fault is played once, then the same client asks again and the server answers normally:
every test checks what the clinician reads (the error message, or the cut-off note), how the
answer ended (``finish_reason``) and that the next question works.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator

import pytest

from site_server_support import (
    READ_TIMEOUT_S,
    STALL_S,
    FaultHandler,
    FaultServer,
    Scenario,
    fault_server,
    url_of,
)
from voxrad.backends.vlm.base import ChatMessage, GenerationRequest, GenerationResult
from voxrad.backends.vlm.openai_compat import OpenAICompatVLM
from voxrad.core.errors import BackendError


@pytest.fixture()
def site() -> Iterator[FaultServer]:
    with fault_server() as srv:
        yield srv


def _client(srv: FaultServer) -> OpenAICompatVLM:
    return OpenAICompatVLM(
        url_of(srv),
        "m",
        connect_timeout_s=1.0,
        read_timeout_s=READ_TIMEOUT_S,
    )


def _ask(max_tokens: int = 16) -> GenerationRequest:
    return GenerationRequest(
        (ChatMessage("user", ("Is there a nodule?",)),), max_tokens=max_tokens, want_logprobs=False
    )


def _then_next_works(client: OpenAICompatVLM) -> None:
    result = client.generate(_ask())
    assert result.text == "Final Answer: no nodule."
    assert result.finish_reason == "complete"
    assert result.finish_detail == ""


def _fails(srv: FaultServer, scenario: Scenario) -> BackendError:
    srv.scenarios.append(scenario)
    client = _client(srv)
    with pytest.raises(BackendError) as caught:
        client.generate(_ask())
    _then_next_works(client)
    return caught.value


def _cut(srv: FaultServer, scenario: Scenario, max_tokens: int = 16) -> GenerationResult:
    srv.scenarios.append(scenario)
    client = _client(srv)
    pieces: list[str] = []
    result = client.generate(_ask(max_tokens), on_token=pieces.append)
    assert "".join(pieces) == result.text  # what was streamed is what comes back
    _then_next_works(client)
    return result


# -- before any text --------------------------------------------------------------------------
def test_normal_reply_is_complete(site: FaultServer) -> None:
    _then_next_works(_client(site))


def test_refused_says_not_reached() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed when the block ends: nothing listens there
    client = OpenAICompatVLM(f"http://127.0.0.1:{port}/v1", "m", connect_timeout_s=1.0)
    with pytest.raises(BackendError, match="could not be reached") as caught:
        client.generate(_ask())
    assert "server is running" in caught.value.hint


def test_reset_before_headers_says_reached_but_closed(site: FaultServer) -> None:
    err = _fails(site, lambda h: h.reset())
    assert "closed the connection without answering" in err.message
    assert "could not be reached" not in err.message


def test_closed_before_headers_says_reached_but_closed(site: FaultServer) -> None:
    def close(h: FaultHandler) -> None:
        h.close_connection = True

    err = _fails(site, close)
    assert "closed the connection without answering" in err.message


def test_stall_before_headers_is_a_timeout(site: FaultServer) -> None:
    err = _fails(site, lambda h: site.released.wait(STALL_S) and None)
    assert f"did not answer within {READ_TIMEOUT_S:g} s" in err.message
    assert "read_timeout_s" in err.hint


def test_stall_before_the_first_piece_is_a_timeout(site: FaultServer) -> None:
    def stall(h: FaultHandler) -> None:
        h.sse_head()
        site.released.wait(STALL_S)

    err = _fails(site, stall)
    assert "did not answer within" in err.message


@pytest.mark.parametrize(
    ("status", "body", "expected"),
    [
        (500, b"", "answered with an error (HTTP 500)"),
        (500, b'{"error": {"message": "CUDA error: out of memory"}}', "(HTTP 500)"),
        (503, b"<html>Service Unavailable</html>", "(HTTP 503)"),
        (401, b"", "refused the API key (HTTP 401)"),
        (404, b'{"error": "no such model"}', "no chat endpoint or model by that name"),
        (400, b'{"error": {"message": "context too long"}}', "refused the request (HTTP 400)"),
    ],
)
def test_http_errors_name_the_status(
    site: FaultServer, status: int, body: bytes, expected: str
) -> None:
    def fail(h: FaultHandler) -> None:
        h.send_response(status)
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        h.wfile.write(body)

    err = _fails(site, fail)
    assert expected in err.message
    assert "could not be reached" not in err.message


def test_html_page_says_answered_but_unreadable(site: FaultServer) -> None:
    def html(h: FaultHandler) -> None:
        h.sse_head("text/html")
        h.wfile.write(b"<html><body>Please log in to the proxy</body></html>")

    err = _fails(site, html)
    assert "answered, but not with a chat reply VoxRad can read" in err.message
    assert "/v1" in err.hint


def test_non_json_event_says_answered_but_unreadable(site: FaultServer) -> None:
    def garbage(h: FaultHandler) -> None:
        h.sse_head()
        h.wfile.write(b"data: this is not json\n\n")

    err = _fails(site, garbage)
    assert "answered, but not with a chat reply VoxRad can read" in err.message
    assert "could not be reached" not in err.message


def test_malformed_sse_says_answered_but_unreadable(site: FaultServer) -> None:
    def malformed(h: FaultHandler) -> None:
        h.sse_head()
        h.wfile.write(b"{'choices': oops}\nnot an event stream\n\n")

    err = _fails(site, malformed)
    assert "answered, but not with a chat reply VoxRad can read (no events)" in err.message
    assert "/v1" in err.hint


def test_a_json_object_that_is_not_a_chunk_is_unreadable(site: FaultServer) -> None:
    def wrong(h: FaultHandler) -> None:
        h.sse_head()
        h.wfile.write(b'data: ["a", "list"]\n\n')

    err = _fails(site, wrong)
    assert "answered, but not with a chat reply VoxRad can read" in err.message


def test_error_event_instead_of_an_answer(site: FaultServer) -> None:
    def error_event(h: FaultHandler) -> None:
        h.sse_head()
        h.wfile.write(b'data: {"error": {"message": "model crashed"}}\n\n')

    err = _fails(site, error_event)
    assert "reported an error instead of an answer" in err.message


def test_a_non_streaming_json_reply_is_read_whole(site: FaultServer) -> None:
    def whole(h: FaultHandler) -> None:
        body = json.dumps(
            {"choices": [{"message": {"content": "Final Answer: yes."}, "finish_reason": "stop"}]}
        ).encode()
        h.send_response(200)
        h.send_header("Content-Type", "application/json")
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        h.wfile.write(body)

    site.scenarios.append(whole)
    client = _client(site)
    result = client.generate(_ask())
    assert (result.text, result.finish_reason) == ("Final Answer: yes.", "complete")
    _then_next_works(client)


# -- after some text: a cut-off answer, never a whole one -------------------------------------
def test_reset_mid_stream_is_a_cut_off_answer(site: FaultServer) -> None:
    def drop(h: FaultHandler) -> None:
        h.sse_head()
        h.piece("Final Answer: ")
        h.piece("The le")
        h.reset()

    result = _cut(site, drop)
    assert result.text == "Final Answer: The le"
    assert result.finish_reason == "connection"
    assert "connection to the model server 127.0.0.1 was lost" in result.finish_detail


def test_stream_closed_without_finish_is_a_cut_off_answer(site: FaultServer) -> None:
    def close(h: FaultHandler) -> None:
        h.sse_head()
        h.piece("Final Answer: ")
        h.piece("The le")  # then the handler returns: a clean close, no [DONE]

    result = _cut(site, close)
    assert result.text == "Final Answer: The le"
    assert result.finish_reason == "connection"
    assert "closed before the answer ended" in result.finish_detail


def test_stall_mid_stream_is_a_cut_off_answer(site: FaultServer) -> None:
    def stall(h: FaultHandler) -> None:
        h.sse_head()
        h.piece("Final Answer: The le")
        site.released.wait(STALL_S)

    result = _cut(site, stall)
    assert result.text == "Final Answer: The le"
    assert result.finish_reason == "connection"
    assert f"stopped sending for {READ_TIMEOUT_S:g} s" in result.finish_detail


def test_garbage_mid_stream_is_a_cut_off_answer(site: FaultServer) -> None:
    def garbage(h: FaultHandler) -> None:
        h.sse_head()
        h.piece("Final Answer: The le")
        h.wfile.write(b"data: {broken\n\n")

    result = _cut(site, garbage)
    assert result.finish_reason == "engine"
    assert result.finish_detail == (
        "the model server 127.0.0.1 sent something VoxRad cannot read mid-answer."
    )


def test_server_ending_the_answer_early_is_a_cut_off_answer(site: FaultServer) -> None:
    def abort(h: FaultHandler) -> None:
        h.sse_head()
        h.piece("Final Answer: The le", finish="abort")
        h.wfile.write(b"data: [DONE]\n\n")

    result = _cut(site, abort)
    assert result.finish_reason == "engine"
    assert "ended the answer early (abort)" in result.finish_detail


def test_length_finish_is_reported(site: FaultServer) -> None:
    def length(h: FaultHandler) -> None:
        h.sse_head()
        h.piece("Final Answer: The le", finish="length")
        h.wfile.write(b"data: [DONE]\n\n")

    assert _cut(site, length).finish_reason == "length"


def test_endless_stream_stops_at_the_token_limit(site: FaultServer) -> None:
    sent = []

    def endless(h: FaultHandler) -> None:
        h.sse_head()
        while not site.released.is_set() and len(sent) < 10_000:
            h.piece("la ")  # ignores max_tokens; ends only when the client hangs up
            sent.append(1)

    result = _cut(site, endless, max_tokens=8)
    assert result.finish_reason == "length"
    assert result.text.count("la ") <= 9
    assert len(sent) < 10_000  # the client hung up, it did not read to the end
