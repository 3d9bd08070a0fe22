"""`tongban wechat menu push` and the reply helpers (no server needed)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from bot.cli import main
from bot.config import PROJECT_ROOT
from bot.wechat.replies import cdata_safe, plain_text, reply_parts, split_reply
from tests.fakes.wechat_api import APP_ID, FakeWeChatAPI


def test_menu_push_creates_the_shipped_menu(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    with FakeWeChatAPI() as api:
        for key, value in {"TONGBAN_WECHAT_APP_ID": APP_ID, "TONGBAN_WECHAT_APP_SECRET": "s",
                           "TONGBAN_WECHAT_API_BASE": api.base_url, "TONGBAN_DATA_DIR": str(tmp_path)}.items():
            monkeypatch.setenv(key, value)
        from bot.config import get_settings
        from bot.storage.migrate import upgrade

        get_settings.cache_clear()
        upgrade(get_settings())
        result = CliRunner().invoke(main, ["wechat", "menu", "push"])
        get_settings.cache_clear()
        assert result.exit_code == 0, result.output
        sent = api.calls("/cgi-bin/menu/create")[0]["json"]
        assert sent == json.loads((PROJECT_ROOT / "prompts" / "wechat_menu.json").read_text("utf-8"))


@pytest.mark.parametrize(("menu", "message"), [
    ({"button": [{"type": "click", "name": f"b{i}", "key": "k"} for i in range(4)]}, "4 top-level buttons"),
    ({"button": [{"name": "x", "sub_button": [{"type": "click", "name": "s", "key": "k"}] * 6}]}, "1-5"),
    ({"button": [{"type": "click", "name": "名字太长了不行的", "key": "k"}]}, "24 bytes"),
    ({"button": [{"type": "click", "name": "a", "key": "k" * 129}]}, "key"),
    ({"button": [{"type": "view", "name": "a", "url": "ftp://x"}]}, "url"),
    ({"buttons": []}, "button"),
])
def test_bad_menu_is_one_clear_line(tmp_path: Path, menu: dict, message: str) -> None:
    path = tmp_path / "menu.json"
    path.write_text(json.dumps(menu, ensure_ascii=False), "utf-8")
    result = CliRunner().invoke(main, ["wechat", "menu", "push", "--file", str(path), "--dry-run"])
    assert result.exit_code == 2
    assert message in result.output and len(result.output.strip().splitlines()) == 1


def test_split_never_breaks_a_character_and_prefers_sentence_ends() -> None:
    text = "娃要多喝水。" * 400 + "🙂" * 700
    parts = split_reply(text)
    assert all(len(p.encode("utf-8")) <= 2048 for p in parts)
    assert "".join(parts) == text
    assert parts[0].endswith("。")
    assert len(reply_parts(text)) <= 5


def test_markdown_is_stripped_and_cdata_is_escaped() -> None:
    assert plain_text("## 标题\n**重点** 和 [链接](https://x)\n- 一条") == "标题\n重点 和 链接\n· 一条"
    assert cdata_safe("a]]>b") == "a]]]]><![CDATA[>b"
