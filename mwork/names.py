"""Names that become paths, in one place.

A model, corpus or file name is one plain entry of its folder, and a path the workflow writes to stays
inside the folder it belongs to (``plain_name``, ``inside``). The names the DAG builds itself -- an
evaluation setting, a stage tuning, an enhancement variant and fine-tuning, a tuned model, a table number,
a language code -- each have a record below with their grammar. A module of its own (no imports from the
rest of the library but its error), so the rules that import it do not rerun when the config checks
change."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from .errors import MworkError

# letters, digits, _ . + -, not starting with a dot (no "..", no hidden files), never a separator
PLAIN_NAME = re.compile(r"[A-Za-z0-9_+-][A-Za-z0-9_.+-]*")


def plain_name(name, where: str, what: str) -> None:
    """Refuse a name that would not stay a single entry of its folder (``..``, ``a/b``, ``/x``, ``.x``)."""
    if not isinstance(name, str) or not PLAIN_NAME.fullmatch(name):
        raise MworkError(f"{where}: {name!r} is not a plain {what}; it becomes a file or folder name, so use "
                         f"letters, digits, _ . + - only, not starting with a dot (no / or ..)")


def inside(path, where: str, folder: str, what: str) -> None:
    """Refuse a relative ``path`` that leaves ``folder`` (``""``: any folder), or an absolute one."""
    parts = Path(str(path)).parts
    if (not isinstance(path, str) or not parts or Path(path).is_absolute() or ".." in parts
            or (folder and parts[0] != folder)):
        inside_of = f" inside {folder}/" if folder else ""
        raise MworkError(f"{where}: {path!r} must be a relative path{inside_of} without '..' ({what})")


# --------------------------------------------------------------------------------------------------
# The grammars of the names that travel through the DAG as wildcards and file names. Each record parses
# its text (``parse``; an error says what is expected), writes it back (``str``), and gives the regular
# expression the rules constrain their wildcard with (``PATTERN``). Nothing else builds or parses them.

LANG = "[a-z]{2,3}"  # a language code as it appears in paths (ISO 639-1 or -3)
_INT = "(?:0|[1-9][0-9]*)"  # a whole number as str() writes it (no leading zeros: one name per value)


def _match(pattern: str, text, expected: str, what: str) -> re.Match:
    m = re.fullmatch(pattern, text) if isinstance(text, str) else None
    if not m:
        raise MworkError(f"{what} {text!r}: expected {expected}")
    return m


@dataclass(frozen=True)
class StageTuning:
    """A stage-tuning candidate (Appendix H): X's neurons in the first (``tuneU<n>``, understanding) or last
    (``tuneG<n>``, generation) ``n >= 1`` layers only."""

    part: str  # "under" | "gen"
    layers: int

    PATTERN: ClassVar[str] = "tune[UG][1-9][0-9]*"
    _LETTER: ClassVar[dict[str, str]] = {"under": "U", "gen": "G"}

    def __str__(self) -> str:
        return f"tune{self._LETTER[self.part]}{self.layers}"

    @classmethod
    def parse(cls, text: str) -> StageTuning:
        m = _match(r"tune([UG])([1-9][0-9]*)", text, "tuneU<n> or tuneG<n> with n >= 1", "stage tuning")
        return cls("under" if m[1] == "U" else "gen", int(m[2]))

    @classmethod
    def of(cls, name: str) -> StageTuning | None:
        """The stage tuning a setting name is, or None for a name of config.deactivation.settings."""
        return cls.parse(name) if re.fullmatch(cls.PATTERN, name) else None


@dataclass(frozen=True)
class Setting:
    """An evaluation setting: ``original`` (nothing deactivated), or ``<name>@<X>``: setting ``name`` of
    config.deactivation.settings (or a stage tuning, ``StageTuning``) with language X's neurons. A random
    control is drawn ``deactivation.random_draws`` times: ``<name>@<X>`` is draw 0, ``<name>~<r>@<X>``
    (r >= 1) the others."""

    name: str | None = None  # None: original
    lang: str | None = None
    draw: int = 0

    NAME: ClassVar[str] = "[A-Za-z0-9_]+"  # a setting's name (config.deactivation.settings keys)
    PATTERN: ClassVar[str] = f"original|{NAME}(~[1-9][0-9]*)?@{LANG}"

    @property
    def original(self) -> bool:
        return self.name is None

    @property
    def tuning(self) -> StageTuning | None:
        return None if self.name is None else StageTuning.of(self.name)

    def __str__(self) -> str:
        if self.name is None:
            return "original"
        return f"{self.name}{f'~{self.draw}' if self.draw else ''}@{self.lang}"

    @classmethod
    def parse(cls, text: str) -> Setting:
        m = _match(f"original|({cls.NAME})(?:~([1-9][0-9]*))?@({LANG})", text,
                   "original or <setting>@<language> (a random control's further draws: <setting>~<r>@<language>)",
                   "evaluation setting")
        return cls() if m[1] is None else cls(m[1], m[3], int(m[2] or 0))

    @classmethod
    def draws(cls, name: str, lang: str, spec: dict, draws: int) -> list[Setting]:
        """Setting ``name`` of X's neurons: one per draw of a random control, else the setting itself."""
        return [cls(name, lang, r) for r in range(draws if spec.get("neurons") == "random" else 1)]


@dataclass(frozen=True)
class Variant:
    """One fine-tuning of the enhancement grid: ``lang-<n>`` (language X's neurons on n documents),
    ``random-<n>-s<seed>`` (as many random neurons per layer and kind), ``lora-<n>`` (a LoRA adapter of as
    many parameters)."""

    kind: str
    n_docs: int
    seed: int = 0

    PATTERN: ClassVar[str] = rf"(?:lang|lora)-{_INT}|random-{_INT}-s{_INT}"

    @property
    def name(self) -> str:
        return str(self)

    def __str__(self) -> str:
        return f"{self.kind}-{self.n_docs}" + (f"-s{self.seed}" if self.kind == "random" else "")

    @classmethod
    def parse(cls, text: str) -> Variant:
        m = _match(rf"(lang|lora)-({_INT})|random-({_INT})-s({_INT})", text,
                   "lang-<n>, random-<n>-s<seed> or lora-<n>", "enhancement variant")
        return cls(m[1], int(m[2])) if m[1] else cls("random", int(m[3]), int(m[4]))


@dataclass(frozen=True)
class FineTuning:
    """A fine-tuning of the enhancement grid in the paths of its scores, ``<X>/<variant>``; ``original``
    (the base model) parses to None."""

    lang: str
    variant: Variant

    PATTERN: ClassVar[str] = f"original|{LANG}/(?:{Variant.PATTERN})"

    def __str__(self) -> str:
        return f"{self.lang}/{self.variant}"

    @classmethod
    def parse(cls, text: str) -> FineTuning | None:
        m = _match(f"original|({LANG})/({Variant.PATTERN})", text, "original or <language>/<variant>",
                   "fine-tuning")
        return None if m[1] is None else cls(m[1], Variant.parse(m[2]))


@dataclass(frozen=True)
class TunedModel:
    """A fine-tuning of the grid as a model name: ``<base>+<X>-<variant>``, e.g. ``organism+de-lang-400``."""

    base: str
    lang: str
    variant: Variant

    PATTERN: ClassVar[str] = rf"[A-Za-z0-9_.-]+\+{LANG}-(?:{Variant.PATTERN})"

    def __str__(self) -> str:
        return f"{self.base}+{self.lang}-{self.variant}"

    @classmethod
    def parse(cls, text: str) -> TunedModel:
        m = _match(rf"([A-Za-z0-9_.-]+)\+({LANG})-({Variant.PATTERN})", text, "<base>+<language>-<variant>",
                   "tuned model")
        return cls(m[1], m[2], Variant.parse(m[3]))

    @classmethod
    def of(cls, name: str) -> TunedModel | None:
        return cls.parse(name) if re.fullmatch(cls.PATTERN, name) else None

    @property
    def delta(self) -> str:
        """Where rule enhance writes its weight delta."""
        return f"results/{self.base}/enhance/{self.lang}/{self.variant}.safetensors"


@dataclass(frozen=True)
class Table:
    """A table of the paper by number, and which rule builds it: Table 1 (``table1``), the stage tables
    2-5, 8, 9 (``stage``), their per-language versions 14-17 (``per_language``), the stage tuning 12-13
    (``stage_tuning``)."""

    number: int

    KINDS: ClassVar[dict[str, tuple[int, ...]]] = {
        "table1": (1,), "stage": (2, 3, 4, 5, 8, 9), "per_language": (14, 15, 16, 17), "stage_tuning": (12, 13)}
    DEACTIVATION: ClassVar[tuple[int, ...]] = (1, 2, 3, 4, 5, 8, 9)  # the keys of config.deactivation.tables

    def __str__(self) -> str:
        return str(self.number)

    @classmethod
    def parse(cls, text) -> Table:
        m = _match("[1-9][0-9]*", str(text), "a table number of the paper (1-17)", "table")
        return cls(int(m[0]))

    @classmethod
    def pattern(cls, kind: str) -> str:
        """The wildcard pattern of the tables a rule of that kind builds."""
        return "|".join(str(n) for n in cls.KINDS[kind])

    @property
    def per_language_of(self) -> Table:
        """Tables 14-17 are Tables 2-5 per language."""
        if self.number not in self.KINDS["per_language"]:
            raise MworkError(f"Table {self.number} is not a per-language table ({self.pattern('per_language')})")
        return Table(self.number - 12)


class LossDomain:
    """The text a loss matrix is measured on, and the suffix its files carry: ``corpus`` (the held-out
    documents of config.corpus: ``loss_matrix.csv``) or ``xquad`` (XQuAD's paragraphs, a second domain:
    ``loss_matrix_xquad.csv``)."""

    SUFFIX: ClassVar[dict[str, str]] = {"corpus": "", "xquad": "_xquad"}
    PATTERN: ClassVar[str] = "|".join(SUFFIX.values())  # the {domain} wildcard: the suffix, empty for corpus

    @classmethod
    def suffix(cls, domain: str) -> str:
        if domain not in cls.SUFFIX:
            raise MworkError(f"loss matrix domain {domain!r} is not one of {', '.join(cls.SUFFIX)}")
        return cls.SUFFIX[domain]

    @classmethod
    def of(cls, suffix: str) -> str:
        """The domain whose files carry ``suffix``."""
        return {v: k for k, v in cls.SUFFIX.items()}[suffix]
