"""Large configurations load; YAML aliases that expand too far are refused (issue 18 item 5).

The alias guard counts what aliases add, not the file's own values: 10,000 channels (a few
hundred thousand values, none repeated) load, a short file whose aliases repeat more than
MAX_VALUES values does not. The timing target is a benchmark (`python -m benchmarks --only
config`), not asserted here beyond "not minutes"."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from bot.errors import ConfigError
from bot.settings import MAX_VALUES, load_settings, substitute_env
from bot.settings.load import parse_yaml


def channels_yaml(n: int) -> str:
    lines = ["database: data/paperboy.db", "channels:"]
    for i in range(n):
        lines += [
            "  - platform: slack" if i % 2 else "  - platform: discord",
            f'    id: "C{i:09d}"',
            f"    name: papers-{i}",
            f'    topics: ["mixture of experts {i % 97}", "speech", "machine translation"]',
            '    exclude: ["survey"]',
            '    schedule: "0 9 * * mon-fri"',
            "    timezone: europe/berlin",
        ]
    return "\n".join(lines) + "\n"


def load(tmp_path: Path, text: str, env: dict[str, str] | None = None) -> object:
    path = tmp_path / "paperboy.yaml"
    path.write_text(text, encoding="utf-8")
    return load_settings(str(path), env=env or {}, cwd=tmp_path)


def test_a_file_of_10_000_channels_loads(tmp_path: Path) -> None:
    start = time.monotonic()
    settings = load(tmp_path, channels_yaml(10_000))
    assert time.monotonic() - start < 60  # the target (2 s) is the benchmark's
    assert len(settings.channels) == 10_000  # type: ignore[attr-defined]
    last = settings.channels[-1]  # type: ignore[attr-defined]
    assert (last.platform, last.id, last.timezone) == ("slack", "C000009999", "Europe/Berlin")
    assert last.topics == ["mixture of experts 8", "speech", "machine translation"]


def test_duplicate_channels_are_still_named_among_many(tmp_path: Path) -> None:
    text = channels_yaml(3_000) + channels_yaml(2).split("channels:\n", 1)[1]
    with pytest.raises(ConfigError, match=r"channels: duplicate entries discord:C000000000, "):
        load(tmp_path, text)


def test_a_wide_alias_bomb_is_refused_fast(tmp_path: Path) -> None:
    """One level of aliases, 1,000 lists of 1,000 values: a million values from a 5 kB file."""
    text = "a: &a [" + ", ".join(["x"] * 1000) + "]\nb: [" + ", ".join(["*a"] * 1000) + "]\n"
    start = time.monotonic()
    with pytest.raises(ConfigError, match=r"aliases expand into more than 100,000 values"):
        load(tmp_path, text)
    assert time.monotonic() - start < 5.0


def test_a_nested_alias_bomb_is_refused_fast(tmp_path: Path) -> None:
    text = "a: &a [x,x,x,x,x,x,x,x,x]\n" + "".join(
        f"{chr(98 + i)}: &{chr(98 + i)} [{','.join(['*' + chr(97 + i)] * 9)}]\n" for i in range(8)
    )
    start = time.monotonic()
    with pytest.raises(ConfigError, match=r"aliases expand"):
        load(tmp_path, text)
    assert time.monotonic() - start < 5.0


def test_aliases_that_add_little_are_fine() -> None:
    """Shared defaults (an anchor merged into every channel, a shared topic list) are what
    aliases are for: 2,000 channels x a 3-topic list add 6,000 values."""
    text = (
        "x-topics: &topics [speech, machine translation, mixture of experts]\n"
        "x-defaults: &defaults {schedule: '0 8 * * *', timezone: UTC, topics: *topics}\n"
        "channels:\n"
        + "".join(f"  - {{<<: *defaults, platform: slack, id: C{i}}}\n" for i in range(2_000))
    )
    channels = substitute_env(parse_yaml(text), {})["channels"]
    assert len(channels) == 2_000
    assert channels[-1]["topics"] == ["speech", "machine translation", "mixture of experts"]


def test_the_guard_counts_exactly_what_aliases_add() -> None:
    shared = ["x"] * 1000
    within = {"a": shared, "b": [shared] * (MAX_VALUES // 1000)}  # a + 100 copies
    assert len(substitute_env(within, {})["b"]) == MAX_VALUES // 1000
    over = {"a": shared, "b": [shared] * (MAX_VALUES // 1000 + 1)}
    with pytest.raises(ConfigError, match="aliases expand"):
        substitute_env(over, {})


def test_own_values_beyond_the_alias_limit_are_not_refused() -> None:
    tree = {"channels": [{"topics": [f"t{i}-{j}" for j in range(5)]} for i in range(30_000)]}
    assert substitute_env(tree, {}) == tree  # 180,000 values, none repeated


def _typed(value: object) -> object:
    """`value` with every scalar's type beside it (True and 1 are equal, not the same)."""
    if isinstance(value, dict):
        return {k: _typed(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_typed(v) for v in value]
    return (type(value).__name__, value)


YAML_TEXTS = [
    "",
    "# nothing\n",
    "a: 1\nb: [yes, no, ~, 0x1f, 0o17, 1_000, 1.5e3, .inf, -.NaN, '1', \"2\", !!str 3]\n",
    "a: {x: 1, x: 2}\n",  # the later duplicate key wins
    "a: &x [1, 2]\nb: *x\n",  # an alias: PyYAML's own constructor (shared list)
    "base: &b {k: v}\nc: {<<: *b, z: 1}\n",  # a merge key
    "d: 2026-06-12\nt: 2026-06-12 08:00:00\nbin: !!binary aGk=\n",
    "s: !!set {a, b}\no: !!omap [a: 1, b: 2]\n",
    "1: int key\n~: null key\n",
    "- a\n- - b\n  - c: |\n      block\n      text\n",
    "x: " + "[" * 40 + "]" * 40 + "\n",  # deeper than MAX_DEPTH
]


@pytest.mark.parametrize("text", YAML_TEXTS)
def test_parse_yaml_reads_what_safe_load_reads(text: str) -> None:
    import yaml

    assert _typed(parse_yaml(text)) == _typed(yaml.safe_load(text))


def test_parse_yaml_reads_large_and_shipped_configurations_as_safe_load(tmp_path: Path) -> None:
    import yaml

    root = Path(__file__).resolve().parents[1]
    texts = [channels_yaml(500)] + [p.read_text() for p in sorted(root.glob("config/*.yaml"))]
    for text in texts:
        assert _typed(parse_yaml(text)) == _typed(yaml.safe_load(text))
