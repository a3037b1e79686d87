"""lambdarig/aot.py: a module built ahead of time gives way to its Python source when the source is
not the one it was built from (an edit after the install: the SHA-256 stamp beside the module does
not match) or the environment asks for the source (LAMBDARIG_NO_JIT set).

The "built module" here is a file with an extension module's name that is no extension at all: when
it is what the import picks, the import fails, so each case shows which file was loaded."""

from __future__ import annotations

import hashlib
import importlib
import importlib.machinery
import os
import sys

import pytest

from lambdarig import aot
from lambdarig.emulator import element_physics, equilibrium

PACKAGE = "aot_probe_pkg"


@pytest.fixture
def probe(tmp_path, monkeypatch):
    """A package with one module, probe: its source, and a fake built module beside it."""
    pkg = tmp_path / PACKAGE
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    source = pkg / "probe.py"
    source.write_text("WHERE = 'source'\n")
    built = pkg / ("probe" + importlib.machinery.EXTENSION_SUFFIXES[0])
    built.write_bytes(b"not an extension module")
    monkeypatch.syspath_prepend(str(tmp_path))
    # The probe alone is listed (whether the package's own modules are built does not matter here).
    monkeypatch.setattr(aot, "COMPILED_MODULES", {f"{PACKAGE}.probe": f"{PACKAGE}/probe.py"})
    monkeypatch.delenv(aot.SOURCE_ENV, raising=False)
    aot._verdicts.clear()   # a process remembers its verdict; these tests change the files under it
    aot.install_source_fallback()
    yield source, built
    aot._verdicts.clear()
    for name in (f"{PACKAGE}.probe", f"{PACKAGE}.partner", PACKAGE):
        sys.modules.pop(name, None)


def stamp(source, built, digest: str | None) -> None:
    """The stamp beside the built module: this digest, the source's own when "source", none when None."""
    path = built.parent / ("probe" + aot.STAMP_SUFFIX)
    if digest is None:
        path.unlink(missing_ok=True)
        return
    if digest == "source":
        digest = hashlib.sha256(source.read_bytes()).hexdigest()
    path.write_text(digest + "\n")


@pytest.mark.parametrize("digest", ["source", None])
def test_the_built_module_is_imported_when_built_from_this_source(probe, digest):
    source, built = probe
    stamp(source, built, digest)
    with pytest.raises(ImportError):   # the fake extension was picked
        importlib.import_module(f"{PACKAGE}.probe")


def test_an_edited_source_is_imported_instead(probe):
    source, built = probe
    stamp(source, built, "source")
    source.write_text("WHERE = 'source'  # edited after the build\n")
    module = importlib.import_module(f"{PACKAGE}.probe")
    assert module.WHERE == "source"
    assert module.__file__ == str(source)
    assert not aot.is_compiled(module)


@pytest.mark.parametrize("partner_state", ["edited", "not built"])
def test_all_built_modules_or_none(probe, monkeypatch, partner_state):
    """A second listed module that is edited after the build, or was not built, takes the probe to its
    source too (a built module may use another's types as built)."""
    source, built = probe
    stamp(source, built, "source")
    partner = source.parent / "partner.py"
    partner.write_text("WHERE = 'source'\n")
    if partner_state == "edited":
        partner_built = source.parent / ("partner" + importlib.machinery.EXTENSION_SUFFIXES[0])
        partner_built.write_bytes(b"not an extension module")
        (source.parent / ("partner" + aot.STAMP_SUFFIX)).write_text(hashlib.sha256(b"before").hexdigest() + "\n")
    monkeypatch.setitem(aot.COMPILED_MODULES, f"{PACKAGE}.partner", f"{PACKAGE}/partner.py")
    assert importlib.import_module(f"{PACKAGE}.probe").WHERE == "source"
    assert importlib.import_module(f"{PACKAGE}.partner").WHERE == "source"


def test_an_empty_variable_is_no_choice(probe, monkeypatch):
    """LAMBDARIG_NO_JIT= (set, empty) asks for nothing: the built module, as without it."""
    source, built = probe
    stamp(source, built, "source")
    monkeypatch.setenv(aot.SOURCE_ENV, "")
    assert aot.how_the_emulator_runs() == "built"
    with pytest.raises(ImportError):   # the fake extension was picked
        importlib.import_module(f"{PACKAGE}.probe")


def test_the_reason_the_sources_run_is_told(probe, monkeypatch):
    source, built = probe
    stamp(source, built, "source")
    source.write_text("WHERE = 'source'  # edited after the build\n")
    assert aot.how_the_emulator_runs() == f"python: {PACKAGE}.probe changed since the build"
    monkeypatch.setenv(aot.SOURCE_ENV, "1")
    assert aot.how_the_emulator_runs() == f"python: {aot.SOURCE_ENV} is set"


@pytest.mark.parametrize("value", ["1", "0"])
def test_the_environment_asks_for_the_source(probe, monkeypatch, value):
    source, built = probe
    stamp(source, built, "source")
    monkeypatch.setenv(aot.SOURCE_ENV, value)
    assert importlib.import_module(f"{PACKAGE}.probe").WHERE == "source"


def test_only_listed_modules_are_touched(tmp_path, monkeypatch):
    pkg = tmp_path / "aot_probe_other"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "plain.py").write_text("X = 1\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    finder = aot.SourceFallback()
    assert finder.find_spec("aot_probe_other.plain", [str(pkg)]) is None
    sys.modules.pop("aot_probe_other", None)


def test_the_listed_sources_exist():
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    for name, path in aot.COMPILED_MODULES.items():
        assert os.path.isfile(os.path.join(root, path)), name


def test_the_kernel_modules_load_as_the_environment_says():
    """In this process (no LAMBDARIG_NO_JIT, or set by the caller): built when the install built
    them and the sources are not newer, else the source."""
    for module in (element_physics, equilibrium):
        if aot.source_wanted():
            assert not aot.is_compiled(module)
        origin = module.__spec__.origin
        assert origin.endswith(".py") or aot.is_compiled(module)


@pytest.mark.skipif(not os.environ.get("LAMBDARIG_REQUIRE_BUILT"),
                    reason="only where the install must have built the emulator (.ci/run sets it)")
def test_the_install_built_every_listed_module():
    """A module that did not compile leaves the whole emulator running as Python (twice as slow),
    with nothing but a line in pip's hidden build output to say so: CI holds the build to all of them."""
    assert aot.why_not_built() == ""
    assert aot.how_the_emulator_runs() == "built"
