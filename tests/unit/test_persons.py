"""Natural persons' pure rules and ciphers: the standards' test vectors (SM4 GB/T 32907, SM3
GB/T 32905), identity-number checks naming the failed check, masking, refs, sealed tokens."""

from __future__ import annotations

import uuid
from datetime import date

import pytest

from ledger.domain.errors import InvalidInput
from ledger.domain.model import EvaluationModel, default_models, person_rules
from ledger.domain.persons import (
    is_person_ref,
    is_sealed,
    mask_id_number,
    mask_identity_numbers,
    mask_name,
    normalize_id_number,
    person_ref,
    ref_stream_id,
    sealed,
    sealed_refs,
)
from ledger.domain.rulebook import shipped_files
from ledger.domain.rules.population import in_population
from ledger.domain.rules.versions import parse_version
from ledger.domain.state import SubjectState
from ledger.domain.values import normalize_uscc, subject_id_for
from ledger.service.ciphers import (
    AES_256_GCM,
    SM4_GCM,
    CipherError,
    MasterKey,
    seal,
    sm3,
    sm4_encrypt_block,
    unseal,
)

SM4_KEY = bytes.fromhex("0123456789abcdeffedcba9876543210")


def test_sm4_block_vector_of_gb_t_32907() -> None:
    assert sm4_encrypt_block(SM4_KEY, SM4_KEY).hex() == "681edf34d206965e86b3e94f536e4246"


def test_sm4_million_rounds_vector_of_gb_t_32907() -> None:
    block = SM4_KEY
    for _ in range(1_000_000):
        block = sm4_encrypt_block(SM4_KEY, block)
    assert block.hex() == "595298c7c6fd271f0402f804c33d3f66"


def test_sm3_vectors_of_gb_t_32905() -> None:
    assert sm3(b"abc") == "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0"
    assert sm3(b"abcd" * 16) == ("debe9ff92275b8a138604889c18e5a4d6fdb70e5387e5765293dcba39c0c5732")


@pytest.mark.parametrize("cipher", [SM4_GCM, AES_256_GCM])
def test_gcm_seals_and_refuses_another_key_or_binding(cipher: str) -> None:
    key = bytes(range(16 if cipher == SM4_GCM else 32))
    blob = seal(cipher, key, "司马懿".encode(), b"Pref")
    assert "司马懿".encode() not in blob
    assert unseal(cipher, key, blob, b"Pref").decode() == "司马懿"
    with pytest.raises(CipherError):
        unseal(cipher, key, blob, b"Pother")
    with pytest.raises(CipherError):
        unseal(cipher, bytes(len(key)), blob, b"Pref")
    assert seal(cipher, key, b"x", b"a") != seal(cipher, key, b"x", b"a")  # fresh nonces


def test_master_key_wraps_and_is_checked() -> None:
    master = MasterKey.from_text("11" * 32, source="test")
    wrapped = master.wrap(SM4_GCM, b"k" * 16, "Pone")
    assert master.unwrap(SM4_GCM, wrapped, "Pone") == b"k" * 16
    with pytest.raises(CipherError):
        MasterKey.from_text("22" * 32, source="test").unwrap(SM4_GCM, wrapped, "Pone")
    with pytest.raises(CipherError, match="64 hex"):
        MasterKey.from_text("not hex", source="CREDIT_LEDGER_MASTER_KEY")
    with pytest.raises(CipherError, match="32 bytes"):
        MasterKey.from_text("11" * 16, source="test")


@pytest.mark.parametrize(
    ("number", "check"),
    [
        ("4104811985112045", "length"),
        ("41048119851120456A", "format"),
        ("410481198502304561", "birth date"),
        ("999999198511204561", "administrative division"),
        ("410481198511204561", "check digit"),
    ],
)
def test_identity_numbers_are_refused_naming_the_check(number: str, check: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        normalize_id_number(number)
    assert check in refused.value.message
    assert number not in refused.value.message
    assert refused.value.field == "id_number"


def test_identity_numbers_are_normalised() -> None:
    assert normalize_id_number(" 41048119851120456x ") == "41048119851120456X"
    assert normalize_id_number("４１０４８１１９８５１１２０４５６Ｘ") == "41048119851120456X"


def test_masking_rules() -> None:
    assert mask_id_number("41048119851120123X") == "410481********123X"
    assert mask_name("张三") == "张*"
    assert mask_name("欧阳锦瑟") == "欧***"
    assert mask_identity_numbers('{"path": "/v1/subjects/41048119851120456X"}') == (
        '{"path": "/v1/subjects/410481********456X"}'
    )
    assert mask_identity_numbers("position 1234567") == "position 1234567"


def test_refs_name_their_stream_and_every_code_path_takes_them() -> None:
    stream = uuid.uuid4()
    ref = person_ref(stream)
    assert is_person_ref(ref)
    assert ref_stream_id(ref) == stream
    assert normalize_uscc(ref.lower()) == ref
    assert subject_id_for(ref) == stream
    assert not is_person_ref("91410481MA9XWQ8T3X")


def test_sealed_tokens_name_their_person() -> None:
    ref = person_ref(uuid.uuid4())
    token = sealed(ref, "A" * 40)
    assert is_sealed(token)
    assert sealed_refs(f'["{token}", "x"]') == {ref}
    assert sealed_refs(f"{token},".encode()) == {ref}
    assert not is_sealed("张三")


def test_the_model_keeps_persons_out_and_minor_penalties_off() -> None:
    model = default_models().in_force(date(2024, 10, 31)).model
    rules = person_rules(model)
    assert rules.in_population is False
    assert "penalty.minor" in rules.not_applicable
    assert rules.retention is not None
    assert rules.retention.months == 60
    person = SubjectState(kind="natural_person", registered_at=object())  # type: ignore[arg-type]
    firm = SubjectState(kind="enterprise", registered_at=object())  # type: ignore[arg-type]
    assert not in_population(person, date(2024, 10, 31))
    assert in_population(firm, date(2024, 10, 31))


def test_a_published_model_version_carries_its_own_person_rules() -> None:

    genesis = shipped_files()["model", "PCCE-2021"]
    text = genesis.replace('version = "PCCE-2021"', 'version = "PCCE-2026"').replace(
        "in_population = false", "in_population = true"
    )
    assert text != genesis
    model = parse_version("model", text)
    assert isinstance(model, EvaluationModel)
    assert person_rules(model).in_population is True
    assert person_rules(model).not_applicable == frozenset({"penalty.minor"})
    assert person_rules(default_models().in_force(date(2024, 1, 1)).model).in_population is False
