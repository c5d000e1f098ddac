"""patched_environ: applies set/unset changes and restores every named key exactly."""

from __future__ import annotations

import os

import pytest
from hypothesis import given
from hypothesis import strategies as st

from heliosgrid.environ import patched_environ

_KEYS = ("HELIOS_TEST_ENVIRON_A", "HELIOS_TEST_ENVIRON_B", "HELIOS_TEST_ENVIRON_C")
_VALUES = st.none() | st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=8)


def _snapshot() -> dict[str, str | None]:
    return {k: os.environ.get(k) for k in _KEYS}


@given(before=st.fixed_dictionaries({k: _VALUES for k in _KEYS}),
       changes=st.dictionaries(st.sampled_from(_KEYS), _VALUES))
def test_changes_apply_inside_and_are_undone_after(before: dict[str, str | None],
                                                   changes: dict[str, str | None]) -> None:
    with patched_environ(before):  # the "previous" state, itself restored at the end
        with patched_environ(changes):
            for key in _KEYS:
                assert os.environ.get(key) == changes.get(key, before[key])
        assert _snapshot() == before


def test_restores_after_an_exception_and_leaves_other_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HELIOS_TEST_ENVIRON_A", "old")
    monkeypatch.delenv("HELIOS_TEST_ENVIRON_B", raising=False)
    with pytest.raises(RuntimeError), patched_environ({"HELIOS_TEST_ENVIRON_A": None, "HELIOS_TEST_ENVIRON_B": "new"}):
        assert "HELIOS_TEST_ENVIRON_A" not in os.environ
        os.environ["HELIOS_TEST_ENVIRON_C"] = "set inside"
        raise RuntimeError("boom")
    assert os.environ["HELIOS_TEST_ENVIRON_A"] == "old"
    assert "HELIOS_TEST_ENVIRON_B" not in os.environ
    assert os.environ.pop("HELIOS_TEST_ENVIRON_C") == "set inside"
