async def test_welcome_and_code(new_chat, new_review, parts):
    review, code = await new_review()
    chat = new_chat("msteams")
    said = await chat.start()
    assert "not a person" in said
    assert "code" in said
    said = await chat.say("WRONG-CODE")
    assert "didn't work" in said
    said = await chat.say(code.lower())
    print(said)
    assert "Sam" in said
    said = await chat.pick("English")
    print(said)
