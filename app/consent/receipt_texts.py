# ruff: noqa: RUF001 - Armenian and Cyrillic letters and punctuation are meant
"""The words of the printable receipt, per language the forms are read in.

Neutral on purpose: a receipt found by the wrong person must not say what the paper is about, so nothing
here names the organisation, the conflict, a testimony or a place. The English is the source; the Armenian
and Russian are unreviewed drafts (REVIEWED lists the languages a native speaker has signed off), to be
reviewed like a consent form's translation before a deployment prints them.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

SOURCE = "en"
REVIEWED = frozenset({"en"})

_TEXTS: dict[str, dict[str, str]] = {
    "en": {
        "title": "Your choices",
        "date": "Date",
        "uses": "You agreed to these uses",
        "no_uses": "You agreed to no use.",
        "who": "Who may receive it",
        "what": "What",
        "how": "How",
        "until": "Until",
        "until_changed": "Until you change your mind",
        "taken_back": "You took these back",
        "refused": "You said no to these",
        "code": "Reference code",
        "code_blank": "Write your reference code here:",
        "change": (
            "You can change your mind at any time, about one use or all of them. Contact us and give your "
            "reference code and your code word. You do not need to give a reason."
        ),
        "keep_safe": "Keep this paper somewhere safe, or destroy it once you remember the code.",
    },
    "hy": {
        "title": "Ձեր ընտրությունները",
        "date": "Ամսաթիվ",
        "uses": "Դուք համաձայնել եք հետևյալ օգտագործումներին",
        "no_uses": "Դուք որևէ օգտագործման չեք համաձայնել։",
        "who": "Ով կարող է ստանալ",
        "what": "Ինչ",
        "how": "Ինչպես",
        "until": "Մինչև",
        "until_changed": "Մինչև Դուք փոխեք Ձեր որոշումը",
        "taken_back": "Դուք հետ եք վերցրել սրանք",
        "refused": "Դուք «ոչ» եք ասել սրանց",
        "code": "Հղման կոդ",
        "code_blank": "Գրեք Ձեր հղման կոդն այստեղ՝",
        "change": (
            "Դուք կարող եք ցանկացած պահի փոխել Ձեր որոշումը՝ մեկ կամ բոլոր օգտագործումների մասին։ Կապվեք մեզ "
            "հետ և տվեք Ձեր հղման կոդը և Ձեր գաղտնի բառը։ Պատճառ նշել պետք չէ։"
        ),
        "keep_safe": "Պահեք այս թուղթն ապահով տեղում կամ ոչնչացրեք այն, երբ կոդը հիշեք։",
    },
    "ru": {
        "title": "Ваши решения",
        "date": "Дата",
        "uses": "Вы согласились на такое использование",
        "no_uses": "Вы не согласились ни на какое использование.",
        "who": "Кто может получить",
        "what": "Что",
        "how": "Как",
        "until": "До",
        "until_changed": "Пока вы не передумаете",
        "taken_back": "Вы отозвали это",
        "refused": "Вы отказались от этого",
        "code": "Код",
        "code_blank": "Впишите сюда ваш код:",
        "change": (
            "Вы можете передумать в любой момент — об одном использовании или обо всех. Свяжитесь с нами и "
            "назовите ваш код и ваше кодовое слово. Объяснять причину не нужно."
        ),
        "keep_safe": "Храните эту бумагу в надёжном месте или уничтожьте её, когда запомните код.",
    },
}

TEXTS: Mapping[str, Mapping[str, str]] = MappingProxyType({k: MappingProxyType(v) for k, v in _TEXTS.items()})


def pick(table: Mapping[str, Mapping[str, str]], language: str) -> tuple[str, Mapping[str, str]]:
    """The language a page for the survivor is printed in (theirs, or the source language) and its words."""
    chosen = language if language in table else SOURCE
    return chosen, table[chosen]


def texts_for(language: str) -> tuple[str, Mapping[str, str]]:
    """The language the receipt is printed in (the record's, or the source language) and its words."""
    return pick(TEXTS, language)
