"""The 0.1 module paths still import after the 0.2 reorganisation, and give the same objects."""

from __future__ import annotations

import importlib

import pytest

from axion_broker_ibkr import _moved


@pytest.mark.parametrize("old", sorted(_moved.MOVED))
def test_every_old_path_imports_and_names_what_lives_at_its_new_home(old: str) -> None:
    stand_in = importlib.import_module(f"axion_broker_ibkr.{old}")
    homes = [importlib.import_module(f"axion_broker_ibkr.{h}") for h in _moved.MOVED[old]]
    public = [n for n in dir(homes[0]) if not n.startswith("_")]
    assert public, old
    for name in public:
        assert getattr(stand_in, name) is getattr(homes[0], name), (old, name)


def test_the_usual_0_1_imports() -> None:
    from axion_broker_ibkr.contracts import ContractResolver
    from axion_broker_ibkr.journal import JournalEntry, MemoryJournal

    from axion_broker_ibkr.resolver import ContractResolver as Resolver
    from axion_broker_ibkr.store.memory import MemoryJournal as Memory

    assert ContractResolver is Resolver
    assert MemoryJournal is Memory
    assert JournalEntry.__module__ == "axion_broker_ibkr.ops.journal"


def test_an_unknown_name_on_an_old_path_says_where_the_module_went() -> None:
    stand_in = importlib.import_module("axion_broker_ibkr.contracts")
    with pytest.raises(AttributeError, match=r"moved to axion_broker_ibkr\.resolver"):
        _ = stand_in.no_such_name
