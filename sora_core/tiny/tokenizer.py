"""The built-in model's tokenizer: a word-level `tokenizers` model over the world's vocabulary.

Word level, because the model can only know the words its world uses; anything else maps to
[UNK], which is exactly how the studio finds the words of a prompt that the model never learned.
"""

import re

import numpy as np
from tokenizers import Tokenizer, normalizers, pre_tokenizers
from tokenizers.models import WordLevel
from transformers import PreTrainedTokenizerFast

from ..world import vocab

PAD, UNK = "[PAD]", "[UNK]"
MAX_TOKENS = 40
COLOUR_OF = {word: colour for colour, words in vocab.COLOUR_WORDS.items() for word in words}
THING_WORDS = {word for words in [*vocab.OBJECT_WORDS.values(), *vocab.OBJECT_PLURALS.values()] for word in words}


def world_words() -> list[str]:
    """Every word any caption of the world can contain, sorted."""
    phrases: list[str] = []
    for table in (vocab.COLOUR_WORDS, vocab.OBJECT_WORDS, vocab.OBJECT_PLURALS, vocab.BACKGROUNDS,
                  vocab.MOTION_WORDS, vocab.THEN_WORDS, vocab.RELATION_WORDS, vocab.INTERACTION_WORDS,
                  vocab.COUNT_WORDS, vocab.STYLE_WORDS, vocab.COUNT_MOTION_WORDS):
        for options in table.values():
            phrases.extend(options)
    phrases += vocab.SEQUENCE_FORMS + ["a an the one it , :"]
    # count words add an "s" to the first verb of a plural phrase ("rise" -> "rises")
    phrases += [p.split()[0] + "s" for p in sum(vocab.COUNT_MOTION_WORDS.values(), [])]
    words = set()
    for phrase in phrases:
        words.update(w for w in split_words(phrase.replace("{s}", " ").replace("{a}", " ").replace("{b}", " ")))
    return sorted(words)


def split_words(text: str) -> list[str]:
    """The same split the tokenizer applies: lower case, words and punctuation apart."""
    return re.findall(r"\w+|[^\w\s]+", text.lower())


def build_tokenizer() -> PreTrainedTokenizerFast:
    words = [PAD, UNK] + world_words()
    model = WordLevel({w: i for i, w in enumerate(words)}, unk_token=UNK)
    tok = Tokenizer(model)
    tok.normalizer = normalizers.Sequence([normalizers.NFKC(), normalizers.Lowercase()])
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    # what every call of the pipeline asks for, set here so that a saved tokenizer.json records it whether
    # or not a call came first (a call sets them on the backend, and save_pretrained writes them)
    tok.enable_padding(pad_id=0, pad_token=PAD, length=MAX_TOKENS)
    tok.enable_truncation(max_length=MAX_TOKENS)
    return PreTrainedTokenizerFast(tokenizer_object=tok, pad_token=PAD, unk_token=UNK,
                                   model_max_length=MAX_TOKENS)


def unknown_words(tokenizer: PreTrainedTokenizerFast, text: str) -> list[str]:
    """The words of `text` that the tokenizer maps to [UNK], in order, without repeats."""
    vocabulary = tokenizer.get_vocab()
    seen: list[str] = []
    for word in split_words(text):
        if word not in vocabulary and word not in seen:
            seen.append(word)
    return seen


def naming_words(text: str) -> np.ndarray:
    """(MAX_TOKENS,) bool: the words of `text` that name a thing, a colour word and the object word after
    it ("a red ball", "three green cubes"; not "on a green field"). Word i is token i."""
    words = split_words(text)[:MAX_TOKENS]
    named = np.zeros(MAX_TOKENS, bool)
    for i in range(len(words) - 1):
        if words[i] in COLOUR_OF and words[i + 1] in THING_WORDS:
            named[i: i + 2] = True
    return named


def named_colours(text: str) -> dict[int, str]:
    """The colour each thing-naming word of `text` (`naming_words`) names: its own, or the colour word's
    before it (the object word's). Word i is token i."""
    words = split_words(text)[:MAX_TOKENS]
    return {int(i): COLOUR_OF.get(words[i], COLOUR_OF.get(words[i - 1])) for i in np.flatnonzero(naming_words(text))}


def layout_fits(text: str, sequences: bool = False) -> bool:
    """Whether the layout (TinyVideoUNet's layout_channels) can say where `text`'s things go: it names a
    thing (`naming_words`) and is no sequence, unless the layout holds `sequences` (layout_sequences). A
    sequence ("rolls right, then jumps") asks for two motions, which four keyframes cannot hold."""
    return bool(naming_words(text).any()) and (sequences or "then" not in split_words(text))
