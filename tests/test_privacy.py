"""Nothing a child wrote, their name or their invite code reaches the logs."""

import logging

from bot import logs


async def test_logs_hold_no_child_words_names_or_codes(new_chat, new_review, parts, capfd):
    logs.configure("DEBUG")  # as `myreview serve` does, at its most talkative
    try:
        review, code = await new_review(first_name="Zephyrine")
        chat = new_chat("msteams")
        await chat.start()
        await chat.say("WRNG-CODE")
        await chat.say(code)
        await chat.pick("English")
        await chat.say("Sunflower-Name")
        await chat.say("x" * 1200)
        await chat.post(chat.activity(text="Sunflower-Name", activity_id="dup"))
        await chat.post(chat.activity(text="Sunflower-Name", activity_id="dup"))
        err = capfd.readouterr().err
    finally:
        logging.getLogger().handlers.clear()
    assert "duplicate activity ignored" in err  # the logs do speak
    for secret in ("Zephyrine", "Sunflower-Name", code, code.replace("-", ""), "WRNG", "x" * 50):
        assert secret not in err
