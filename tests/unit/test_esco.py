"""ESCO's CSV as planning reads it (`services/planning/esco.py`) and the levels of a
competence analysis's skills (seed 000's four proficiency levels)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from services.planning.domain import Plan, PlanningError
from services.planning.esco import EscoFileError, language_of, read_concepts, read_file

DATA = Path(__file__).resolve().parents[1] / "data" / "esco"
SKILL = "http://data.europa.eu/esco/skill/7a1b2c3d-0000-4000-8000-000000000002"
OCCUPATION = "http://data.europa.eu/esco/occupation/5b3c2d1e-0000-4000-8000-000000000010"
HEADER = "conceptType,conceptUri,skillType,preferredLabel,altLabels\n"
NOW = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)


def test_the_portal_files_are_read_with_their_labels_and_kinds() -> None:
    skills = read_file(DATA / "skills_en.csv")
    occupations = read_file(DATA / "occupations_en.csv")

    first_aid = next(c for c in skills if c.uri == SKILL)
    assert first_aid.kind == "skill" and first_aid.detail == "skill/competence"
    assert first_aid.preferred == "provide first aid"
    assert first_aid.alternatives == ("administer first aid", "give first aid")
    # A quoted field over two lines: the next concept's line counts them.
    assert [c.line for c in skills] == [2, 4, 6, 8]
    assert {c.kind for c in occupations} == {"occupation"}
    assert occupations[0].detail == "3221"


def test_the_language_is_the_file_names_unless_given() -> None:
    assert language_of(Path("x/skills_nl.csv")) == "nl"
    assert language_of(Path("occupations_FR.csv")) == "fr"
    assert language_of(Path("whatever.csv"), "de") == "de"
    with pytest.raises(EscoFileError, match="language"):
        language_of(Path("skills.csv"))
    with pytest.raises(EscoFileError, match="language code"):
        language_of(Path("skills_en.csv"), "english")


@pytest.mark.parametrize(
    ("text", "line", "words"),
    [
        ("", None, "empty"),
        ("uri,label\nx,y\n", 1, "conceptType"),
        (HEADER + f"Skill,{SKILL},skill/competence,first aid,\n", 2, "conceptType 'Skill'"),
        (HEADER + f"Occupation,{SKILL},,first aid,\n", 2, "not an ESCO occupation URI"),
        (
            HEADER + f'KnowledgeSkillCompetence,{SKILL},,"a\nb",\n'
            "KnowledgeSkillCompetence,http://example.org/42,,juggle,\n",
            4,
            "not an ESCO skill URI",
        ),
        (HEADER + f"KnowledgeSkillCompetence,{SKILL},,  ,\n", 2, "preferredLabel is empty"),
        (HEADER + f"KnowledgeSkillCompetence,{SKILL},,aid,,extra\n", 2, "more fields"),
    ],
)
def test_a_bad_file_is_refused_naming_the_line(text: str, line: int | None, words: str) -> None:
    with pytest.raises(EscoFileError, match=words) as refused:
        list(read_concepts(text.splitlines(keepends=True)))
    assert refused.value.line == line
    if line is not None:
        assert str(refused.value).startswith(f"line {line}: ")


def test_the_bad_test_file_names_its_line() -> None:
    with pytest.raises(EscoFileError, match=r"^line 4: conceptUri 'http://example.org"):
        read_file(DATA / "bad_skills_en.csv")


def a_plan() -> Plan:
    import uuid

    return Plan.create(
        case_id=uuid.uuid4(),
        client_id=uuid.uuid4(),
        organisation="org-a",
        gaps=[],
        scores={},
        actor="c-1",
        at=NOW,
    )


def test_a_skill_carries_its_levels_and_the_target_its_occupation() -> None:
    plan = a_plan()
    item = {"text": "first aid", "esco_uri": SKILL, "self_level": 3, "counsellor_level": 2}

    plan.record_competence_analysis(
        career_target="nursing assistant",
        career_target_uri=OCCUPATION,
        strengths=[item],
        weaknesses=[],
        training_needs=[{"text": "Dutch B2", "esco_uri": None}],
        actor="c-1",
        at=NOW,
    )

    analysis = plan.competence_analysis_dict()
    assert analysis is not None
    assert analysis["career_target_uri"] == OCCUPATION
    assert analysis["strengths"] == [item]


@pytest.mark.parametrize(
    ("item", "target", "field"),
    [
        ({"text": "a", "esco_uri": SKILL, "self_level": 5}, None, "strengths.0.self_level"),
        ({"text": "a", "counsellor_level": 0}, None, "strengths.0.counsellor_level"),
        ({"text": "a", "self_level": True}, None, "strengths.0.self_level"),
        ({"text": "a", "esco_uri": OCCUPATION, "self_level": 2}, None, "strengths.0.self_level"),
        ({"text": "a"}, SKILL, "career_target_uri"),
    ],
)
def test_a_level_is_one_to_four_for_a_skill(
    item: dict[str, object], target: str | None, field: str
) -> None:
    plan = a_plan()
    with pytest.raises(PlanningError) as refused:
        plan.record_competence_analysis(
            career_target="nurse",
            career_target_uri=target,
            strengths=[item],
            weaknesses=[],
            training_needs=[],
            actor="c-1",
            at=NOW,
        )
    assert refused.value.field == field
    assert plan.competence_analysis is None
