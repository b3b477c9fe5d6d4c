"""Translation catalogs' health: what `flask support i18n-check` reports.

The source of truth is a fresh extraction (babel.cfg) of the code and templates; each
shipped language's `.po` is compared against it, and its `.mo` must be what the
`.po` compiles to today (a stale `.mo` means translators' work is not live).
"""
from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

from .config import ROOT

SHIPPED = ("es", "fr", "ar", "bn")
TRANSLATIONS = ROOT / "translations"
KEYWORDS = {"_": None, "gettext": None, "ngettext": (1, 2), "lazy_gettext": None, "_l": None}


@dataclass
class LanguageReport:
    language: str
    total: int
    translated: int
    fuzzy: int
    missing: list[str]
    stale_mo: bool

    @property
    def complete(self) -> bool:
        return not self.missing and not self.fuzzy and not self.stale_mo


def extract_source_ids(root: Path = ROOT) -> set[str]:
    """Every msgid the code and templates use, extracted exactly as pybabel would."""
    with open(root / "babel.cfg", encoding="utf-8") as cfg:
        method_map, options_map = parse_mapping_cfg(cfg)
    ids: set[str] = set()
    for _filename, _lineno, message, _comments, _context in extract_from_dir(
        str(root), method_map, options_map, keywords=KEYWORDS
    ):
        ids.add(message[0] if isinstance(message, (tuple, list)) else message)
    return {i for i in ids if i}


def _compiled(catalog: Catalog) -> bytes:
    buffer = io.BytesIO()
    write_mo(buffer, catalog)
    return buffer.getvalue()


def check_language(language: str, source_ids: set[str],
                   translations: Path = TRANSLATIONS) -> LanguageReport:
    po_path = translations / language / "LC_MESSAGES" / "messages.po"
    mo_path = po_path.with_suffix(".mo")
    if not po_path.exists():
        return LanguageReport(language, len(source_ids), 0, 0, sorted(source_ids), True)
    with open(po_path, "rb") as handle:
        catalog = read_po(handle, locale=language)
    translated, fuzzy = set(), set()
    for message in catalog:
        if not message.id:
            continue
        key = message.id[0] if isinstance(message.id, (tuple, list)) else message.id
        strings = message.string if isinstance(message.string, (tuple, list)) else [message.string]
        if message.fuzzy:
            fuzzy.add(key)
        elif all(strings):
            translated.add(key)
    stale = not mo_path.exists() or mo_path.read_bytes() != _compiled(catalog)
    return LanguageReport(
        language=language,
        total=len(source_ids),
        translated=len(source_ids & translated),
        fuzzy=len(source_ids & fuzzy),
        missing=sorted(source_ids - translated - fuzzy),
        stale_mo=stale,
    )


def check_all(languages: tuple[str, ...] = SHIPPED) -> list[LanguageReport]:
    source_ids = extract_source_ids()
    return [check_language(lang, source_ids) for lang in languages]
