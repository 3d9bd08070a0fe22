"""schemathesis against the app's own OpenAPI schema: every operation, generated inputs, no 5xx, responses
that match the schema. New endpoints are picked up from the schema automatically; /wechat speaks WeChat's XML
protocol (not JSON) and has its own property tests in test_properties_wechat.py."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, settings

from bot.config import PROJECT_ROOT, Settings
from bot.retrieval.ingest import ingest
from bot.storage.migrate import upgrade
from bot.retrieval.search import KnowledgeIndex
from handlers.app import create_app
from tests.fakes.app_server import serve_app

MAX_EXAMPLES = 50  # per operation; the whole file stays well under 90 s on two cores


@pytest.fixture(scope="module")
def small_built(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """One policy document and three articles, ingested: enough for real answers, quick to build."""
    root: Path = tmp_path_factory.mktemp("schema")
    src = PROJECT_ROOT / "knowledge"
    (root / "knowledge" / "policy").mkdir(parents=True)
    (root / "knowledge" / "outreach").mkdir()
    shutil.copy(src / "policy" / "yunxi-left-behind-care-3year.txt", root / "knowledge" / "policy")
    docs = (src / "policy" / "documents.yaml").read_text("utf-8")
    (root / "knowledge" / "policy" / "documents.yaml").write_text(docs[docs.index("- id: yunxi-left-behind-care-3year"):], "utf-8")
    for path in sorted(p for p in (src / "outreach").glob("*.md") if p.name != "FORMAT.md")[:3]:
        shutil.copy(path, root / "knowledge" / "outreach" / path.name)
    built = Settings(data_dir=root / "var", knowledge_dir=root / "knowledge")
    upgrade(built)
    report = ingest(built)
    assert report.chunks and not report.errors
    return built


@pytest.fixture(scope="module")
def server(small_built: Settings) -> Iterator[str]:
    yield from serve_app(small_built, KnowledgeIndex(small_built))


def app_openapi() -> dict:
    """The schema as the app publishes it (building the app needs no index or database)."""
    with tempfile.TemporaryDirectory() as folder:
        return create_app(Settings(data_dir=Path(folder))).openapi()


# Loaded at collection (pytest 9 breaks schemathesis' lazy fixture loader); requests go to the real server.
schema = schemathesis.openapi.from_dict(app_openapi()).exclude(tag="wechat")


@schema.parametrize()
@settings(max_examples=MAX_EXAMPLES, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.function_scoped_fixture])
def test_every_operation_conforms_and_never_fails(case, server: str) -> None:  # type: ignore[no-untyped-def]
    case.call_and_validate(base_url=server)


def test_schema_covers_the_json_api() -> None:
    """Guards the exclusion above: the chat API is still among the tested operations."""
    paths = {op.path for op in (result.ok() for result in schema.get_all_operations())}
    assert {"/api/chat", "/healthz", "/readyz"} <= paths
