"""Follow-up templates: the built-in texts, nudge-number fallback and user overrides."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from mailfollow.model import Stage
from mailfollow.templating import Templates, load_templates, template_file_name, tidy_text

SIGNATURE = "+1 555 0100\nlinkedin.com/in/alexdoe"
GUILT_TRIPS = (
    "haven't heard",
    "have not heard",
    "didn't hear",
    "did not hear",
    "as i said",
    "as i mentioned",
    "still waiting",
    "no response",
    "ignored",
)


def variables(**changes: object) -> dict[str, object]:
    base: dict[str, object] = {
        "first_name": "Jane",
        "greeting": "Hi Jane",
        "company": "Acme",
        "role": "Senior Backend Engineer",
        "subject": "Application for Senior Backend Engineer",
        "stage": "application",
        "sent_date": "March 6",
        "elapsed": "last week",
        "interview_date": "March 15",
        "interview_when": "yesterday",
        "my_name": "Alex Doe",
        "signature": SIGNATURE,
        "nudge_number": 1,
    }
    base.update(changes)
    return base


ANONYMOUS = {"first_name": "", "greeting": "Hello", "company": "", "role": ""}
NO_INTERVIEW = {"interview_date": "", "interview_when": ""}


@pytest.fixture(scope="module")
def builtin() -> Templates:
    return load_templates()


def word_count_before_signature(text: str) -> int:
    return len(text.split("Best regards,")[0].split())


STAGES_AND_NUDGES = [(stage, n) for stage in Stage for n in (1, 2, 3)]


@pytest.mark.parametrize(("stage", "nudge"), STAGES_AND_NUDGES)
@pytest.mark.parametrize("extra", [{}, ANONYMOUS, NO_INTERVIEW, {**ANONYMOUS, **NO_INTERVIEW}])
def test_every_builtin_template_renders_short_and_complete(
    builtin: Templates, stage: Stage, nudge: int, extra: dict[str, object]
) -> None:
    rendered = builtin.render(stage, nudge, variables(**extra))
    text = rendered.text
    assert rendered.warnings == ()
    assert "{" not in text
    assert "}" not in text
    assert word_count_before_signature(text) < 120
    assert len(text.split()) < 120
    assert "  " not in text
    assert " ." not in text
    assert " ," not in text
    assert "the  " not in text
    assert text.endswith("Alex Doe\n+1 555 0100\nlinkedin.com/in/alexdoe\n")
    assert not any(phrase in text.lower() for phrase in GUILT_TRIPS)


@pytest.mark.parametrize("stage", list(Stage))
def test_the_greeting_uses_the_first_name(builtin: Templates, stage: Stage) -> None:
    assert builtin.render(stage, 1, variables()).text.startswith("Hi Jane,\n\n")


@pytest.mark.parametrize("stage", list(Stage))
def test_without_a_first_name_the_greeting_is_neutral(builtin: Templates, stage: Stage) -> None:
    text = builtin.render(stage, 1, variables(**ANONYMOUS)).text
    assert text.startswith("Hello,\n\n")
    assert "Hi ," not in text
    assert "jobs" not in text.lower()


@pytest.mark.parametrize(
    "stage", [Stage.APPLICATION, Stage.INTERVIEW_THANK_YOU, Stage.INTERVIEW_FOLLOW_UP]
)
def test_the_role_is_named_when_known(builtin: Templates, stage: Stage) -> None:
    assert "the Senior Backend Engineer role" in builtin.render(stage, 1, variables()).text


def test_the_application_follow_up_thanks_and_offers_help(builtin: Templates) -> None:
    text = builtin.render(Stage.APPLICATION, 1, variables()).text
    assert "on March 6" in text
    assert "at Acme" in text
    assert "Thank you" in text
    assert "anything else you need" in text


def test_the_second_application_nudge_differs_from_the_first(builtin: Templates) -> None:
    first = builtin.render(Stage.APPLICATION, 1, variables())
    second = builtin.render(Stage.APPLICATION, 2, variables())
    assert first.text != second.text
    assert "last week" in second.text
    assert second.template == "application_2.txt (built-in)"


def test_the_thank_you_references_the_interview_day(builtin: Templates) -> None:
    text = builtin.render(Stage.INTERVIEW_THANK_YOU, 1, variables()).text
    assert "Thank you for taking the time to speak with me yesterday about the" in text
    without_day = builtin.render(Stage.INTERVIEW_THANK_YOU, 1, variables(**NO_INTERVIEW)).text
    assert "speak with me about the Senior Backend Engineer role." in without_day


def test_a_missing_nudge_number_uses_the_highest_lower_template(builtin: Templates) -> None:
    assert builtin.render(Stage.APPLICATION, 5, variables()).template == (
        "application_2.txt (built-in)"
    )
    assert builtin.render(Stage.NETWORKING, 2, variables()).template == (
        "networking_1.txt (built-in)"
    )
    assert builtin.render(Stage.NETWORKING, 0, variables()).template == (
        "networking_1.txt (built-in)"
    )


def test_builtin_templates_load_without_warnings(builtin: Templates) -> None:
    assert builtin.warnings == ()
    assert builtin.check(variables()) == ()


# --- user templates ----------------------------------------------------------------------


def write(directory: Path, name: str, text: str) -> Path:
    path = directory / name
    path.write_text(text, encoding="utf-8")
    return path


def test_a_user_template_overrides_the_builtin_one(tmp_path: Path) -> None:
    write(tmp_path, "application_1.txt", "{{ greeting }},\n\nMy own words about {{ role }}.\n")
    templates = load_templates(tmp_path)
    rendered = templates.render(Stage.APPLICATION, 1, variables())
    assert rendered.text == "Hi Jane,\n\nMy own words about Senior Backend Engineer.\n"
    assert rendered.template == f"{tmp_path / 'application_1.txt'} (user)"
    assert rendered.warnings == ()
    assert templates.warnings == ()


def test_a_builtin_template_for_a_closer_nudge_number_beats_a_lower_user_one(
    tmp_path: Path,
) -> None:
    write(tmp_path, "application_1.txt", "Mine.\n")
    templates = load_templates(tmp_path)
    assert templates.render(Stage.APPLICATION, 2, variables()).template == (
        "application_2.txt (built-in)"
    )
    write(tmp_path, "networking_1.txt", "Mine.\n")
    templates = load_templates(tmp_path)
    assert templates.render(Stage.NETWORKING, 3, variables()).text == "Mine.\n"


def test_a_user_template_with_a_syntax_error_is_reported_by_file_and_line(tmp_path: Path) -> None:
    path = write(tmp_path, "application_1.txt", "Hello,\n\nThis is {% if role %} broken\n")
    templates = load_templates(tmp_path)
    assert len(templates.warnings) == 1
    warning = templates.warnings[0]
    assert warning.startswith(f"{path}:3: template syntax error")
    assert "built-in" in warning
    rendered = templates.render(Stage.APPLICATION, 1, variables())
    assert rendered.template == "application_1.txt (built-in)"
    assert rendered.text.startswith("Hi Jane,")


def test_a_user_template_that_fails_to_render_is_reported_and_replaced(tmp_path: Path) -> None:
    path = write(tmp_path, "networking_1.txt", "Hi,\n\nline two\n{{ no_such_variable }}\n")
    templates = load_templates(tmp_path)
    assert templates.warnings == ()
    rendered = templates.render(Stage.NETWORKING, 1, variables())
    assert rendered.template == "networking_1.txt (built-in)"
    assert len(rendered.warnings) == 1
    assert rendered.warnings[0].startswith(f"{path}:4: template error")
    assert "no_such_variable" in rendered.warnings[0]
    assert rendered.text.startswith("Hi Jane,")


def test_the_sandbox_stops_a_user_template_reaching_python_internals(tmp_path: Path) -> None:
    path = write(
        tmp_path, "application_1.txt", "{{ greeting.__class__.__mro__[1].__subclasses__() }}\n"
    )
    rendered = load_templates(tmp_path).render(Stage.APPLICATION, 1, variables())
    assert rendered.template == "application_1.txt (built-in)"
    assert rendered.warnings[0].startswith(f"{path}:1: template error")
    assert "subclasses" not in rendered.text


def test_a_user_template_that_renders_empty_is_replaced(tmp_path: Path) -> None:
    path = write(tmp_path, "application_2.txt", "{% if false %}nothing{% endif %}\n\n")
    rendered = load_templates(tmp_path).render(Stage.APPLICATION, 2, variables())
    assert rendered.template == "application_2.txt (built-in)"
    assert rendered.warnings == (
        f"{path}: rendered to an empty text; using the built-in template instead",
    )


def test_html_is_not_escaped_in_plain_text(tmp_path: Path) -> None:
    write(tmp_path, "application_1.txt", "{{ role }}\n")
    rendered = load_templates(tmp_path).render(Stage.APPLICATION, 1, variables(role="R&D <Lead>"))
    assert rendered.text == "R&D <Lead>\n"


def test_unknown_unreadable_and_missing_user_files_are_reported(tmp_path: Path) -> None:
    write(tmp_path, "aplication_1.txt", "typo in the name\n")
    (tmp_path / "networking_1.txt").write_bytes(b"caf\xe9\n")
    write(tmp_path, "notes.txt", "no stage, no number\n")
    write(tmp_path, "informational_1.txt", "x" * 70_000)
    write(tmp_path, "README.md", "not a template, silently ignored\n")
    templates = load_templates(tmp_path)
    assert len(templates.warnings) == 4
    unknown, too_big, unreadable, no_name = sorted(templates.warnings)
    assert unknown.startswith(f"{tmp_path / 'aplication_1.txt'}: not a template name")
    assert too_big.startswith(f"{tmp_path / 'informational_1.txt'}: larger than")
    assert unreadable.startswith(f"{tmp_path / 'networking_1.txt'}: cannot be read")
    assert no_name.startswith(f"{tmp_path / 'notes.txt'}: not a template name")
    assert templates.render(Stage.NETWORKING, 1, variables()).template == (
        "networking_1.txt (built-in)"
    )


def test_a_missing_templates_directory_is_reported(tmp_path: Path) -> None:
    templates = load_templates(tmp_path / "nowhere")
    assert templates.warnings == (
        f"{tmp_path / 'nowhere'}: templates directory not found; using built-in templates",
    )


def test_check_reports_templates_that_only_fail_when_rendered(tmp_path: Path) -> None:
    path = write(tmp_path, "informational_1.txt", "{{ 1 / 0 }}\n")
    found = load_templates(tmp_path).check(variables())
    assert len(found) == 1
    assert found[0].startswith(f"{path}:1: template error")


def test_rendered_text_is_tidied() -> None:
    assert tidy_text("Hi,  \n\n\n\nBody\n\n\nSig\n\n") == "Hi,\n\nBody\n\nSig\n"


def test_template_file_names_follow_stage_and_number() -> None:
    assert template_file_name(Stage.INTERVIEW_THANK_YOU, 1) == "interview_thank_you_1.txt"
    assert all(re.fullmatch(r"[a-z_]+_\d\.txt", template_file_name(stage, 2)) for stage in Stage)
