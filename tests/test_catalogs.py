"""A compiled catalog is stale when it says something else than its `.po`, not when
another Babel release wrote it (a fresh install gets the newest Babel)."""
from __future__ import annotations

import re
import shutil
from pathlib import Path

from support_app.catalogs import check_language
from support_app.config import TRANSLATIONS


def _copy(language: str, tmp_path: Path) -> tuple[Path, Path]:
    folder = tmp_path / language / "LC_MESSAGES"
    folder.mkdir(parents=True)
    for name in ("messages.po", "messages.mo"):
        shutil.copy(TRANSLATIONS / language / "LC_MESSAGES" / name, folder / name)
    return folder / "messages.po", folder / "messages.mo"


def test_a_catalog_compiled_by_another_babel_release_is_not_stale(tmp_path):
    po, mo = _copy("es", tmp_path)
    data = mo.read_bytes()
    # Same length, so the .mo's offsets stay valid: only the tool's version differs.
    other = re.sub(rb"Generated-By: Babel [^\n]*",
                   lambda m: b"Generated-By: Babel " + b"9" * (len(m.group()) - 20), data)
    assert other != data
    mo.write_bytes(other)
    assert not check_language("es", set(), tmp_path).stale_mo


def test_a_changed_translation_makes_the_catalog_stale(tmp_path):
    po, _mo = _copy("fr", tmp_path)
    text = po.read_text(encoding="utf-8")
    changed = re.sub(r'msgstr "([^"\n]+)"', r'msgstr "\1 (modifié)"', text, count=2)
    assert changed != text
    po.write_text(changed, encoding="utf-8")
    assert check_language("fr", set(), tmp_path).stale_mo


def test_a_changed_plural_rule_makes_the_catalog_stale(tmp_path):
    po, _mo = _copy("ar", tmp_path)
    text = po.read_text(encoding="utf-8")
    changed = re.sub(r'"Plural-Forms: [^"]*"', r'"Plural-Forms: nplurals=6; plural=(n==0 ? 0 : n==1 ? 1 : '
                     r'n==2 ? 2 : n%100>=3 && n%100<=10 ? 3 : n%100>=11 ? 4 : 5);\\n"', text, count=1)
    assert changed != text
    po.write_text(changed, encoding="utf-8")
    assert check_language("ar", set(), tmp_path).stale_mo


def test_a_missing_compiled_catalog_is_stale(tmp_path):
    _po, mo = _copy("bn", tmp_path)
    mo.unlink()
    assert check_language("bn", set(), tmp_path).stale_mo
