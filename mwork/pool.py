"""What a corpus source offers for one language before sampling (``mwork.corpus`` samples and splits it;
the sources are in ``mwork.corpus`` and, for the parallel Bible, ``mwork.bible``)."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Pool:
    """All candidate documents a source offers for one language (before sampling)."""

    texts: list[str]
    sources: list[str]
    notes: dict = field(default_factory=dict)
    # a parallel pool (bible): each document's name, the same in every language, and the group (a chapter)
    # its split is drawn by; None for the other sources
    keys: list[str] | None = None
    groups: list[str] | None = None
