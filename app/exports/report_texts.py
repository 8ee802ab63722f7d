# ruff: noqa: RUF001 - Armenian and Cyrillic letters and punctuation are meant
"""The words of the survivor's data report, per language the forms are read in.

Neutral like the consent receipt: a report found by the wrong person must not say what the paper is about,
so nothing here names the organisation, the conflict, a testimony or a place. The English is the source; the
Armenian and Russian are unreviewed drafts (REVIEWED lists the languages a native speaker has signed off),
and every page printed in them says so.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from app.consent.receipt_texts import SOURCE, pick

__all__ = ["REVIEWED", "SOURCE", "TEXTS", "texts_for"]

REVIEWED = frozenset({"en"})

_TEXTS: dict[str, dict[str, str]] = {
    "en": {
        "title": "Your information: what we keep and where it went",
        "date": "Date",
        "unreviewed": "This translation has not yet been checked by a native speaker.",
        "held": "What we keep about you",
        "held_none": "We keep nothing about you under these kinds.",
        "interviews": "Your interview and what you told us",
        "exports": "Where your information went",
        "exports_none": "Your information has not been given to anyone.",
        "who": "Who received it",
        "why": "Why",
        "what": "What",
        "how": "How",
        "court": "It was given to a court or similar proceedings. We cannot take it back from there; we can ask them.",
        "recall_open": "We are asking them to return or destroy it.",
        "recall_sent": "We asked them to return or destroy it on",
        "recall_done": "They confirmed that they returned or destroyed it.",
        "pending": "What we still have to tell you",
        "pending_approval": "That your information was given to someone",
        "pending_recall": "That we asked for your information back",
        "by": "By",
        "change": (
            "You can ask us at any time what we keep and where it went, change your mind about any use, or ask us "
            "to delete what we keep. Contact us and give your reference code and your code word."
        ),
    },
    "hy": {
        "title": "Ձեր տեղեկությունները՝ ինչ ենք պահում և ուր է այն գնացել",
        "date": "Ամսաթիվ",
        "unreviewed": "Այս թարգմանությունը դեռ չի ստուգվել մայրենի լեզվով խոսողի կողմից։",
        "held": "Ինչ ենք պահում Ձեր մասին",
        "held_none": "Այս տեսակներից ոչինչ չենք պահում Ձեր մասին։",
        "interviews": "Ձեր հարցազրույցը և այն, ինչ պատմել եք մեզ",
        "exports": "Ուր են գնացել Ձեր տեղեկությունները",
        "exports_none": "Ձեր տեղեկությունները ոչ մեկին չեն տրվել։",
        "who": "Ով է ստացել",
        "why": "Ինչու",
        "what": "Ինչ",
        "how": "Ինչպես",
        "court": (
            "Այն տրվել է դատարանի կամ նմանատիպ վարույթի։ Մենք չենք կարող այն այնտեղից հետ վերցնել, կարող ենք խնդրել։"
        ),
        "recall_open": "Մենք խնդրում ենք վերադարձնել կամ ոչնչացնել այն։",
        "recall_sent": "Մենք խնդրել ենք վերադարձնել կամ ոչնչացնել այն՝",
        "recall_done": "Նրանք հաստատել են, որ վերադարձրել կամ ոչնչացրել են այն։",
        "pending": "Ինչ դեռ պետք է ասենք Ձեզ",
        "pending_approval": "Որ Ձեր տեղեկությունները տրվել են ինչ-որ մեկին",
        "pending_recall": "Որ մենք խնդրել ենք հետ վերադարձնել Ձեր տեղեկությունները",
        "by": "Մինչև",
        "change": (
            "Դուք կարող եք ցանկացած պահի հարցնել, թե ինչ ենք պահում և ուր է այն գնացել, փոխել Ձեր որոշումը "
            "ցանկացած օգտագործման մասին կամ խնդրել ջնջել այն, ինչ պահում ենք։ Կապվեք մեզ հետ և տվեք Ձեր հղման "
            "կոդը և Ձեր գաղտնի բառը։"
        ),
    },
    "ru": {
        "title": "Ваша информация: что мы храним и куда она передана",
        "date": "Дата",
        "unreviewed": "Этот перевод ещё не проверен носителем языка.",
        "held": "Что мы храним о вас",
        "held_none": "Мы не храним о вас ничего из этих видов.",
        "interviews": "Ваше интервью и то, что вы нам рассказали",
        "exports": "Куда передана ваша информация",
        "exports_none": "Ваша информация никому не передавалась.",
        "who": "Кто получил",
        "why": "Зачем",
        "what": "Что",
        "how": "Как",
        "court": "Она передана в суд или подобное разбирательство. Забрать её оттуда мы не можем, но можем попросить.",
        "recall_open": "Мы просим вернуть или уничтожить её.",
        "recall_sent": "Мы попросили вернуть или уничтожить её",
        "recall_done": "Они подтвердили, что вернули или уничтожили её.",
        "pending": "Что мы ещё должны вам сообщить",
        "pending_approval": "Что ваша информация была кому-то передана",
        "pending_recall": "Что мы попросили вернуть вашу информацию",
        "by": "До",
        "change": (
            "Вы можете в любой момент спросить, что мы храним и куда это передано, передумать о любом "
            "использовании или попросить удалить то, что мы храним. Свяжитесь с нами и назовите ваш код и ваше "
            "кодовое слово."
        ),
    },
}

TEXTS: Mapping[str, Mapping[str, str]] = MappingProxyType({k: MappingProxyType(v) for k, v in _TEXTS.items()})


def texts_for(language: str) -> tuple[str, Mapping[str, str]]:
    """The language the report is printed in (the person's, or the source language) and its words."""
    return pick(TEXTS, language)
