"""Every setting is documented in .env.example (the file operators copy)."""

from bot.config import PROJECT_ROOT, Settings


def test_every_setting_is_in_env_example() -> None:
    documented = (PROJECT_ROOT / ".env.example").read_text("utf-8")
    missing = [name for name in Settings.model_fields if f"TONGBAN_{name.upper()}=" not in documented]
    assert not missing, f"add to .env.example: {missing}"
