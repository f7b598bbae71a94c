"""The facade of lampkit: each verb is the object of the module that defines it, loaded on first use."""

import importlib
import subprocess
import sys

import pytest

import lampkit


def test_every_name_is_the_object_in_its_module():
    assert lampkit.__all__ == list(lampkit._FACADE)
    assert 20 <= len(lampkit.__all__) <= 40
    for name, (module, attr) in lampkit._FACADE.items():
        assert getattr(lampkit, name) is getattr(importlib.import_module(module), attr), name


def test_dir_lists_the_facade():
    assert set(lampkit.__all__) <= set(dir(lampkit))


def test_import_lampkit_leaves_torch_out():
    code = "import sys, lampkit; lampkit.__all__; print('torch' in sys.modules, 'transformers' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120)
    assert done.stdout.split() == ["False", "False"]


def test_an_unknown_name_raises_attribute_error_naming_it():
    with pytest.raises(AttributeError, match="no_such_verb"):
        lampkit.no_such_verb  # noqa: B018
    assert not hasattr(lampkit, "run_everything")
