"""Follow-up templates: the built-in ones and the user's own.

Templates are plain-text Jinja2, rendered in a sandbox with autoescaping off
and undefined variables treated as errors. There is one file per stage and
nudge number, ``<stage>_<n>.txt`` (``application_2.txt`` is the second
follow-up to an application). For nudge N the highest available number not
above N is used; at the same number the user's file wins over the built-in
one.

A user template that does not parse or fails to render is never fatal: the
built-in template is used and a warning naming the file and line is returned
for the caller to log. This is the only module of the drafting stage that
reads files.
"""

from __future__ import annotations

import re
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from jinja2 import FunctionLoader, StrictUndefined, Template, TemplateSyntaxError
from jinja2.sandbox import SandboxedEnvironment

from mailfollow.core.drafting import RenderedText
from mailfollow.model import Stage

TEMPLATE_FILE = re.compile(r"^(?P<stage>[a-z_]+)_(?P<number>[1-9][0-9]?)\.txt$")
MAX_TEMPLATE_BYTES = 64 * 1024
BUILTIN_ORIGIN = "built-in"

_Key = tuple[Stage, int]


@dataclass(frozen=True)
class _Source:
    text: str
    filename: str  # what error messages name: a path, or "<built-in>/name.txt"
    origin: str  # "built-in" or "user"


def template_file_name(stage: Stage, number: int) -> str:
    return f"{stage.value}_{number}.txt"


def _parse_file_name(name: str) -> _Key | None:
    match = TEMPLATE_FILE.match(name)
    if match is None:
        return None
    try:
        return Stage(match.group("stage")), int(match.group("number"))
    except ValueError:
        return None


def _read_builtin_sources() -> dict[_Key, _Source]:
    folder = resources.files("mailfollow").joinpath("templates")
    sources: dict[_Key, _Source] = {}
    for entry in folder.iterdir():
        key = _parse_file_name(entry.name)
        if key is not None:
            text = entry.read_text(encoding="utf-8")
            sources[key] = _Source(text, f"<built-in>/{entry.name}", BUILTIN_ORIGIN)
    return sources


def _read_user_sources(templates_dir: Path) -> tuple[dict[_Key, _Source], list[str]]:
    """The user's template files, with a warning for each one that cannot be used."""
    if not templates_dir.is_dir():
        return {}, [f"{templates_dir}: templates directory not found; using built-in templates"]
    sources: dict[_Key, _Source] = {}
    warnings: list[str] = []
    for path in sorted(templates_dir.iterdir()):
        if path.suffix != ".txt" or not path.is_file():
            continue
        key = _parse_file_name(path.name)
        if key is None:
            warnings.append(
                f"{path}: not a template name mailfollow knows (expected <stage>_<n>.txt,"
                f" stage one of {', '.join(s.value for s in Stage)}); ignored"
            )
            continue
        try:
            if path.stat().st_size > MAX_TEMPLATE_BYTES:
                warnings.append(f"{path}: larger than {MAX_TEMPLATE_BYTES} bytes; ignored")
                continue
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            warnings.append(f"{path}: cannot be read ({exc}); using the built-in template")
            continue
        sources[key] = _Source(text, str(path), "user")
    return sources, warnings


def _error_line(exc: BaseException, filename: str) -> int | None:
    """The template line a render error happened on (Jinja rewrites tracebacks
    so that template frames carry the template's file name and line)."""
    if isinstance(exc, TemplateSyntaxError):
        return exc.lineno
    line = None
    for frame in traceback.extract_tb(exc.__traceback__):
        if frame.filename == filename:
            line = frame.lineno
    return line


def _describe_failure(source: _Source, exc: BaseException, what: str) -> str:
    line = _error_line(exc, source.filename)
    where = f"{source.filename}:{line}" if line else source.filename
    detail = getattr(exc, "message", None) or str(exc) or type(exc).__name__
    return f"{where}: {what}: {detail}; using the built-in template instead"


def tidy_text(text: str) -> str:
    """Trailing spaces removed, runs of blank lines collapsed, one final newline."""
    lines = [line.rstrip() for line in text.replace("\r\n", "\n").split("\n")]
    tidy: list[str] = []
    for line in lines:
        if line or (tidy and tidy[-1]):
            tidy.append(line)
    return "\n".join(tidy).strip("\n") + "\n"


def _make_environment(sources: Mapping[str, _Source]) -> SandboxedEnvironment:
    def load(name: str) -> tuple[str, str, Callable[[], bool]] | None:
        source = sources.get(name)
        return None if source is None else (source.text, source.filename, lambda: True)

    return SandboxedEnvironment(
        loader=FunctionLoader(load),
        autoescape=False,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        auto_reload=False,
    )


class Templates:
    """The follow-up templates in use; renders the right one for a stage and nudge.

    Implements :class:`mailfollow.core.drafting.TemplateRenderer`.
    """

    def __init__(
        self,
        builtin: Mapping[_Key, _Source],
        user: Mapping[_Key, _Source] | None = None,
        *,
        warnings: tuple[str, ...] = (),
    ) -> None:
        user = user or {}
        by_name = {_name(key, src): src for key, src in [*builtin.items(), *user.items()]}
        self._env = _make_environment(by_name)
        self._builtin: dict[_Key, Template] = {
            key: self._env.get_template(_name(key, src)) for key, src in builtin.items()
        }
        self._user: dict[_Key, tuple[Template, _Source]] = {}
        found = list(warnings)
        for key, source in user.items():
            try:
                self._user[key] = (self._env.get_template(_name(key, source)), source)
            except TemplateSyntaxError as exc:
                found.append(_describe_failure(source, exc, "template syntax error"))
        self._load_warnings = tuple(found)

    @property
    def warnings(self) -> tuple[str, ...]:
        """Problems found while loading (unknown names, unreadable files, syntax errors)."""
        return self._load_warnings

    def render(
        self, stage: Stage, nudge_number: int, variables: Mapping[str, object]
    ) -> RenderedText:
        """The follow-up text for this stage and nudge number."""
        number = max(1, nudge_number)
        user_key = _best_key(self._user, stage, number)
        builtin_key = _best_key(self._builtin, stage, number)
        if builtin_key is None:
            raise LookupError(f"no built-in template for stage {stage.value}")
        warnings: list[str] = []
        if user_key is not None and user_key[1] >= builtin_key[1]:
            template, source = self._user[user_key]
            try:
                text = tidy_text(template.render(dict(variables)))
            except Exception as exc:  # noqa: BLE001 - a user template may raise anything
                warnings.append(_describe_failure(source, exc, "template error"))
            else:
                if text.strip():
                    return RenderedText(text, f"{source.filename} (user)", ())
                warnings.append(
                    f"{source.filename}: rendered to an empty text; using the built-in template"
                    " instead"
                )
        text = tidy_text(self._builtin[builtin_key].render(dict(variables)))
        name = template_file_name(*builtin_key)
        return RenderedText(text, f"{name} ({BUILTIN_ORIGIN})", tuple(warnings))

    def check(self, variables: Mapping[str, object]) -> tuple[str, ...]:
        """Load warnings plus a trial render of every user template with
        ``variables``, so a config check can report broken templates early."""
        found = list(self._load_warnings)
        for key in sorted(self._user, key=lambda k: (k[0].value, k[1])):
            rendered = self.render(key[0], key[1], variables)
            found.extend(rendered.warnings)
        return tuple(found)


def _name(key: _Key, source: _Source) -> str:
    return f"{source.origin}/{template_file_name(*key)}"


def _best_key(templates: Mapping[_Key, object], stage: Stage, number: int) -> _Key | None:
    numbers = [n for (s, n) in templates if s is stage and n <= number]
    return (stage, max(numbers)) if numbers else None


def load_templates(templates_dir: Path | None = None) -> Templates:
    """The built-in templates, overridden by same-named files in ``templates_dir``.

    Problems with the user's files are in ``Templates.warnings``; they never
    raise.
    """
    builtin = _read_builtin_sources()
    if templates_dir is None:
        return Templates(builtin)
    user, warnings = _read_user_sources(templates_dir.expanduser())
    return Templates(builtin, user, warnings=tuple(warnings))
