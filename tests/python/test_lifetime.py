"""Handles are freed exactly once, borrowers before what they borrow, whatever order Python drops
or closes them in (plain del, explicit close, reference cycles collected by gc.collect())."""
import gc

import numpy as np
import pytest

import reconpatch as rp
from reconpatch import _lib
from conftest import bottle_train_paths

RNG = np.random.default_rng(5)
FREES = ["rp_scorer_free", "rp_bank_free", "rp_embedding_free", "rp_extractor_free", "rp_image_free",
         "rp_model_free", "rp_trainer_free"]


@pytest.fixture
def freed(monkeypatch):
    """The list of (free function, pointer address) calls, in order."""
    calls = []
    for name in FREES:
        original = getattr(_lib.lib, name)

        def record(ptr, _name=name, _original=original):
            calls.append((_name, ctypes_address(ptr)))
            _original(ptr)

        monkeypatch.setattr(_lib.lib, name, record)
    gc.collect()
    calls.clear()
    return calls


def ctypes_address(ptr):
    import ctypes
    return ctypes.cast(ptr, ctypes.c_void_p).value


def features_scorer():
    bank = rp.Bank.from_vectors(RNG.normal(size=(40, 6)).astype(np.float32))
    emb = rp.Embedding(RNG.normal(size=(6, 10)).astype(np.float32))
    scorer = rp.Scorer(bank, embedding=emb, grid_size=3, input_size=24)
    return bank, emb, scorer


def names(calls):
    return [n for n, _ in calls]


def test_lifetime__dropping_the_owners_first_keeps_them_until_the_scorer_goes(freed):
    bank, emb, scorer = features_scorer()
    feats = RNG.normal(size=(9, 10)).astype(np.float32)
    before = scorer.score_features(feats).score
    del bank, emb
    gc.collect()
    assert freed == []
    assert scorer.score_features(feats).score == before  # still valid memory
    del scorer
    gc.collect()
    assert names(freed)[0] == "rp_scorer_free"
    assert sorted(names(freed)[1:]) == ["rp_bank_free", "rp_embedding_free"]


def test_lifetime__closing_an_owner_defers_its_free(freed):
    bank, emb, scorer = features_scorer()
    bank.close()
    emb.close()
    assert bank.closed and emb.closed and freed == []
    with pytest.raises(ValueError, match="closed"):
        bank.size
    scorer.score_features(np.zeros((9, 10), np.float32))
    scorer.close()
    scorer.close()
    assert names(freed)[0] == "rp_scorer_free" and len(freed) == 3
    del bank, emb, scorer
    gc.collect()
    assert len(freed) == 3  # nothing freed twice


def test_lifetime__reference_cycles_collected_in_any_order(freed):
    for _ in range(5):
        bank, emb, scorer = features_scorer()
        # Cycles through every object: the collector finalises them in an arbitrary order.
        bank.cycle = scorer
        emb.cycle = [bank, emb]
        scorer.cycle = emb
        del bank, emb, scorer
        gc.collect()
    assert len(freed) == 15
    for i in range(0, 15, 3):
        group = names(freed[i:i + 3])
        assert group[0] == "rp_scorer_free" and sorted(group[1:]) == ["rp_bank_free", "rp_embedding_free"]


def test_lifetime__close_during_a_call_frees_after_it_returns(freed):
    bank = rp.Bank(4, coreset_count=5)
    bank.add(RNG.normal(size=(60, 4)))

    def progress(p):
        bank.close()  # from inside the call: must not free the bank under it
        assert freed == []

    bank.freeze(progress=progress)
    assert names(freed) == ["rp_bank_free"]


def test_lifetime__model_parts_keep_the_model_alive(weights, freed):
    images = [rp.Image.from_file(p).to_array() for p in bottle_train_paths()[:4]]
    model = rp.Model.train(images, method="reconpatch", batch_size=2,
                           trainer={"epochs": 1, "steps_per_epoch": 2, "batch_size": 128, "repr_dim": 64,
                                    "proj_dim": 32, "val_fraction": -1})
    assert model.method == "reconpatch"
    ex, emb, bank, view = model.extractor, model.embedding, model.bank, model.scorer
    assert (emb.in_dim, emb.out_dim, bank.dim) == (1024, 64, 64)
    ref = model.score(images[0])
    # A scorer of our own over the model's parts: it borrows views that borrow the model.
    mine = rp.Scorer(bank, extractor=ex, embedding=emb)
    del model, ex, emb, bank
    gc.collect()
    assert "rp_model_free" not in names(freed)
    assert view.score(images[0]).score == ref.score
    assert mine.score(images[0]).score == ref.score
    view.close()  # a view's close frees nothing of the model
    assert "rp_model_free" not in names(freed)
    del view
    gc.collect()
    np.testing.assert_array_equal(mine.score(images[0]).map, ref.map)
    del mine
    gc.collect()
    assert names(freed).count("rp_model_free") == 1
    assert names(freed).index("rp_scorer_free") < names(freed).index("rp_model_free")
    assert "rp_extractor_free" not in names(freed)  # the model frees its own parts
