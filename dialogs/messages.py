"""Every content id the code relies on, in one place: the contract content/ must keep.

Questions and options the code asks or branches on by id, the messages it says, the controls it
shows, and the other English strings it reads. load_content checks content against CONTRACT when
the app starts, so a renamed id stops the app with the file, line and fix, instead of misfiling
a child's answers later. tests/test_content.py keeps these lists in step with the code.

Plain data: storage/ reads it without importing the dialogs, and it imports no botbuilder.
"""

from storage.content import ContentContract, QuestionNeed

# Flow questions (under `questions:` in consultation.yaml) that the code reads by id. The rest
# of the flow is data; so are these questions' options.
FLOW_QUESTIONS: dict[str, QuestionNeed] = {
    "language": QuestionNeed("language", "its answer is the chat's language"),
    "name": QuestionNeed("text", "the bot calls the child by it, and the IRO's summary shows it"),
    "pronouns": QuestionNeed(
        "single",
        "the IRO's summary shows it as their pronouns; Arabic addresses a girl or a boy by it",
        options=("she_her", "he_him"),
    ),
    "pronouns_other": QuestionNeed(
        "text", "the IRO's summary shows it as their pronouns, in their own words"
    ),
    "take_part": QuestionNeed(
        "single",
        "the IRO's summary takes the participation code from its options, and an advocate "
        "to arrange from 'with_advocate'",
        ("with_advocate",),
    ),
    "my_words": QuestionNeed(
        "text", "the IRO's summary shows it as the words they want people to use"
    ),
    "interpreter": QuestionNeed(
        "single",
        "the IRO's action box asks for an interpreter to be booked",
        ("yes_chat_language", "yes_other", "no"),
    ),
    "interpreter_language": QuestionNeed(
        "single",
        "the IRO's action box names the interpreter's language, or asks for it typed after "
        "'another_language'",
        ("another_language",),
    ),
    "interpreter_language_other": QuestionNeed(
        "text", "the IRO's action box names the interpreter's language in the child's words"
    ),
    "interpreter_prefs": QuestionNeed(
        "multi",
        "the IRO's action box says who to book as the interpreter",
        ("woman", "man", "not_my_community"),
    ),
    "interpreter_dialect": QuestionNeed("text", "the IRO's action box names the dialect"),
    "talk_to_iro": QuestionNeed("yesno", "the IRO's action box asks them to call the child"),
    "advocate": QuestionNeed("yesno", "the IRO's action box asks for an advocate"),
    "who_not_there": QuestionNeed("text", "the IRO's action box lists who must not come"),
    "not_discussed": QuestionNeed("text", "the IRO's action box lists what not to discuss"),
    "topic_say": QuestionNeed(
        "text",
        "the IRO's action box asks about each topic where the child tapped 'not good'",
        ("not_good",),
    ),
}

# Questions the code asks about the consultation itself (under `system_questions:`), with every
# option it branches on. None can be skipped: no step has a path for a skip.
SYSTEM_QUESTIONS: dict[str, QuestionNeed] = {
    "invite_code": QuestionNeed("text", "it links the chat to a review", essential=True),
    "which_answer": QuestionNeed("text", "it asks which answer to change", essential=True),
    "share_all": QuestionNeed(
        "single",
        "it decides who may hear every written answer",
        ("all_everyone", "all_iro", "choose"),
        essential=True,
    ),
    "share_one": QuestionNeed(
        "single", "it decides who may hear one written answer", ("everyone", "iro"), essential=True
    ),
    "send_confirm": QuestionNeed(
        "single",
        "asked under the list of answers: the summary is sent only on 'send'; 'change' asks "
        "which answer",
        ("send", "change", "not_yet"),
        essential=True,
    ),
    "welcome_back_sent": QuestionNeed(
        "single",
        "it asks a child who already sent whether to change anything",
        ("change", "no_thanks"),
        essential=True,
    ),
    "restart_confirm": QuestionNeed(
        "yesno", "answers are cleared only after a yes", essential=True
    ),
    "carry_confirm": QuestionNeed(
        "single",
        "at the same child's next review, what they told us last time is stored on 'keep'; "
        "'change' asks the question itself",
        ("keep", "change"),
        essential=True,
    ),
    "safety_check": QuestionNeed(
        "single",
        "the gentle check after a message the screen was unsure of: 'unsafe' raises an urgent "
        "alert with the help; 'ok' brings the question back",
        ("unsafe", "ok"),
        essential=True,
    ),
}

# The messages.<id> the code says.
MESSAGE_IDS: tuple[str, ...] = (
    "welcome",
    "welcome_what",
    "welcome_rules",
    "code_wrong",
    "code_expired",
    "code_paused",
    "code_busy",
    "code_used_up",
    "code_too_many_devices",
    "linked",
    "linked_place",
    "linked_again",
    "linked_other_device",
    "limited_done",
    "limited_no_change",
    "other_device_linked",
    "device_closed",
    "web_chat_reopened",
    "help",
    "stale_card",
    "not_understood",
    "not_understood_multi",
    "not_understood_yesno",
    "not_understood_tap",
    "not_understood_multi_tap",
    "too_long",
    "empty_text",
    "media_picture",
    "media_voice",
    "media_file",
    "skipped",
    "cannot_skip",
    "back_at_start",
    "paused",
    "paused_unlinked",
    "welcome_back",
    "talk_to_someone",
    "talk_to_someone_unlinked",
    "talk_to_advocacy",
    "language_changed",
    "restarted",
    "restart_cancelled",
    "check_intro",
    "not_translated_yet",
    "answer_skipped",
    "answer_not_sure",
    "answer_any",
    "answer_picture",
    "answer_voice",
    "answer_file",
    "which_answer_wrong",
    "answer_changed",
    "got_it",
    "worry_not_read_out",
    "none_ticked",
    "check_about_me",
    "check_meeting",
    "check_talk",
    "sent",
    "sent_updated",
    "not_yet",
    "edit_closed",
    "no_thanks",
    "error",
    "safeguarding_thanks",
    "safeguarding_help",
    "safeguarding_tell_iro",
    "safeguarding_tell_duty",
    "carry_on",
    "safeguarding_when_today",
    "safeguarding_when_one_day",
    "safeguarding_when_two_days",
    "safeguarding_added_iro",
    "safeguarding_added_duty",
    "after_worry_secret",
    "after_worry_not_true",
    "after_worry_who",
    "safety_check_ok_iro",
    "safety_check_ok_duty",
    "list_separator",
    "type_hint",
    "burst_added",
    "burst_next",
    # Told outside a turn when staff change the review (bot/notices.py).
    "notice_moved",
    "notice_moved_place",
    "notice_cancelled",
    "notice_new_iro",
    "notice_read",
)

# controls.<id>.label: every button the code shows (submit and answered label cards).
CONTROL_IDS: tuple[str, ...] = (
    "help",
    "back",
    "skip",
    "language",
    "pause",
    "restart",
    "repeat",
    "talk",
    "submit",
    "answered",
)

# controls.<id>.synonyms: the controls that also work when typed. Without its synonyms a
# control would quietly stop working for a child who types.
TYPED_CONTROL_IDS: tuple[str, ...] = (
    "help",
    "back",
    "skip",
    "language",
    "pause",
    "restart",
    "talk",
)

# Other English keys the code reads: the buttons of every yes/no question.
STRINGS: tuple[str, ...] = (
    "choice_yes.label",
    "choice_yes.synonyms",
    "choice_no.label",
    "choice_no.synonyms",
    # "OK", "ready": after the help, ready for the question rather than answering it.
    "ready.synonyms",
    # "Hi", "pershendetje": coming back, never an answer.
    "greetings.synonyms",
    # "idk", "whatever", "nah": what a shrug or a no means, whatever the question.
    "meanings.not_sure.synonyms",
    "meanings.any.synonyms",
    "meanings.nothing.synonyms",
    # "not", "dont": a label just after one is not chosen ("i dont want to speak for myself").
    "negations.synonyms",
    # "1 question", "3 questions": counted nouns, by the language's plural rules.
    "plurals.questions.one",
    "plurals.questions.other",
    # The printable invite card and the text to forward (bot/invite_card.py).
    "card.title",
    "card.hello",
    "card.scan",
    "card.or_type",
    "card.valid_until",
    "card.help",
    "card.forward",
)

CONTRACT = ContentContract(
    questions=FLOW_QUESTIONS,
    system_questions=SYSTEM_QUESTIONS,
    messages=MESSAGE_IDS,
    controls=CONTROL_IDS,
    typed_controls=TYPED_CONTROL_IDS,
    strings=STRINGS,
)
