"""Failures surface as ReconpatchError with the library's code, constant name and message, read on
the thread that made the failing call."""
import threading

import numpy as np
import pytest

import reconpatch as rp
from reconpatch import errors


def test_errors__io_error_carries_code_name_and_message(tmp_path):
    missing = tmp_path / "missing.png"
    with pytest.raises(rp.ReconpatchError) as info:
        rp.Image.from_file(missing)
    e = info.value
    assert e.code == errors.E_IO == -3
    assert e.name == "RP_E_IO"
    assert "rp_image_load_file" in e.message and str(missing) in e.message
    assert e.message in str(e) and "RP_E_IO" in str(e)


def test_errors__damaged_data_is_a_format_error():
    with pytest.raises(rp.ReconpatchError) as info:
        rp.Image.from_bytes(b"\x89PNG\r\n\x1a\n this is not a PNG")
    assert (info.value.code, info.value.name) == (errors.E_FORMAT, "RP_E_FORMAT")
    assert "rp_image_load_memory" in info.value.message


def test_errors__shape_mismatch_names_both_dims():
    with rp.Bank(8) as bank:
        with pytest.raises(rp.ReconpatchError) as info:
            bank.add(np.zeros((3, 5), np.float32))
    assert info.value.code == errors.E_SHAPE
    assert "rp_bank_add" in info.value.message and "5" in info.value.message and "8" in info.value.message


def test_errors__state_error_before_freeze():
    with rp.Bank(4) as bank:
        bank.add(np.eye(4, dtype=np.float32))
        with pytest.raises(rp.ReconpatchError) as info:
            bank.search(np.zeros(4, np.float32), k=1)
    assert info.value.name == "RP_E_STATE"


def test_errors__invalid_params_field_is_refused_by_the_library():
    with pytest.raises(rp.ReconpatchError) as info:
        rp.Bank(4, coreset_ratio=1.5)
    assert info.value.code == errors.E_INVALID_ARG and "rp_bank_create" in info.value.message


def test_errors__subclasses_are_the_builtin_exceptions_that_fit():
    with pytest.raises(ValueError) as bad:
        rp.Bank(4, coreset_ratio=1.5)
    assert isinstance(bad.value, rp.InvalidArgumentError) and bad.value.code is rp.ErrorCode.INVALID_ARG
    with pytest.raises(OSError) as missing:
        rp.Image.from_file("/nonexistent/x.png")
    assert isinstance(missing.value, rp.ReconpatchIOError) and "rp_image_load_file" in str(missing.value)
    with pytest.raises(ValueError) as shape:
        rp.Bank(3).add(np.zeros((1, 2), np.float32))
    assert isinstance(shape.value, rp.ShapeError)
    with pytest.raises(RuntimeError) as state:
        rp.Bank(4).search(np.zeros(4, np.float32), k=1)
    assert isinstance(state.value, rp.StateError)
    # a code from a newer library: the base class, its number kept
    newer = errors.error_for(-99, "from the future")
    assert type(newer) is rp.ReconpatchError and newer.code == -99


def test_errors__bank_without_dim_takes_the_first_adds():
    with rp.Bank() as bank:
        bank.add(np.eye(3, dtype=np.float32))
        assert bank.dim == 3


def test_errors__unknown_params_field_is_a_type_error():
    with pytest.raises(TypeError, match="coreset_ratioo"):
        rp.Bank(4, coreset_ratioo=0.5)


def test_errors__error_names_come_from_the_library():
    assert rp.error_name(-4) == "RP_E_FORMAT"
    assert rp.error_name(errors.E_CANCELLED) == "RP_E_CANCELLED"
    assert rp.error_name(-999) == "RP_E_UNKNOWN"


def test_errors__success_after_failure_leaves_no_stale_error():
    with pytest.raises(rp.ReconpatchError):
        rp.Bank(4, coreset_ratio=1.5)
    with rp.Bank(2) as bank:  # succeeds: the thread's error is cleared
        assert bank.dim == 2
    assert errors.last_error().code == 0 and errors.last_error().message == ""


def test_errors__each_thread_sees_its_own_error():
    # Four threads fail at once in different ways; each must get its own code and message.
    failures = [
        (lambda: rp.Image.from_bytes(b"garbage!"), errors.E_FORMAT, "rp_image_load_memory"),
        (lambda: rp.Bank(4, coreset_ratio=1.5), errors.E_INVALID_ARG, "rp_bank_create"),
        (lambda: rp.Image.from_file("/nonexistent/x.png"), errors.E_IO, "rp_image_load_file"),
        (lambda: rp.Bank(3).add(np.zeros((1, 2), np.float32)), errors.E_SHAPE, "rp_bank_add"),
    ]
    seen = {}
    barrier = threading.Barrier(len(failures))

    def run(i, fn):
        barrier.wait()
        got = []
        for _ in range(200):
            try:
                fn()
            except rp.ReconpatchError as e:
                got.append((e.code, e.message.split(":")[0]))
        seen[i] = got

    threads = [threading.Thread(target=run, args=(i, f)) for i, (f, _, _) in enumerate(failures)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for i, (_, code, fn_name) in enumerate(failures):
        assert seen[i] == [(code, fn_name)] * 200
