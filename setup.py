"""Optional ahead-of-time compilation of the emulator's hot path (lambdarig/aot.py lists the
modules): Cython builds each listed .py, as it stands, into an extension module beside it, typed by
the .pxd file next to it. Every extension is optional: without a C compiler (or Python's headers)
the build warns and the install goes on, and the same files run as Python. LAMBDARIG_NO_COMPILE=1
skips the build altogether. Everything else about the package is in pyproject.toml."""

from __future__ import annotations

import compileall
import hashlib
import os
import runpy
import shutil
import sys
from importlib.machinery import EXTENSION_SUFFIXES

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

AOT = runpy.run_path(os.path.join("scripts", "aot.py"))
MODULES: dict[str, str] = AOT["COMPILED_MODULES"]
STAMP_SUFFIX: str = AOT["STAMP_SUFFIX"]


class BuildWithStamps(build_ext):
    """build_ext that leaves beside each built module the SHA-256 of the source it was built from,
    so that an edit of the source after the build is noticed (lambdarig/aot.py then imports the
    source)."""

    def finalize_options(self) -> None:
        super().finalize_options()
        if self.parallel is None:   # the modules compile independently: one compiler per core
            self.parallel = os.cpu_count() or 1
        self.built_now: set[str] = set()   # the extensions this run built (not ones left from before)

    def build_extension(self, ext: Extension) -> None:
        try:
            super().build_extension(ext)
        except Exception as exc:   # no C compiler, no Python headers, a compiler's error: pure Python
            print(f"lambdarig: {ext.name} not built ({exc}); the emulator runs as Python", file=sys.stderr)
            return
        self.built_now.add(ext.name)
        self._stamp(ext.name, os.path.dirname(self.get_ext_fullpath(ext.name)))

    def copy_extensions_to_source(self) -> None:
        """An editable install's modules go beside their sources: their stamps too."""
        build_py = self.get_finalized_command("build_py")
        try:
            super().copy_extensions_to_source()   # skips an optional extension that was not built
            for ext in self.extensions:
                if ext.name in self.built_now:
                    self._stamp(ext.name, build_py.get_package_dir(ext.name.rpartition(".")[0]))
        except Exception as exc:
            print(f"lambdarig: the built modules not copied beside the sources ({exc}); they run as Python",
                  file=sys.stderr)
        # An editable install runs the package from its sources: byte-compile them now, as pip does
        # for a regular install, so that no command start compiles them (~0.1 s for `simulate`, on
        # every start where bytecode may not be written: PYTHONDONTWRITEBYTECODE).
        for package in build_py.packages or ():
            compileall.compile_dir(os.path.abspath(build_py.get_package_dir(package)), maxlevels=0, quiet=1)

    @staticmethod
    def _stamp(name: str, folder: str) -> None:
        module = name.rpartition(".")[2]
        if not any(f.startswith(module + ".") and f.endswith(tuple(EXTENSION_SUFFIXES)) for f in os.listdir(folder)):
            return   # an optional extension that failed to build leaves none
        with open(MODULES[name], "rb") as f:
            digest = hashlib.sha256(f.read()).hexdigest()
        with open(os.path.join(folder, module + STAMP_SUFFIX), "w", encoding="ascii") as f:
            f.write(digest + "\n")


def copy_pxd_files(root: str) -> None:
    """Cython finds a module's .pxd by the module's dotted name; the repository's folders are not
    laid out as the package (emulator/ -> lambdarig/emulator), so the .pxd files are copied into
    that layout for the build."""
    for name, source in MODULES.items():
        pxd = os.path.splitext(source)[0] + ".pxd"
        if not os.path.exists(pxd):
            continue
        parts = name.split(".")
        os.makedirs(os.path.join(root, *parts[:-1]), exist_ok=True)
        shutil.copyfile(pxd, os.path.join(root, *parts[:-1], os.path.basename(pxd)))
        for level in range(1, len(parts)):
            open(os.path.join(root, *parts[:level], "__init__.pxd"), "a").close()


def extensions() -> list[Extension]:
    if os.environ.get("LAMBDARIG_NO_COMPILE", "").strip() not in ("", "0"):
        return []
    try:
        from Cython.Build import cythonize
    except ImportError:   # a build without Cython (not from pyproject's build requirements): pure Python
        return []
    pxd_root = os.path.join("build", "pxd")
    copy_pxd_files(pxd_root)
    exts = [Extension(name, [source], optional=True) for name, source in MODULES.items()]
    try:
        # No fast-math or other flags: IEEE doubles in the source's order, as Python computes them.
        # include_path: the .pxd files in the package's layout, and emulator/_c_math.pxd.
        built = cythonize(exts, build_dir=os.path.join("build", "cython"), quiet=True,
                          include_path=[pxd_root, "emulator"], compiler_directives={"language_level": 3})
    except Exception as exc:   # Cython could not translate a module: install as pure Python
        print(f"lambdarig: not compiling the emulator's modules ({exc}); they run as Python", file=sys.stderr)
        return []
    for ext in built:   # cythonize's extensions drop `optional`: one that fails to compile is skipped when copied
        ext.optional = True
    return built


setup(ext_modules=extensions(), cmdclass={"build_ext": BuildWithStamps})
