"""config/paperboy.example.yaml documents every key of the settings model, knows no key the
model does not, loads through the real settings loader, and shows the defaults it claims.

The model is walked recursively (`settings_key_paths`): a field whose type is a pydantic
model is a section, a list of models is a list of entries (`sources[].name`). A settings
class added to bot/settings/models.py fails here until the example documents its keys."""

from __future__ import annotations

import re
import sys
import types
import typing
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import BaseModel, Field, SecretStr

from bot.settings import Settings, load_settings
from bot.settings.models import SlackSettings

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "config" / "paperboy.example.yaml"
ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::?-[^}]*)?\}")
# Sections whose values are examples, not defaults (lists of entries).
EXAMPLE_SECTIONS = {"sources", "channels"}


def _models_in(annotation: Any) -> tuple[str, type[BaseModel]] | None:
    """("", M) for a field typed M (or M | None), ("[]", M) for list[M] / tuple[M, ...],
    ("{}", M) for dict[str, M]; None when no settings model is inside."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return "", annotation
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is typing.Annotated:
        return _models_in(args[0])
    if origin in (typing.Union, types.UnionType):
        found = [m for a in args if (m := _models_in(a)) is not None]
        return found[0] if found else None
    if origin in (list, tuple, set, frozenset) and args:
        inner = _models_in(args[0])
        return ("[]" + inner[0], inner[1]) if inner else None
    if origin is dict and len(args) == 2:
        inner = _models_in(args[1])
        return ("{}" + inner[0], inner[1]) if inner else None
    return None


def settings_key_paths(model: type[BaseModel] = Settings, prefix: str = "") -> set[str]:
    """Every key path the settings model accepts: `database`, `slack.bot_token`,
    `sources[].name`; a section is listed itself (`slack`) and with each of its keys.
    Fields excluded from the settings' dump (`source_file`, set by the loader) are not
    configuration keys."""
    paths: set[str] = set()
    for name, field in model.model_fields.items():
        if field.exclude:
            continue
        key = field.alias or name
        path = f"{prefix}{key}"
        paths.add(path)
        if (inner := _models_in(field.annotation)) is not None:
            suffix, sub = inner
            paths |= settings_key_paths(sub, f"{path}{suffix}.")
    return paths


def document_key_paths(data: Any, prefix: str = "") -> set[str]:
    """The key paths of a YAML document, written as `settings_key_paths` writes them."""
    paths: set[str] = set()
    if isinstance(data, dict):
        for key, value in data.items():
            path = f"{prefix}{key}"
            paths.add(path)
            paths |= document_key_paths(value, f"{path}.")
    elif isinstance(data, list):
        for item in data:
            paths |= document_key_paths(item, f"{prefix[:-1]}[].")
    return paths


def example() -> dict[str, Any]:
    data = yaml.safe_load(EXAMPLE.read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def example_env() -> dict[str, str]:
    """A value for every ${VAR} the example mentions (as a real setup would have)."""
    names = ENV_REF.findall(EXAMPLE.read_text(encoding="utf-8"))
    values = {"SLACK_WEBHOOK_URL": "https://hooks.slack.com/services/T0/B0/example"}
    return {name: values.get(name, f"example-{name.lower()}") for name in names}


# --- the walker itself --------------------------------------------------------------------


class _Inner(BaseModel):
    a: int = 1


class _Outer(BaseModel):
    plain: str = ""
    one: _Inner = _Inner()
    maybe: _Inner | None = None
    many: list[_Inner] = []
    named: dict[str, _Inner] = {}
    hidden: str = Field(default="", exclude=True)
    not_a_field: typing.ClassVar[str] = "a class variable"


def test_the_walker_finds_nested_listed_and_optional_sections() -> None:
    assert settings_key_paths(_Outer) == {
        "plain", "one", "one.a", "maybe", "maybe.a", "many", "many[].a", "named", "named{}.a",
    }  # fmt: skip
    assert document_key_paths({"many": [{"a": 1}, {"b": 2}], "one": {"a": 1}}) == {
        "many", "many[].a", "many[].b", "one", "one.a",
    }  # fmt: skip


def test_the_walker_sees_the_real_sections() -> None:
    paths = settings_key_paths()
    assert {"database", "sources[].name", "channels[].topics", "slack.bot_token"} <= paths
    assert {"health.port", "discord.shard_count", "digest.lease"} <= paths
    assert "source_file" not in paths


# --- the example ------------------------------------------------------------------------


def test_the_example_documents_every_key_of_the_settings_model() -> None:
    missing = sorted(settings_key_paths() - document_key_paths(example()))
    assert not missing, (
        f"config/paperboy.example.yaml does not document {missing}: add each key with its "
        "default and a comment"
    )


def test_the_example_has_no_key_the_settings_model_does_not_know() -> None:
    unknown = sorted(document_key_paths(example()) - settings_key_paths())
    assert not unknown, f"config/paperboy.example.yaml has keys Settings does not know: {unknown}"


def test_the_example_loads_through_the_real_settings_loader() -> None:
    settings = load_settings(str(EXAMPLE), env=example_env())
    assert settings.source_file == str(EXAMPLE)
    assert settings.sources and settings.channels
    assert settings.health.port is None  # the health endpoint is off by default


def test_the_example_fails_to_load_when_a_key_is_misspelt(tmp_path: Path) -> None:
    from bot.errors import ConfigError

    bad = tmp_path / "bad.yaml"
    bad.write_text(EXAMPLE.read_text(encoding="utf-8").replace("lease:", "leese:"))
    with pytest.raises(ConfigError, match="leese"):
        load_settings(str(bad), env=example_env())


def _defaults_shown(section: str) -> list[tuple[str, object, object]]:
    """(key, shown, default) for each key of a section whose value the example sets
    literally (not from an ${ENV} variable) and which differs from the model's default."""
    raw = example()[section]
    loaded = load_settings(str(EXAMPLE), env=example_env())
    if not isinstance(raw, dict):  # a top-level key
        shown, default = getattr(loaded, section), Settings.model_fields[section].default
        return [] if shown == default else [(section, shown, default)]
    model = type(getattr(loaded, section))
    wrong = []
    for key, value in raw.items():
        if isinstance(value, str) and ENV_REF.search(value):
            continue
        shown = getattr(getattr(loaded, section), key)
        default = model.model_fields[key].get_default(call_default_factory=True)
        if isinstance(shown, SecretStr):
            shown = shown.get_secret_value()
        if shown != default:
            wrong.append((key, shown, default))
    return wrong


@pytest.mark.parametrize(
    "section", sorted(set(Settings.model_fields) - EXAMPLE_SECTIONS - {"source_file"})
)
def test_outside_sources_and_channels_the_example_shows_the_defaults(section: str) -> None:
    assert section in example(), f"the example has no `{section}:`"
    assert not _defaults_shown(section)


def test_the_defaults_check_sees_a_changed_value(tmp_path: Path, monkeypatch: Any) -> None:
    changed = EXAMPLE.read_text(encoding="utf-8").replace("http_port: 3000", "http_port: 3001")
    moved = tmp_path / "example.yaml"
    moved.write_text(changed)
    monkeypatch.setattr(sys.modules[__name__], "EXAMPLE", moved)
    assert _defaults_shown("slack") == [("http_port", 3001, SlackSettings().http_port)]
