"""Numbered lines: the items of a listicle or a list, told from paragraphs that open with a date."""

from __future__ import annotations

from coiassist.sentences import numbered_items


def test_numbered_lines_are_the_items_by_number() -> None:
    text = (
        "Vi stiller skarpt på fire af vores 'takeaways'.\n\n"
        "1. Åbningstale ved Social- og Indenrigsminister Astrid Krag (S)\n\n"
        "Som repræsentant for regeringen reflekterede ministeren over nærhed.\n"
        "  2) COI’s temaspor: Når politikere og bureaukrater sammen giver offentlig innovation flyvehøjde.\n"
        "27. februar summede Øksnehallen med energi fra 500+ velfærdsinnovatører, der kom fra hele landet "
        "for at høre om nærhed, velfærd og innovation i kommuner, regioner og stat.\n"
        "1. Gentaget punkt\n"
    )
    assert numbered_items(text) == {
        1: "Åbningstale ved Social- og Indenrigsminister Astrid Krag (S)",
        2: "COI’s temaspor: Når politikere og bureaukrater sammen giver offentlig innovation flyvehøjde.",
    }


def test_text_without_numbered_lines_has_no_items() -> None:
    assert numbered_items("Det er 4 takeaways. 1. gang i år.\nI 2019 vant Region Syddanmark.") == {}
