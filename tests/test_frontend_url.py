"""The URL grammar the sim, serial and visa front ends share (lambdarig.hal.url)."""

from __future__ import annotations

import pytest

from lambdarig.hal.url import query_options, split_url


class Refused(Exception):
    pass


def refuse(what: str):
    return lambda key: Refused(f"{what} {key}")


def test_split_drops_the_slashes_and_decodes_the_target():
    assert split_url(" SIM:///abs/my%20el.toml?seed=3 ", "sim", refuse("scheme")) == ("/abs/my el.toml", "seed=3")
    assert split_url("sim:lsu49", "sim", refuse("scheme")) == ("lsu49", "")
    assert split_url("sim:", "sim", refuse("scheme")) == ("", "")


def test_split_without_decoding_keeps_the_target_as_written():
    assert split_url("serial://socket://h:5000?a=1", "serial", refuse("scheme"), decode=False) == (
        "socket://h:5000", "a=1")
    assert split_url("serial:/dev/a%20b", "serial", refuse("scheme"), decode=False) == ("/dev/a%20b", "")


def test_split_refuses_another_scheme_with_the_callers_error():
    with pytest.raises(Refused, match="scheme visa:x"):
        split_url("visa:x", "sim", refuse("scheme"))


def test_query_keeps_blanks_renames_and_collects_repeatable_keys():
    options, foreign = query_options("a=1&o=x&b=&o=y", ("a", "b", "o"), renamed={"o": "opts"},
                                     repeatable=("opts",), twice=refuse("twice"), unknown=refuse("unknown"))
    assert options == {"a": "1", "b": "", "opts": ["x", "y"]}
    assert foreign == []


def test_query_refuses_the_first_fault_in_order():
    with pytest.raises(Refused, match="twice a"):
        query_options("a=1&a=2&zz=1", ("a",), twice=refuse("twice"), unknown=refuse("unknown"))
    with pytest.raises(Refused, match="unknown zz"):
        query_options("zz=1&a=1&a=2", ("a",), twice=refuse("twice"), unknown=refuse("unknown"))


def test_query_without_an_unknown_refusal_returns_foreign_pairs_in_order():
    options, foreign = query_options("logging=debug&a=1&x=", ("a",), twice=refuse("twice"))
    assert options == {"a": "1"}
    assert foreign == [("logging", "debug"), ("x", "")]
