"""Settings: defaults, then TOML, then COIASSIST_* variables, then flags; every one documented."""

from __future__ import annotations

from dataclasses import fields
from pathlib import Path

import pytest

from coiassist.config import Settings, load_settings
from coiassist.errors import ConfigError
from tests.conftest import REPO


def test_readme_documents_every_setting() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    missing = [f.name for f in fields(Settings) if f"`COIASSIST_{f.name.upper()}`" not in readme]
    assert missing == []


def test_every_setting_has_a_description() -> None:
    assert all(f.metadata["description"].strip() for f in fields(Settings))


def test_layers_override_in_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "coiassist.toml"
    config.write_text('[coiassist]\ntop_k = 7\nbackend = "ollama"\nport = 9000\n', encoding="utf-8")
    monkeypatch.setenv("COIASSIST_TOP_K", "3")
    settings = load_settings({"port": 8123}, config_file=config)
    assert settings.backend == "ollama"  # from the file
    assert settings.top_k == 3  # the variable beats the file
    assert settings.port == 8123  # the flag beats both


def test_booleans_and_paths_are_parsed(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("COIASSIST_FALLBACK_TO_EXTRACTIVE", "no")
    monkeypatch.setenv("COIASSIST_HOME", str(tmp_path / "h"))
    settings = load_settings(config_file=tmp_path / "absent.toml")
    assert settings.fallback_to_extractive is False
    assert settings.home == tmp_path / "h" and settings.index_dir == tmp_path / "h" / "index"


@pytest.mark.parametrize(
    ("variable", "value", "needle"),
    [
        ("COIASSIST_TOP_K", "many", "top_k"),
        ("COIASSIST_RETRIEVAL_MODE", "magic", "hybrid"),
        ("COIASSIST_CHUNK_OVERLAP_TOKENS", "500", "overlap"),
        ("COIASSIST_UNSUPPORTED_SENTENCES", "keep", "drop"),
        ("COIASSIST_NAME_WEIGHT", "-1", "name_weight must be 0 or more"),
        ("COIASSIST_ARTICLE_WEIGHT", "-0.25", "article_weight must be 0 or more"),
        ("COIASSIST_DENSE_WEIGHT", "-0.5", "dense_weight must be 0 or more"),
    ],
)
def test_bad_values_are_clear_errors(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, variable: str, value: str, needle: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(ConfigError, match=needle):
        load_settings(config_file=tmp_path / "absent.toml")


def test_unknown_key_in_the_file_is_an_error(tmp_path: Path) -> None:
    config = tmp_path / "coiassist.toml"
    config.write_text("topk = 3\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="unknown setting 'topk'"):
        load_settings(config_file=config)
