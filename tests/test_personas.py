"""Issue 7's three young people, from hello to Send: what the consultation asks of each.

Limits: for 8-12, at most 15 prompts and 600 words to read before Send; for 13+, 22 prompts;
on the easy path (the youngest, or a review marked easy read), no prompt over 10 words and
nothing to type but the invite code. `make bench` prints the same figures.
"""

from __future__ import annotations

import pytest

from tests.consult import answers_of
from tests.personas import PERSONAS, Persona, as_meant, run_persona


@pytest.mark.parametrize("persona", PERSONAS, ids=[p.name for p in PERSONAS])
async def test_each_young_person_reaches_send_within_their_limits(
    persona: Persona, parts, new_review, new_chat
):
    review, code = await new_review(**persona.review_fields())
    chat = new_chat(persona.channel)
    figures = await run_persona(persona, parts, chat, code)
    print(f"{persona.name}: {figures.line()}\n  asked: {', '.join(figures.asked)}")
    stored = await parts.repos.reviews.get(review_id=review.id)
    assert stored is not None and stored.submitted_at is not None, "the answers were sent"
    # What the IRO reads is what they meant ("idk" is not sure, "لا" is no, not the word).
    _, _, wrong = as_meant(persona, await answers_of(parts, review.id))
    assert wrong == [], "\n---\n".join(figures.transcript)
    assert figures.prompts <= persona.max_prompts, figures.asked
    if persona.max_words is not None:
        assert figures.words <= persona.max_words
    assert figures.not_understood == 0, "\n---\n".join(figures.transcript)
    if persona.max_prompt_words is not None:
        long = [
            (key, n)
            for key, n in zip(figures.asked, figures.prompt_words, strict=True)
            if n > persona.max_prompt_words
        ]
        assert long == [], "prompts too long for the easy path"
    if persona.max_typed is not None:
        assert figures.typed <= persona.max_typed, "\n---\n".join(figures.transcript)
