"""Reading the configuration: find the file (`config_path`), parse its YAML with guards
(depth, size, `!!tag`s), substitute `${ENV}` secrets (`substitute_env`), and validate it
once into `bot.settings.models.Settings` (`validate`). Every failure is a ConfigError that
names the file and the key paths, and never prints a value that came from the
environment."""

from __future__ import annotations

import gc
import os
import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError
from rapidfuzz import process

from bot.errors import ConfigError
from bot.settings.models import Settings

DEFAULT_CONFIG = Path("config/paperboy.yaml")
CONFIG_ENV = "PAPERBOY_CONFIG"
_ENV_REF = re.compile(r"\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?::-(?P<default>[^}]*))?\}")
# Deeper nesting is refused, and so are YAML aliases that repeat more values (nested aliases
# expand a short file into billions of values): `AliasBudget`. A file's own values are not
# limited (10,000 channels are a few hundred thousand).
MAX_DEPTH = 32
MAX_VALUES = 100_000
# libyaml's parser when PyYAML was built with it (about 5x faster than the pure-Python one).
_LOADER: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
MIN_HIDDEN = 4  # shorter environment values are not hidden in error messages (too many hits)


def substitute_env(
    node: Any,
    env: Mapping[str, str],
    path: str = "",
    unset: dict[str, str] | None = None,
    used: dict[str, str] | None = None,
) -> Any:
    """Replace `${NAME}` / `${NAME:-default}` in every string of a parsed YAML tree.

    A value that is exactly one reference to an unset variable without default becomes
    None (an unconfigured credential), and is recorded in `unset` (key path -> variable
    name) so that a validation error about that key can name the variable; inside a longer
    string it is a ConfigError. A tree nested deeper than MAX_DEPTH is a ConfigError too,
    and so is one whose YAML aliases repeat more than MAX_VALUES values (`alias_budget`):
    the file's own values are not limited, only what aliases add. `used` collects the
    substituted values (value -> variable name), so that error messages can hide them.
    """
    budget = AliasBudget()

    def walk(node: Any, path: str, depth: int, repeated: bool) -> Any:
        if isinstance(node, dict | list):
            if depth >= MAX_DEPTH:
                raise ConfigError(f"{path or '(top level)'}: nested deeper than {MAX_DEPTH} levels")
            repeated = budget.enter(node, repeated)
        if isinstance(node, dict):
            return {
                k: walk(v, f"{path}.{k}" if path else str(k), depth + 1, repeated)
                if _walked(v)
                else v
                for k, v in node.items()
            }
        if isinstance(node, list):
            return [
                walk(v, f"{path}[{i}]", depth + 1, repeated) if _walked(v) else v
                for i, v in enumerate(node)
            ]
        return _substitute(node, env, path, unset, used)

    return walk(node, path, 0, False)


def _walked(value: Any) -> bool:
    """Whether `walk` has anything to do for `value`: a mapping or list, or a string with
    `${` (any other value stays as it is)."""
    if isinstance(value, str):
        return "${" in value
    return isinstance(value, dict | list)


class AliasBudget:
    """What YAML aliases expand, counted while a parsed tree is walked (MAX_VALUES at most).

    PyYAML gives an alias the very object of its anchor: a mapping or list entered a second
    time is an alias's, and the values in it, and in every mapping or list inside it, are
    what aliases add. More than the limit is a ConfigError: a short file of nested aliases
    (the "billion laughs") would otherwise expand into billions of values. The file's own
    values are not counted, however many: each of them is written in the file. The tree
    must stay alive while it is walked (containers are told apart by their ids)."""

    def __init__(self, limit: int = MAX_VALUES) -> None:
        self._left = limit
        self._limit = limit
        self._entered: set[int] = set()

    def enter(self, container: dict[Any, Any] | list[Any], repeated: bool) -> bool:
        """Count entering `container` (inside an alias's value when `repeated`); whether its
        values are an alias's. Raises ConfigError once aliases added more than the limit."""
        key = id(container)
        if key in self._entered:
            repeated = True
        else:
            self._entered.add(key)
        if repeated:
            self._left -= len(container)
            if self._left < 0:
                raise ConfigError(
                    f"YAML aliases expand into more than {self._limit:,} values; "
                    "a configuration is much smaller"
                )
        return repeated


def _substitute(
    node: Any,
    env: Mapping[str, str],
    path: str,
    unset: dict[str, str] | None,
    used: dict[str, str] | None,
) -> Any:
    if not isinstance(node, str) or "${" not in node:
        return node
    whole = _ENV_REF.fullmatch(node)
    if whole and whole["name"] not in env and whole["default"] is None:
        if unset is not None:
            unset[path] = whole["name"]
        return None

    def repl(m: re.Match[str]) -> str:
        if m["name"] in env:
            if used is not None:
                used[env[m["name"]]] = m["name"]
            return env[m["name"]]
        if m["default"] is not None:
            return m["default"]
        raise ConfigError(f"{path}: environment variable {m['name']} is not set")

    return _ENV_REF.sub(repl, node)


def _loc(parts: tuple[int | str, ...]) -> str:
    out = ""
    for p in parts:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else str(p))
    return out


def _known_keys(loc: tuple[int | str, ...]) -> list[str]:
    model: type[BaseModel] | None = Settings
    for part in loc[:-1]:
        if model is None or isinstance(part, int):
            continue
        field = model.model_fields.get(part)
        ann = field.annotation if field else None
        args = getattr(ann, "__args__", ()) or (ann,)
        model = next((a for a in args if isinstance(a, type) and issubclass(a, BaseModel)), None)
    return [k for k in model.model_fields if k != "source_file"] if model else []


def _describe(err: Mapping[str, Any], unset: Mapping[str, str]) -> str:
    """One validation error as `key.path: what is wrong`, naming the unset environment
    variables of that key (or of the keys inside it) that left a value empty."""
    loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and p.startswith("function-")))
    text = _explain(err, loc)
    key = _loc(loc)
    causes = [
        f"{path}: the environment variable {name} is not set"
        for path, name in unset.items()
        if key and (path == key or path.startswith((f"{key}.", f"{key}[")))
    ]
    return f"{text} ({'; '.join(causes)})" if causes else text


def _explain(err: Mapping[str, Any], loc: tuple[int | str, ...]) -> str:
    where = _loc(loc) or "(top level)"
    if err["type"] == "extra_forbidden":
        hint = process.extractOne(str(loc[-1]), _known_keys(loc), score_cutoff=60)
        did_you_mean = f" (did you mean '{hint[0]}'?)" if hint else ""
        return f"{where}: unknown key{did_you_mean}"
    msg = str(err["msg"]).removeprefix("Value error, ")
    if err["type"] in {"missing"}:
        return f"{where}: required key is missing"
    got = err.get("input")
    shown = "" if isinstance(got, dict | list) or got is None else f" (got {got!r})"
    return f"{where}: {msg}{shown}"


def _resolve_paths(data: dict[str, Any], base_dir: Path) -> dict[str, Any]:
    sources = data.get("sources")
    if not isinstance(sources, list):
        return data
    resolved = []
    for i, src in enumerate(sources):
        if isinstance(src, dict) and isinstance(src.get("path"), str):
            try:
                path = Path(src["path"]).expanduser()
            except RuntimeError:  # `~name` of a user this system does not know
                raise ConfigError(
                    f"sources[{i}].path: cannot expand {src['path'][:80]!r} (unknown user)"
                ) from None
            src = {**src, "path": str(base_dir / path)}
        resolved.append(src)
    return {**data, "sources": resolved}


def validate(
    raw: Any, *, source_file: str, env: Mapping[str, str], base_dir: Path | None = None
) -> Settings:
    """Validate a parsed YAML document. Raises ConfigError naming the file and key paths.

    Relative source `path`s are taken relative to `base_dir` (the config file's folder).
    """
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError(f"{source_file}: expected a mapping of keys at the top level")
    unset: dict[str, str] = {}
    used: dict[str, str] = {}
    try:
        data = substitute_env(raw, env, unset=unset, used=used)
        if base_dir is not None:
            data = _resolve_paths(data, base_dir)
        with collector_paused():  # 10,000 channels: 0.3 s -> 0.15 s
            return Settings.model_validate({**data, "source_file": source_file})
    except ConfigError as e:
        raise ConfigError(_hide(f"{source_file}: {e}", used)) from None
    except ValidationError as e:
        lines = [_describe(err, unset) for err in e.errors()]
        raise ConfigError(
            _hide(f"{source_file}: invalid configuration\n  " + "\n  ".join(lines), used)
        ) from None


def _hide(message: str, used: Mapping[str, str]) -> str:
    """`message` with every value that came from the environment shown as `${NAME}`: an
    error about a misplaced secret must not print it."""
    for value in sorted((v for v in used if len(v) >= MIN_HIDDEN), key=len, reverse=True):
        message = message.replace(value, f"${{{used[value]}}}")
    return message


def parse_yaml(text: str) -> Any:
    """`text` as yaml.safe_load reads it (safe tags only), with libyaml when PyYAML has it.
    A plain document (`_plain`: strings, numbers, booleans and nulls in mappings and lists,
    no alias, no merge key, not deeply nested: what a configuration is) is built from its
    nodes directly (`_build`), the same values PyYAML's constructor makes in a fifth of
    the time; any other goes through PyYAML's constructor. The garbage collector is paused
    meanwhile: a large file makes hundreds of thousands of objects, none of them garbage,
    and collecting while they are made cost more than the parse itself (2.6 s instead of
    1.0 s for 10,000 channels). Raises what yaml.safe_load raises (yaml.YAMLError and the
    errors of `!!tag` constructors)."""
    loader = _LOADER(text)
    try:
        with collector_paused():
            node = loader.get_single_node()
            if node is None:
                return None
            if _plain(node):
                return _build(node, loader)
            return loader.construct_document(node)
    finally:
        loader.dispose()


@contextmanager
def collector_paused() -> Iterator[None]:
    """The cyclic garbage collector off during the block (as it was after): for making
    many long-lived objects at once (a large configuration's values and models), which
    the collector would otherwise scan again and again. Reference counting still frees
    what the block drops."""
    collecting = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if collecting:
            gc.enable()


_STR = "tag:yaml.org,2002:str"
# Scalars PyYAML builds from their text alone (immutable values): `_build` asks its
# constructor for them, and reads strings itself.
_PLAIN_SCALARS = frozenset(
    {_STR, "tag:yaml.org,2002:int", "tag:yaml.org,2002:float", "tag:yaml.org,2002:bool",
     "tag:yaml.org,2002:null"}
)  # fmt: skip


def _plain(root: yaml.Node) -> bool:
    """Whether the document under `root` holds only mappings (with string keys), lists and
    `_PLAIN_SCALARS`, each node once (an alias repeats a node), nested at most MAX_DEPTH
    + 1 levels (deeper is refused later anyway, by `substitute_env`)."""
    seen: set[int] = set()
    stack: list[tuple[yaml.Node, int]] = [(root, 0)]
    while stack:
        node, depth = stack.pop()
        if id(node) in seen or depth > MAX_DEPTH + 1:
            return False
        seen.add(id(node))
        if isinstance(node, yaml.ScalarNode):
            if node.tag not in _PLAIN_SCALARS:
                return False
        elif isinstance(node, yaml.SequenceNode) and node.tag == "tag:yaml.org,2002:seq":
            stack.extend((item, depth + 1) for item in node.value)
        elif isinstance(node, yaml.MappingNode) and node.tag == "tag:yaml.org,2002:map":
            for key, value in node.value:
                if not (isinstance(key, yaml.ScalarNode) and key.tag == _STR) or id(key) in seen:
                    return False
                seen.add(id(key))
                stack.append((value, depth + 1))
        else:
            return False
    return True


def _build(node: yaml.Node, loader: yaml.SafeLoader) -> Any:
    """The value of a `_plain` node, as PyYAML's SafeConstructor builds it: a string is the
    node's text, another scalar what the constructor makes of it, a mapping's later
    duplicate key wins."""
    if isinstance(node, yaml.ScalarNode):
        return node.value if node.tag == _STR else loader.construct_object(node, deep=True)
    if isinstance(node, yaml.SequenceNode):
        return [_build(item, loader) for item in node.value]
    return {key.value: _build(value, loader) for key, value in node.value}


def bundled_demo_config() -> str:
    """Text of the demo configuration shipped inside the package."""
    return resources.files("bot").joinpath("data/demo.yaml").read_text(encoding="utf-8")


def config_path(explicit: str | None, env: Mapping[str, str], cwd: Path) -> Path | None:
    """Which file to load: --config, else $PAPERBOY_CONFIG, else config/paperboy.yaml, else None
    (meaning the bundled demo config)."""
    if explicit:
        return Path(explicit)
    if env.get(CONFIG_ENV):
        return Path(env[CONFIG_ENV])
    default = cwd / DEFAULT_CONFIG
    return default if default.is_file() else None


def load_settings(
    explicit: str | None = None,
    *,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
) -> Settings:
    """Find, read and validate the configuration. Raises ConfigError (exit status 2)."""
    env = os.environ if env is None else env
    path = config_path(explicit, env, cwd or Path.cwd())
    if path is None:
        text, name = bundled_demo_config(), "<bundled demo config>"
        base_dir = Path(str(resources.files("bot").joinpath("data")))
    else:
        name, base_dir = str(path), path.resolve().parent
        try:
            text = path.read_text(encoding="utf-8-sig")
        except FileNotFoundError:
            raise ConfigError(f"{name}: configuration file not found") from None
        except (OSError, UnicodeDecodeError) as e:
            raise ConfigError(
                f"{name}: cannot read configuration ({e.__class__.__name__})"
            ) from None
    try:
        raw = parse_yaml(text)
    except RecursionError:
        raise ConfigError(f"{name}: not valid YAML: nested too deeply") from None
    except (ValueError, TypeError, IndexError, KeyError, AttributeError) as e:
        # PyYAML's constructors raise these for an explicit tag whose value does not read
        # as it (`!!int 0x`, `!!float` with no value, `!!timestamp soon`, `!!bool maybe`).
        raise ConfigError(
            f"{name}: not valid YAML: a value does not read as its !!tag ({type(e).__name__})"
        ) from None
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(e, "problem", None) or "malformed YAML"
        raise ConfigError(f"{name}: not valid YAML{where}: {problem}") from None
    return validate(raw, source_file=name, env=env, base_dir=base_dir)
