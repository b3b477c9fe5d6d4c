"""Translation catalogs' health: what `flask support i18n-check` reports.

The source of truth is a fresh extraction (babel.cfg) of the code and templates; each
shipped language's `.po` is compared against it, and its `.mo` must carry what the
`.po` compiles to today (a stale `.mo` means translators' work is not live): the same
translations and plural rule. The bytes are not compared: they name the Babel version
that wrote them, and a fresh install's newer Babel is no reason to call a catalog stale.

Flask-AppBuilder's own screens (login, list and search chrome, security forms) use
FAB's catalogs, which exist for Spanish and French but not Arabic or Bengali; those
two get ours under `translations/flask_appbuilder/`, held to the strings FAB's own
Spanish catalog translates.
"""
from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir, extract_python
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.mofile import read_mo, write_mo
from babel.messages.pofile import read_po, write_po

from .config import FAB_TRANSLATIONS, ROOT, TRANSLATIONS

SHIPPED = ("es", "fr", "ar", "bn")
FAB_SHIPPED = ("ar", "bn")  # the shipped languages FAB has no catalog for
FAB_REFERENCE = "es"
# N_: a message marked where it is made (no Flask there), translated where it is shown.
KEYWORDS = {"_": None, "gettext": None, "ngettext": (1, 2), "lazy_gettext": None, "_l": None,
            "N_": None}


@dataclass
class LanguageReport:
    language: str
    total: int
    translated: int
    fuzzy: int
    missing: list[str]
    stale_mo: bool
    scope: str = ""  # "" for the app's catalog, "Flask-AppBuilder" for FAB's strings

    @property
    def complete(self) -> bool:
        return not self.missing and not self.fuzzy and not self.stale_mo

    @property
    def name(self) -> str:
        return f"{self.language} ({self.scope})" if self.scope else self.language


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


def _meaning(compiled: bytes) -> tuple[str, set]:
    """What a compiled catalog says: its plural rule and each (context, id, translation)."""
    catalog = read_mo(io.BytesIO(compiled))
    return catalog.plural_forms, {(m.context, _hashable(m.id), _hashable(m.string))
                                  for m in catalog if m.id}


def _hashable(value: str | list[str]) -> str | tuple[str, ...]:
    return tuple(value) if isinstance(value, list) else value  # read_mo gives plurals as lists


def _compiled(catalog: Catalog) -> bytes:
    buffer = io.BytesIO()
    write_mo(buffer, catalog)
    return buffer.getvalue()


def mo_is_stale(mo_path: Path, catalog: Catalog) -> bool:
    """True when the `.mo` is missing or says something other than `catalog` compiled."""
    return not mo_path.exists() or _meaning(mo_path.read_bytes()) != _meaning(_compiled(catalog))


def check_language(language: str, source_ids: set[str], translations: Path = TRANSLATIONS,
                   scope: str = "") -> LanguageReport:
    po_path = translations / language / "LC_MESSAGES" / "messages.po"
    mo_path = po_path.with_suffix(".mo")
    if not po_path.exists():
        return LanguageReport(language, len(source_ids), 0, 0, sorted(source_ids), True, scope)
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
    stale = mo_is_stale(mo_path, catalog)
    return LanguageReport(
        language=language,
        total=len(source_ids),
        translated=len(source_ids & translated),
        fuzzy=len(source_ids & fuzzy),
        missing=sorted(source_ids - translated - fuzzy),
        stale_mo=stale,
        scope=scope,
    )


# FAB modules whose every string a desk screen shows: the search filters' operators
# ("In", "Not In" are missing from FAB's Spanish catalog, so the reference alone lets
# them reach Arabic and Bengali screens in English).
FAB_FILTER_MODULES = ("models/filters.py", "models/sqla/filters.py")


def fab_source_ids() -> set[str]:
    """The FAB strings our Arabic and Bengali catalogs must cover: those the installed
    FAB translates for Spanish (its French catalog has French msgids in places), and
    every search-filter operator."""
    import flask_appbuilder

    package = Path(flask_appbuilder.__file__).parent
    compiled = package / "translations" / FAB_REFERENCE / "LC_MESSAGES" / "messages.mo"
    with open(compiled, "rb") as handle:
        ids = {message.id for message in read_mo(handle) if message.id}
    for module in FAB_FILTER_MODULES:
        with open(package / module, "rb") as handle:
            ids.update(message for _line, _function, message, _comments
                       in extract_python(handle, ["lazy_gettext"], [], {})
                       if isinstance(message, str))
    return ids


def write_fab_template(path: Path = FAB_TRANSLATIONS / "messages.pot") -> int:
    """The `.pot` translators update FAB's Arabic/Bengali catalogs from; returns its size."""
    template = Catalog(project="support_app (Flask-AppBuilder strings)")
    for msgid in sorted(fab_source_ids()):
        template.add(msgid)
    with open(path, "wb") as handle:
        write_po(handle, template, width=88)
    return len(template)


def check_all(languages: tuple[str, ...] = SHIPPED) -> list[LanguageReport]:
    source_ids = extract_source_ids()
    reports = [check_language(lang, source_ids) for lang in languages]
    fab_ids = fab_source_ids()
    for lang in (lang for lang in FAB_SHIPPED if lang in languages):
        reports.append(check_language(lang, fab_ids, FAB_TRANSLATIONS, scope="Flask-AppBuilder"))
    return reports
