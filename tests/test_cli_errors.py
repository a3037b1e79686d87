"""The command line's error handling: every refusal of the package is one line on stderr and an
exit code (InputError 2, FrontEndError 3, any other LambdarigError 1), never a traceback; a bug
(an error that is not the package's) still shows its traceback.

The errors come from front-end backends plugged in through the public registry, as a third-party
package's would be."""

from __future__ import annotations

import pytest

from lambdarig.cli import EXIT_FAILURE, EXIT_FRONTEND, EXIT_USAGE, main
from lambdarig.common.errors import InputError, LambdarigError
from lambdarig.hal.registry import register_frontend, unregister_frontend
from lambdarig.hal.types import FrontEndError


def raising(error: BaseException):
    def factory(url, **options):
        raise error
    return factory


@pytest.fixture
def backend():
    schemes = []

    def plug(scheme: str, error: BaseException) -> str:
        register_frontend(scheme, raising(error))
        schemes.append(scheme)
        return f"{scheme}:x"

    yield plug
    for scheme in schemes:
        unregister_frontend(scheme)


@pytest.mark.parametrize("error, code", [
    (InputError("board.toml", "gain", "is too high", allowed="0 to 1", suggestions=["gain_v"]), EXIT_USAGE),
    (FrontEndError("board did not answer"), EXIT_FRONTEND),
    (LambdarigError("the board's firmware is too old"), EXIT_FAILURE),
])
def test_package_errors_are_one_line_and_an_exit_code(backend, capsys, error, code):
    url = backend("errtest", error)
    assert main(["run", "--hal", url, "--duration", "0.1", "--quiet"]) == code
    captured = capsys.readouterr()
    assert captured.err == f"lambdarig: error: {error}\n"
    assert "Traceback" not in captured.err + captured.out


def test_input_error_on_the_command_line_keeps_its_suggestion(backend, capsys):
    assert main(["run", "--hal", "smi:lsu49", "--duration", "0.1", "--quiet"]) == EXIT_USAGE
    err = capsys.readouterr().err
    assert err.startswith("lambdarig: error: front-end URL: scheme: unknown front-end scheme 'smi'")
    assert "did you mean 'sim'?" in err and len(err.strip().splitlines()) == 1


def test_a_bug_is_not_hidden(backend):
    url = backend("bugtest", ZeroDivisionError("a bug"))
    with pytest.raises(ZeroDivisionError):
        main(["run", "--hal", url, "--duration", "0.1", "--quiet"])
