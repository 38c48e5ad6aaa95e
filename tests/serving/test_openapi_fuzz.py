"""The OpenAPI description, and the API fuzzed from it: no 5xx on any input, every 4xx is JSON.

Schemathesis generates valid (positive) and invalid (negative) requests for each documented operation;
hypothesis adds the inputs the issue names: non-UTF-8 bodies, huge numbers, deep nesting, control
characters, a 1 MB question and wrong content types. Read-only routes run against the real model (a
tokenizer is where odd text breaks things); the admin routes run on a fake encoder so each accepted
article costs milliseconds to index.
"""

from __future__ import annotations

import json
import math

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from qa_service.config import Config
from qa_service.index.generation.build import build_index
from qa_service.service import QAService
from qa_service.serving.web import create_app

from ..fakes import HashingEmbedder

TOKEN = "fuzz-admin-token"
FUZZ = settings(max_examples=60, deadline=None, database=None, suppress_health_check=list(HealthCheck))
NASTY = settings(max_examples=60, deadline=None, database=None, suppress_health_check=list(HealthCheck))
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
MODES = [GenerationMode.POSITIVE, GenerationMode.NEGATIVE]
READ_ONLY = ["POST /api/ask", "POST /api/overview", "GET /api/articles", "GET /api/articles/{id}", "GET /healthz",
             "GET /metrics"]
ADMIN = ["POST /api/articles", "DELETE /api/articles/{id}"]
# A path id cannot be made invalid: any string is a (maybe unknown) id.
WITH_INPUT = ["POST /api/ask", "POST /api/overview"]


def header(headers, name: str) -> str | None:
    value = headers.get(name) or headers.get(name.lower())
    return value[0] if isinstance(value, list) else value


def assert_json_error_if_4xx(status: int, headers, body: bytes) -> None:
    assert status < 500, f"server error {status}: {body[:300]!r}"
    assert header(headers, "X-Content-Type-Options") == "nosniff", "security headers on every response"
    assert "frame-ancestors 'none'" in (header(headers, "Content-Security-Policy") or "")
    if 400 <= status < 500:
        content_type = header(headers, "Content-Type")
        assert content_type and content_type.startswith("application/json"), content_type
        error = json.loads(body)["error"]
        assert isinstance(error["code"], str) and error["code"] and isinstance(error["message"], str)


def fuzz_operation(schema, label: str, mode: GenerationMode, headers: dict | None = None) -> None:
    method, path = label.split(" ", 1)
    operation = schema[path][method]

    @FUZZ
    @given(case=operation.as_strategy(generation_mode=mode))
    def run(case):
        response = case.call(headers=headers)
        case.validate_response(response, checks=CHECKS, headers=headers)
        assert_json_error_if_4xx(response.status_code, response.headers, response.content)

    run()


@pytest.fixture(scope="module")
def schema(app):
    return schemathesis.openapi.from_wsgi("/api/openapi.json", app)


@pytest.fixture(scope="module")
def admin_app(tmp_path_factory):
    """A writable corpus and index with a fake encoder, and the admin token set."""
    root = tmp_path_factory.mktemp("fuzz-admin")
    corpus = root / "corpus"
    corpus.mkdir()
    for i in range(3):
        (corpus / f"seed-{i}.txt").write_text(f"Seed article {i}\n\nA paragraph of seed article {i}.\n")
    build_index(corpus, root / "index", HashingEmbedder())
    config = Config(corpus_dir=corpus, index_dir=root / "index", admin_token=TOKEN)
    return create_app(config, service=QAService(config, embedder=HashingEmbedder()))


def test_the_openapi_document_is_served_and_describes_every_api_route(app, schema):
    response = app.test_client().get("/api/openapi.json")
    assert response.status_code == 200 and response.is_json
    assert response.get_json()["openapi"].startswith("3.")
    documented = {op.ok().label for op in schema.get_all_operations()}
    assert documented == set(READ_ONLY + ADMIN)
    served = {
        f"{method} {rule.rule.replace('<article_id>', '{id}')}"
        for rule in app.url_map.iter_rules()
        if rule.rule.startswith("/api/") or rule.rule in ("/healthz", "/metrics")
        for method in rule.methods - {"HEAD", "OPTIONS"}
    }
    assert served - {"GET /api/openapi.json"} == documented


@pytest.mark.parametrize(("label", "mode"), [
    (label, mode) for label in READ_ONLY for mode in MODES
    if mode == GenerationMode.POSITIVE or label in WITH_INPUT  # nothing to make invalid in a bare GET
], ids=str)
def test_fuzz_read_routes_with_the_real_model(schema, label, mode):
    fuzz_operation(schema, label, mode)


@pytest.mark.parametrize("mode", MODES, ids=lambda m: m.value)
@pytest.mark.parametrize("label", ADMIN)
def test_fuzz_admin_routes_with_the_token(admin_app, label, mode):
    schema = schemathesis.openapi.from_wsgi("/api/openapi.json", admin_app)
    fuzz_operation(schema, label, mode, headers={"Authorization": f"Bearer {TOKEN}"})
    health = admin_app.test_client().get("/healthz")
    assert health.status_code == 200, "the index still serves after all that"


@pytest.mark.parametrize("label", ADMIN)
def test_fuzz_admin_routes_without_the_token_are_all_refused(admin_app, label):
    schema = schemathesis.openapi.from_wsgi("/api/openapi.json", admin_app)
    method, path = label.split(" ", 1)

    @FUZZ
    @given(case=schema[path][method].as_strategy(generation_mode=GenerationMode.POSITIVE))
    def run(case):
        case.headers = {k: v for k, v in (case.headers or {}).items() if k.lower() != "authorization"}
        response = case.call()
        assert response.status_code == 401, response.content[:200]
        assert_json_error_if_4xx(response.status_code, response.headers, response.content)

    run()


# --- the inputs the issue names, on /api/ask ---------------------------------------------------------------------

def post(app, data, content_type="application/json"):
    client = app.test_client()
    headers = {"Content-Type": content_type} if content_type is not None else {}
    response = client.post("/api/ask", data=data, headers=headers)
    assert_json_error_if_4xx(response.status_code, response.headers, response.get_data())
    return response


@NASTY
@given(body=st.binary(max_size=4096))
def test_random_bytes_as_a_json_body(app, body):
    assert post(app, body).status_code in (200, 400)


@NASTY
@given(body=st.binary(min_size=1, max_size=200).filter(lambda b: not _is_utf8(b)))
def test_non_utf8_bodies_are_400_invalid_encoding(app, body):
    payload = b'{"question": "' + body + b'"}'
    response = post(app, payload)
    assert response.status_code == 400 and response.get_json()["error"]["code"] == "invalid_encoding"


def _is_utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=50),
    lambda children: st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=10), children, max_size=5),
    max_leaves=30,
)
FIELDS = ["question", "top_k", "mode", "history", "date_from", "date_to", "articles"]


@NASTY
@given(body=st.dictionaries(st.sampled_from(FIELDS) | st.text(max_size=10), JSON_VALUES, max_size=8))
def test_any_json_object_is_answered_or_rejected_with_400(app, body):
    assert post(app, json.dumps(body)).status_code in (200, 400)


@settings(NASTY, max_examples=40)
@given(question=st.text(st.characters(codec=None, exclude_categories=()), min_size=1, max_size=200))
def test_any_unicode_question_including_control_characters_and_lone_surrogates(app, question):
    response = post(app, json.dumps({"question": question, "top_k": 2}))  # ensure_ascii keeps surrogates as \udxxx
    assert response.status_code in (200, 400)


@pytest.mark.parametrize("question", [
    "\x00", "\x00what did Pompeo warn about?", "\x1b[31mred\x1b[0m Pompeo", "\u202eesrever Pompeo", "\ufeff\u200b",
    "Pompeo\r\n\r\nwarned", "\t\v\f", "\ud800", "\udfff Pompeo", "\U0010ffff" * 10, "\u0085\u2028\u2029",
    "\U0001F600" * 1000, "a" * 1000,
])
def test_control_characters_and_odd_unicode_in_questions(app, question):
    response = post(app, json.dumps({"question": question}))
    assert response.status_code in (200, 400)
    if question.strip() and "\ud800" not in question and "\udfff" not in question:
        assert response.status_code == 200


@NASTY
@given(top_k=st.integers() | st.floats(allow_nan=True, allow_infinity=True) | st.decimals(allow_nan=False))
def test_huge_and_odd_numbers_for_top_k(app, top_k):
    literal = str(top_k) if not isinstance(top_k, float) or math.isfinite(top_k) else json.dumps(top_k)
    response = post(app, '{"question": "Pompeo", "top_k": ' + literal + "}")
    value = json.loads(literal)
    expected = 200 if isinstance(value, int) and 1 <= value <= 50 else 400
    assert response.status_code == expected, literal


@pytest.mark.parametrize("literal", [
    "1" + "0" * 5000, "-" + "9" * 4299, "1e999999", "-1e999999", "1e-999999", "Infinity", "-Infinity", "NaN",
    "5.0", "5e0", "0x10", "05", "+5", "1_0", "18446744073709551617", "-0",
])
def test_huge_numbers_in_any_field(app, literal):
    for field in ("top_k", "question", "mode", "date_from", "articles", "history"):
        response = post(app, '{"question": "Pompeo", "' + field + '": ' + literal + "}")
        assert response.status_code == 400, (field, literal, response.get_json())


@pytest.mark.parametrize(("body", "status"), [
    ("[" * 100_000 + "]" * 100_000, 413),
    ("[" * 30_000 + "]" * 30_000, 400),
    ('{"question": ' + "[" * 20_000 + "]" * 20_000 + "}", 400),
    ('{"question": "Pompeo", "history": ' + "[" * 20_000 + "]" * 20_000 + "}", 400),
    ('{"question": "Pompeo", "history": [' + '{"question": ' * 4_000 + "1" + "}" * 4_000 + "]}", 400),
    ('{"a":' * 10_000 + "1" + "}" * 10_000, 400),
])
def test_deeply_nested_json(app, body, status):
    assert post(app, body).status_code == status


def test_a_one_megabyte_question_is_413(app):
    body = json.dumps({"question": "Pompeo " * 150_000})
    assert len(body) > 1_000_000
    response = post(app, body)
    assert response.status_code == 413 and response.get_json()["error"]["code"] == "request_entity_too_large"


def test_a_one_megabyte_body_without_content_length_is_413(app):
    body = json.dumps({"question": "Pompeo " * 150_000}).encode()
    environ = {"CONTENT_TYPE": "application/json", "wsgi.input_terminated": True}
    client = app.test_client()
    import io

    response = client.post("/api/ask", input_stream=io.BytesIO(body), environ_overrides=environ)
    assert response.status_code == 413 and response.is_json


def test_a_question_just_over_the_limit_is_400(app):
    assert post(app, json.dumps({"question": "x" * 1001})).status_code == 400


@pytest.mark.parametrize("content_type", [
    None, "", "text/plain", "text/html", "application/xml", "application/x-www-form-urlencoded",
    "multipart/form-data; boundary=x", "application/jsonx", "application/json-patch+json", "*/*",
    "application", "application/", ";;;", "application/json\x00", "\u00e9/\u00e9",
])
def test_wrong_content_types_are_415(app, content_type):
    response = post(app, json.dumps({"question": "Pompeo"}), content_type=content_type)
    assert response.status_code == 415


@pytest.mark.parametrize("content_type", ["application/json; charset=utf-8", "APPLICATION/JSON",
                                          "application/json; charset=latin-1", "application/json;foo=bar"])
def test_json_content_type_variants_are_accepted(app, content_type):
    assert post(app, json.dumps({"question": "Pompeo"}), content_type=content_type).status_code == 200


@NASTY
@given(path=st.text(max_size=80))
def test_any_article_path_is_404_or_200_json(app, path):
    client = app.test_client()
    from urllib.parse import quote

    response = client.get("/api/articles/" + quote(path, safe=""))
    assert response.status_code in (200, 404, 308)
    assert_json_error_if_4xx(response.status_code, response.headers, response.get_data())
