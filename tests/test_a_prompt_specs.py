"""Part A's prompt strings parsed once (generator.prompt_specs): shapes, roles and one-line errors."""
import re

import pytest

from generator import prompt_specs
from generator.config import WriteupConfig
from generator.errors import UserError
from generator.models import local
from generator.models.backends import load_denoiser
from generator.prompt_specs import Anagram, Hybrid, parse, parse_all


def test_each_role_parses_to_its_spec():
    assert parse("a0", "a | b | c") == ("a", "b", "c")
    assert parse("anagram2", "p | q | rot180") == Anagram("p", "q", "rot180")
    assert parse("hybrid1", "far | near") == Hybrid("far", "near", None)
    assert parse("hybrid3", "far | near | 1.5") == Hybrid("far", "near", 1.5)
    assert parse("sdedit", " a handwritten {label} ") == "a handwritten {label}"
    assert prompt_specs.texts(Anagram("p", "q", "flip")) == ["p", "q"]  # a view is never a prompt


def test_a_misspelt_role_is_one_line_listing_the_roles():
    cfg = WriteupConfig()
    cfg.part_a.prompts = {"tranlsate": "a handwritten 9"}
    with pytest.raises(UserError) as e:
        load_denoiser(cfg)   # before any model is trained or loaded
    msg = str(e.value)
    assert "unknown prompt role 'tranlsate'" in msg and "translate" in msg and "anagram1" in msg
    assert "\n" not in msg
    for bad in ("anagram", "hybridx", "a1"):
        with pytest.raises(UserError, match="unknown prompt role"):
            parse_all({bad: "x"})


def test_translate_takes_one_or_two_targets_and_says_so_otherwise():
    assert parse("translate", "a handwritten 9") == ("a handwritten 9",)
    assert parse("translate", "a handwritten 9 | six") == ("a handwritten 9", "six")
    cfg = WriteupConfig()
    cfg.part_a.prompts = {"translate": "a handwritten 6 | a handwritten 9 | rot180"}
    with pytest.raises(UserError) as e:
        local.check_prompts(cfg)
    msg = str(e.value)
    assert "translate: expected one or two target prompts separated by ' | ' (3 given)" in msg
    assert "unknown prompt 'rot180'" not in msg and "\n" not in msg
    for bad, why in (("a handwritten 9 | ", "one of them empty"), ("a handwritten {label}", "cannot hold {label}")):
        with pytest.raises(UserError, match=re.escape(why)):
            parse("translate", bad)
    with pytest.raises(UserError, match="'sdedit' takes one prompt, not 2 parts"):
        parse("sdedit", "a | b")


def test_a_huge_prompt_is_cut_in_the_error():
    cfg = WriteupConfig()
    cfg.part_a.prompts = {"sdedit": "x" * 100_000}
    with pytest.raises(UserError) as e:
        local.check_prompts(cfg)
    msg = str(e.value)
    assert len(msg) < 400 and "100000 characters" in msg and "\n" not in msg
    with pytest.raises(UserError) as e:
        parse("a0", "y" * 100_000)
    assert len(str(e.value)) < 300


def test_anagram_view_and_hybrid_sigma_are_checked_once_here():
    with pytest.raises(UserError, match="unknown view 'spin'"):
        parse("anagram1", "a | b | spin")
    with pytest.raises(UserError, match="blur sigma 'nan'"):
        parse("hybrid1", "a | b | nan")
