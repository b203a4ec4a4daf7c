"""Template signatures: MinHash of an ad's text with its variable parts masked, and LSH keys.

    text, masks ──> words ──> shingles ──> MinHash (datasketch) ──> TemplateSignature
                     │         3-word        64 values, affine32,        │
                     │         runs          fixed seed                  ├─ band_keys: 8 keys
                     └─ fewer than 8 words: no signature                 └─ similarity: Ĵ

Words. The masked spans (phones, names, places, ages, prices, contacts: `facts.ad_masks`)
become placeholders ("{name}", "{place}", "{num}"); the rest is lower-cased and split into
runs of letters (apostrophes inside words kept), runs of digits and single emoji, while
punctuation and white space only separate words. Every digit run becomes "{num}", and
consecutive "{num}" collapse into one, so "call 702 555 0101", "call (702) 555-0101" and a
masked phone all read "call {num}". A template reused with another phone, name, city,
price or age therefore gives the same words.

Shingles are runs of ``shingle_words`` (3) words. Measured on the synthetic stream (2,800
unrelated ads, 20,000 pairs; rings of one template under 5 names, cities, ages, prices and
phones): with masks every template pair has Jaccard 1.0 for 1-, 2- and 3-word shingles and
5-character shingles alike, while the share of unrelated pairs at J ≥ 0.5 is lowest with
3-word shingles (4 pairs, against 7 with 2-word, 17 with characters, 62 with single words).
Without masks a changed name and city cost a 35-word template up to 0.35 of its 3-word
Jaccard (min 0.65), which is why the masks matter more than the shingle size.

Short texts. A text with fewer than ``template_min_words`` (8) words, placeholders not
counted, gets no signature: "call me {num}" or "new in town, text {num}" are written
independently by countless posters, so such texts would put unrelated phones into one
template. There is no fall-back to smaller shingles: 8 words still give 6 shingles, so a
match requires nearly the whole text, and smaller shingles would make short generic texts
match more often, not less.

Stable across processes: the shingles are hashed with SHA-1 (datasketch's ``sha1_hash32``)
and permuted with the fixed ``seed``, and band keys hash with BLAKE2b, never with Python's
salted ``hash()``. `TemplateSignature` serializes its values as base64 of little-endian
uint32 (about 5.3 characters per value instead of 11 for decimal integers) and reads both
forms back.
"""

from __future__ import annotations

import base64
import hashlib
import re
import struct
from collections.abc import Iterable, Sequence
from functools import cache
from typing import Annotated, Any, Final

import numpy as np
from datasketch import MinHash
from datasketch.hashfunc import sha1_hash32
from pydantic import (
    BaseModel,
    ConfigDict,
    PlainSerializer,
    PlainValidator,
    TypeAdapter,
    ValidationError,
    WithJsonSchema,
)

from pipeline.linking.config import LinkConfig
from pipeline.linking.facts import NUMBER, Mask, ad_masks
from schemas import EnrichedAd

SCHEME: Final = "affine32"
_MAX_VALUE: Final = (1 << 32) - 1
_WORD = re.compile(
    r"[^\W\d_]+(?:'[^\W\d_]+)*"  # letters, with inner apostrophes ("i'm")
    r"|\d+"
    r"|[\u2600-\u27bf\U0001f000-\U0001faff]",  # emoji and pictographs, one word each
)
_INTEGERS: Final = TypeAdapter(tuple[int, ...])


def _hash_values(value: Any) -> tuple[int, ...]:
    """Hash values from base64 of little-endian uint32 (what we write) or a list of integers.

    Every hop of a trip through the link keys parses the signatures the trip carries (its
    own and one per band passed), about 37 per ad: `struct` decodes the 64 values at once,
    where the generic path (base64 -> numpy -> int by int, then pydantic on each int) took
    3.5 times as long (docs/performance.md). A list, the older decimal form, goes the
    generic way, so it is read exactly as before.
    """
    if isinstance(value, str):
        try:
            raw = base64.b64decode(value, validate=True)
        except ValueError as e:
            raise ValueError(f"hashvalues: not base64 ({e})") from e
        if len(raw) % 4:
            raise ValueError("hashvalues: base64 length is not a multiple of 4 bytes")
        values: tuple[int, ...] = struct.unpack(f"<{len(raw) // 4}I", raw)  # uint32 always
    else:
        try:
            values = _INTEGERS.validate_python(value)
        except ValidationError as e:
            raise ValueError(f"hashvalues must be integers ({e.errors()[0]['msg']})") from e
        if any(v < 0 or v > _MAX_VALUE for v in values):
            raise ValueError("hashvalues must be unsigned 32-bit integers")
    if not values:
        raise ValueError("hashvalues must not be empty")
    return values


def _values_to_json(values: tuple[int, ...]) -> str:
    return base64.b64encode(struct.pack(f"<{len(values)}I", *values)).decode("ascii")


HashValues = Annotated[
    tuple[int, ...],
    PlainValidator(_hash_values),
    PlainSerializer(_values_to_json, return_type=str, when_used="json"),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "string", "contentEncoding": "base64"},
                {"type": "array", "items": {"type": "integer", "minimum": 0}, "minItems": 1},
            ]
        }
    ),
]


class TemplateSignature(BaseModel):
    """The MinHash values of an ad's masked text (uint32, ``num_perm`` of them)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    hashvalues: HashValues

    def to_json(self) -> str:
        """Compact JSON: ``{"hashvalues": "<base64 of little-endian uint32>"}``."""
        return self.model_dump_json()

    @classmethod
    def from_json(cls, data: str | bytes) -> TemplateSignature:
        """Read `to_json` output (or decimal integers: ``{"hashvalues": [1, 2, …]}``)."""
        return cls.model_validate_json(data)


def template_words(
    text: str, masks: Iterable[Mask] = (), max_words: int | None = None
) -> list[str]:
    """The words of ``text`` with ``masks`` replaced by their placeholders (module doc)."""
    words: list[str] = []
    pos = 0
    for start, end, placeholder in sorted(masks, key=lambda m: (m.start, -m.end)):
        if start < pos:  # overlaps a mask already applied (the longer of two at one start)
            continue
        _add_words(words, text[pos:start])
        _append(words, placeholder)
        pos = end
    _add_words(words, text[pos:])
    return words if max_words is None else words[:max_words]


def _add_words(words: list[str], text: str) -> None:
    for w in _WORD.findall(text.lower()):
        _append(words, NUMBER if w[0].isdigit() else w)


def _append(words: list[str], word: str) -> None:
    if word != NUMBER or not words or words[-1] != NUMBER:
        words.append(word)


def shingles(words: Sequence[str], size: int) -> set[bytes]:
    """The distinct runs of ``size`` words, UTF-8 encoded and joined by spaces."""
    if len(words) <= size:
        return {" ".join(words).encode()}
    return {" ".join(words[i : i + size]).encode() for i in range(len(words) - size + 1)}


@cache
def _permutations(num_perm: int, seed: int) -> Any:
    """The permutation parameters of (num_perm, seed), generated once per process."""
    return MinHash(num_perm=num_perm, seed=seed, scheme=SCHEME).permutations


def template_signature(
    text: str, cfg: LinkConfig, masks: Iterable[Mask] = ()
) -> TemplateSignature | None:
    """The signature of ``text`` with ``masks`` applied; None for a text too short to tell.

    Pass `facts.ad_masks(ad)` for an enriched ad (or use `ad_signature`); without masks,
    only digits are masked, and a name or city that differs lowers the similarity.
    """
    words = template_words(text, masks, cfg.template_max_words)
    if sum(not w.startswith("{") for w in words) < cfg.template_min_words:
        return None
    return shingle_signature(shingles(words, cfg.shingle_words), cfg)


def shingle_signature(items: Iterable[bytes], cfg: LinkConfig) -> TemplateSignature:
    """The MinHash signature of a set of shingles (``num_perm`` values, seed ``seed``)."""
    m = MinHash(
        num_perm=cfg.num_perm,
        seed=cfg.seed,
        hashfunc=sha1_hash32,
        permutations=_permutations(cfg.num_perm, cfg.seed),
        scheme=SCHEME,
    )
    m.update_batch(items)
    return TemplateSignature(hashvalues=tuple(m.hashvalues.tolist()))


def ad_signature(ad: EnrichedAd, cfg: LinkConfig) -> TemplateSignature | None:
    """The signature of an enriched ad's text, its phones and entities masked."""
    return template_signature(ad.text, cfg, ad_masks(ad))


def band_keys(sig: TemplateSignature, cfg: LinkConfig) -> list[str]:
    """One LSH bucket key per band: ``"t{band}:{16 hex digits}"``, the same in every process.

    Two signatures share a key when all ``rows`` values of that band are equal, which
    happens with probability J^rows; these keys become Kafka record keys.
    """
    values = np.asarray(sig.hashvalues, dtype="<u4")
    if len(values) < cfg.bands * cfg.rows:
        raise ValueError(f"signature has {len(values)} values, bands × rows needs more")
    keys = []
    for band in range(cfg.bands):
        chunk = values[band * cfg.rows : (band + 1) * cfg.rows].tobytes()
        keys.append(f"t{band}:{hashlib.blake2b(chunk, digest_size=8).hexdigest()}")
    return keys


def similarity(a: TemplateSignature, b: TemplateSignature) -> float:
    """Estimated Jaccard similarity: the share of equal MinHash values.

    Signatures of different lengths (another ``num_perm``) are not comparable: 0.0.
    """
    if len(a.hashvalues) != len(b.hashvalues):
        return 0.0
    same = sum(x == y for x, y in zip(a.hashvalues, b.hashvalues, strict=True))
    return same / len(a.hashvalues)
