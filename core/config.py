"""Settings read once from the environment, so every knob has one name and one default."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATABASE_URL = f"sqlite:///{PROJECT_ROOT / 'var' / 'impact-graph.db'}"


class Settings(BaseSettings):
    """Process configuration; see the README's configuration table."""

    model_config = SettingsConfigDict(extra="ignore", populate_by_name=True)

    database_url: str = Field(
        default=DEFAULT_DATABASE_URL,
        validation_alias="DATABASE_URL",
        description="sqlite:///path/to/file.db or postgresql://user@host:5432/db",
    )
    host: str = Field(default="127.0.0.1", validation_alias="IMPACT_GRAPH_HOST")
    port: int = Field(default=8000, ge=0, le=65535, validation_alias="IMPACT_GRAPH_PORT")
    graphiql: bool = Field(default=True, validation_alias="IMPACT_GRAPH_GRAPHIQL")
    seeds_dir: Path = Field(
        default=PROJECT_ROOT / "seeds",
        validation_alias="IMPACT_GRAPH_SEEDS_DIR",
        description="folder holding documents/ and graph.yaml",
    )
    log_level: str = Field(default="info", validation_alias="IMPACT_GRAPH_LOG_LEVEL")
    sql_echo: bool = Field(default=False, validation_alias="IMPACT_GRAPH_SQL_ECHO")


@lru_cache
def get_settings() -> Settings:
    return Settings()
