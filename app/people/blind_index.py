"""Blind index for the duplicate check: one Latin key per name, then an HMAC over it.

The same person reaches us written in Armenian, in Russian-style Cyrillic and in several Latin
spellings, so the index is taken over a normalised key rather than the text as typed. The
normalisation is part of the stored data: any change to it must bump NORMALISATION_VERSION and
rebuild the index, because keys made under the old rules no longer meet keys made under the new.

Scheme, version 1:

1. Unicode NFKC, then casefold (this also opens ligatures such as the Armenian ech-yiwn).
2. Transliterate Armenian with Eastern Armenian values and Cyrillic with Russian values into Latin.
   Armenian ու is u, ե at the start of a word is ye, ո at the start of a word is vo, ւ elsewhere
   is v (so the ech-yiwn ligature reads yev/ev); խ and х are kh, ղ is gh, ձ is dz, ջ is j, ծ ց and
   ц are ts, ճ չ and ч are ch, ը is e. Cyrillic ё is e, because Russian usually prints ё as е; ь
   and ъ are y before a vowel and nothing elsewhere; ы is i; щ is shch.
3. Latin letters lose their diacritics, except that š č ž (caron), ş ç (cedilla) and ğ keep their
   sound as sh, ch, zh, gh; ə is a and ı is i (Azerbaijani). Apostrophes, the Armenian emphasis and
   question marks, invisible format characters and letters of other scripts are dropped; every
   other character (spaces, hyphens, dots, digits, punctuation) separates words.
4. Each word is folded, repeating the rules below until nothing changes:
   - Latin spelling conventions: x is ks, ph is f, c is s before e/i/y and k elsewhere, q is k,
     w is v, dzh and dj are j, French ou is u, German -jan and old Armenian -ean endings are -yan.
   - h is dropped unless it forms kh, sh, ch or zh. Russian has no /h/ and writes Акопян for
     Hakobyan and Ованнисян for Hovhannisyan; this also absorbs gh/g and th/t.
   - i and y before a vowel are one glide y (-ian, -iyev, -ia become -yan, -yev, -ya); y before e
     is dropped at the start of a word and after a vowel (Yerevan/Ереван, Mikayelyan/Микаелян);
     any other y is i (Hayk/Haik/Айк, Sergey/Sergei, Dmitriy/Dmitri).
   - The last vowel of a -yan stem, i or u between consonants, is dropped: Armenian drops it when
     the suffix is added while Russian and older spellings keep it (Sargis: Sargsyan/Саркисян,
     Mkrtich: Mkrtchyan/Мкртичян, Khachatur: Khachatryan/Хачатурян).
   - Voicing of stops and affricates is not distinguished: b/p, d/t, g/k, dz/ts, j/ch. Western
     Armenian and the Russian forms of many names swap it (Hakob/Акоп, Gevorgyan/Kevorkian,
     Petrosyan/Bedrosian, Vardanyan/Vartanian).
   - Repeated letters are single (Petrossian, Hovhannisyan/Ованнисян).
5. Words are sorted and joined by single spaces, so the order of the name parts does not matter.

The index is HMAC-SHA256, keyed with the blind-index key derived from the root key, over
"v1|<normalised name>|<year of birth or ->" in ASCII, as lowercase hex.

Known limits. Folding is deliberately broad, since a false match only creates a review item for
a custodian while a miss lets a duplicate through; it still joins some distinct names (Babayan and
Papayan meet) and misses others: Russian г or х for Armenian h (Оганесян, Шахназарян, Мгер),
stem vowels other than i/u (Hovhannesyan vs Hovhannisyan), Russian ё spelt yo in Latin (Artyom),
run-together prefixes (Terpetrosyan vs Ter-Petrosyan), patronymics, Russian gendered endings
(Aliev vs Alieva), and names written only in scripts other than Latin, Cyrillic and Armenian,
which normalise to nothing and cannot be indexed.
"""

# The docstring quotes single Cyrillic and Armenian letters that look Latin, on purpose.
# ruff: noqa: RUF002

from __future__ import annotations

import hashlib
import hmac
import re
import unicodedata

NORMALISATION_VERSION = 1

# Derived keys are 32 bytes (HKDF-SHA256); anything shorter is a wiring mistake, and a weak key
# would let anyone holding the table test guessed names.
MIN_KEY_BYTES = 32

_EMPTY_NAME = "name has no indexable letters after normalisation"


def _letters(prefix: str, table: dict[str, str]) -> dict[str, str]:
    # Named rather than literal letters: Cyrillic and Armenian glyphs that look like Latin ones
    # make a literal table unreadable and easy to get wrong.
    return {unicodedata.lookup(f"{prefix} {name}"): latin for name, latin in table.items()}


_ARMENIAN = _letters(
    "ARMENIAN SMALL LETTER",
    {
        "AYB": "a", "BEN": "b", "GIM": "g", "DA": "d", "ECH": "e", "ZA": "z", "EH": "e", "ET": "e",
        "TO": "t", "ZHE": "zh", "INI": "i", "LIWN": "l", "XEH": "kh", "CA": "ts", "KEN": "k",
        "HO": "h", "JA": "dz", "GHAD": "gh", "CHEH": "ch", "MEN": "m", "YI": "y", "NOW": "n",
        "SHA": "sh", "VO": "o", "CHA": "ch", "PEH": "p", "JHEH": "j", "RA": "r", "SEH": "s",
        "VEW": "v", "TIWN": "t", "REH": "r", "CO": "ts", "YIWN": "v", "PIWR": "p", "KEH": "k",
        "OH": "o", "FEH": "f",
    },
)  # fmt: skip

_CYRILLIC = _letters(
    "CYRILLIC SMALL LETTER",
    {
        "A": "a", "BE": "b", "VE": "v", "GHE": "g", "DE": "d", "IE": "e", "IO": "e", "ZHE": "zh",
        "ZE": "z", "I": "i", "SHORT I": "y", "KA": "k", "EL": "l", "EM": "m", "EN": "n", "O": "o",
        "PE": "p", "ER": "r", "ES": "s", "TE": "t", "U": "u", "EF": "f", "HA": "kh", "TSE": "ts",
        "CHE": "ch", "SHA": "sh", "SHCHA": "shch", "YERU": "i", "E": "e", "YU": "yu", "YA": "ya",
        # Ukrainian, Belarusian and Azerbaijani Cyrillic, which some older documents use.
        "BYELORUSSIAN-UKRAINIAN I": "i", "YI": "yi", "UKRAINIAN IE": "ye", "GHE WITH UPTURN": "g",
        "SHORT U": "u", "SCHWA": "a", "GHE WITH STROKE": "gh", "KA WITH DESCENDER": "k",
        "BARRED O": "o", "STRAIGHT U": "u", "SHHA": "h", "JE": "y",
    },
)  # fmt: skip

_SIGNS = frozenset(_letters("CYRILLIC SMALL LETTER", {"SOFT SIGN": "", "HARD SIGN": ""}))
_CYRILLIC_VOWELS = frozenset(c for c, latin in _CYRILLIC.items() if latin[-1] in "aeiou")
_SCRIPT_LETTERS = _ARMENIAN | _CYRILLIC

_ARM_ECH, _ARM_VO, _ARM_YIWN = (unicodedata.lookup(f"ARMENIAN SMALL LETTER {n}") for n in ("ECH", "VO", "YIWN"))
_WORD_INITIAL = {_ARM_ECH: "ye", _ARM_VO: "vo"}

_LATIN_EXTRA = {
    "\N{LATIN SMALL LETTER DOTLESS I}": "i",
    "\N{LATIN SMALL LETTER SCHWA}": "a",
    "\N{LATIN SMALL LETTER O WITH STROKE}": "o",
    "\N{LATIN SMALL LETTER AE}": "ae",
    "\N{LATIN SMALL LIGATURE OE}": "oe",
    "\N{LATIN SMALL LETTER L WITH STROKE}": "l",
    "\N{LATIN SMALL LETTER D WITH STROKE}": "d",
    "\N{LATIN SMALL LETTER ETH}": "d",
    "\N{LATIN SMALL LETTER THORN}": "th",
    "\N{LATIN SMALL LETTER ENG}": "n",
    "\N{LATIN SMALL LETTER H WITH STROKE}": "h",
}

_CARON, _CEDILLA, _BREVE = "\N{COMBINING CARON}", "\N{COMBINING CEDILLA}", "\N{COMBINING BREVE}"
_MARKED = {
    ("s", _CARON): "sh",
    ("c", _CARON): "ch",
    ("z", _CARON): "zh",
    ("g", _CARON): "gh",
    ("s", _CEDILLA): "sh",
    ("c", _CEDILLA): "ch",
    ("g", _BREVE): "gh",
}

# Dropped inside a word, so T'adevosyan and Tadevosyan meet.
_JOINERS = frozenset(
    "'`\N{ACUTE ACCENT}\N{LEFT SINGLE QUOTATION MARK}\N{RIGHT SINGLE QUOTATION MARK}"
    "\N{MODIFIER LETTER PRIME}\N{MODIFIER LETTER TURNED COMMA}\N{MODIFIER LETTER APOSTROPHE}"
    "\N{MODIFIER LETTER REVERSED COMMA}\N{MODIFIER LETTER RIGHT HALF RING}\N{MODIFIER LETTER LEFT HALF RING}"
    "\N{ARMENIAN APOSTROPHE}\N{ARMENIAN EMPHASIS MARK}\N{ARMENIAN EXCLAMATION MARK}\N{ARMENIAN QUESTION MARK}"
)

_DEVOICED = {"dz": "ts", "b": "p", "d": "t", "g": "k", "j": "ch"}

# Order matters within a pass: spellings before h-dropping, and h-dropping before devoicing so
# that gh is not read as kh. A later rule can open a context for an earlier one (merging the
# doubled s of Sarkissian exposes its stem vowel), hence the repeated passes in _fold_word.
_FOLDS: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern), replacement)
    for pattern, replacement in (
        ("x", "ks"),
        ("ph", "f"),
        ("c(?=[eiy])", "s"),
        ("c(?!h)", "k"),
        ("q", "k"),
        ("w", "v"),
        ("dzh|dj", "j"),
        ("ou", "u"),
        ("(?<![cksz])h", ""),
        ("jan$", "yan"),
        ("(?<=[^aeiouy])ean$", "yan"),
        ("[iy]+(?=[aeou])", "y"),
        ("(?<![^aeou])y(?=e)", ""),
        ("y(?![aeou])", "i"),
        ("(?<=[^aeiouy])[iu](?=(?:tch|ch|sh|zh|kh|ts|[^aeiouy])yan$)", ""),
    )
)
_DEVOICE = re.compile("dz|[bdgj]")
_REPEATS = re.compile(r"([a-z])\1+")


def normalize_name(name: str) -> str:
    """The name's Latin key (see the module docstring); empty when nothing indexable is left."""
    text = unicodedata.normalize("NFKC", name).casefold()
    words = _latinise(_transliterate(text)).split()
    return " ".join(sorted(word for word in map(_fold_word, words) if word))


def blind_index(key: bytes, name: str, year_of_birth: int | None) -> str:
    """Hex HMAC-SHA256 over the normalised name and year of birth, for exact-match duplicate checks."""
    # Messages never echo the name or year: exceptions end up in logs.
    if len(key) < MIN_KEY_BYTES:
        raise ValueError(f"blind-index key must be at least {MIN_KEY_BYTES} bytes")
    if year_of_birth is not None and (isinstance(year_of_birth, bool) or year_of_birth < 0):
        raise ValueError("year of birth must be a non-negative integer or None")
    normalized = normalize_name(name)
    if not normalized:
        raise ValueError(_EMPTY_NAME)
    year = "-" if year_of_birth is None else str(year_of_birth)
    message = f"v{NORMALISATION_VERSION}|{normalized}|{year}".encode("ascii")
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def _transliterate(text: str) -> str:
    out: list[str] = []
    skip_next = False
    for i, char in enumerate(text):
        if skip_next:
            skip_next = False
            continue
        following = text[i + 1] if i + 1 < len(text) else ""
        if char == _ARM_VO and following == _ARM_YIWN:
            out.append("u")
            skip_next = True
        elif char in _WORD_INITIAL and (i == 0 or not _in_word(text[i - 1])):
            out.append(_WORD_INITIAL[char])
        elif char in _SIGNS:
            out.append("y" if following in _CYRILLIC_VOWELS else "")
        elif char in _SCRIPT_LETTERS:
            out.append(_SCRIPT_LETTERS[char])
        else:
            # A precomposed letter outside the tables (e.g. Udmurt ӥ) still reads as its base.
            out.append(_SCRIPT_LETTERS.get(unicodedata.normalize("NFD", char)[0], char))
    return "".join(out)


def _in_word(char: str) -> bool:
    return unicodedata.category(char)[0] in "LM"


def _latinise(text: str) -> str:
    out: list[str] = []
    for char in unicodedata.normalize("NFD", text):
        if "a" <= char <= "z":
            out.append(char)
        elif char in _LATIN_EXTRA:
            out.append(_LATIN_EXTRA[char])
        elif unicodedata.category(char)[0] == "M":
            if out and (out[-1], char) in _MARKED:
                out[-1] = _MARKED[out[-1], char]
        elif char in _JOINERS or unicodedata.category(char)[0] == "L" or unicodedata.category(char) == "Cf":
            # Letters of scripts we do not read are dropped rather than split a word, so that
            # case mapping (which can turn a mark into a letter) cannot move a word boundary.
            continue
        else:
            out.append(" ")
    return "".join(out)


def _fold_word(word: str) -> str:
    # No rule brings back what another removes (x, c, q, w, b, d, g, j and a stray h never
    # return), so this settles within a few passes; the tests check idempotence.
    while True:
        folded = word
        for pattern, replacement in _FOLDS:
            folded = pattern.sub(replacement, folded)
        folded = _DEVOICE.sub(lambda match: _DEVOICED[match[0]], folded)
        folded = _REPEATS.sub(r"\1", folded)
        if folded == word:
            return word
        word = folded
