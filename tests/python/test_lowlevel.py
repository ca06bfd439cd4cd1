"""The handle classes below the one-call API (Bank, Embedding, Trainer, features-only Scorer),
checked against NumPy computations of the same quantities."""
import math

import numpy as np
import pytest

import reconpatch as rp
from reconpatch import errors

RNG = np.random.default_rng(99)


def brute_knn(bank, queries, k):
    d = np.sqrt(((queries[:, None, :].astype(np.float64) - bank[None, :, :]) ** 2).sum(-1))
    idx = np.argsort(d, axis=1)[:, :k]
    return np.take_along_axis(d, idx, axis=1), idx


def test_bank__search_matches_brute_force():
    vectors = RNG.normal(size=(300, 16)).astype(np.float32)
    queries = RNG.normal(size=(25, 16)).astype(np.float32)
    with rp.Bank.from_vectors(vectors) as bank:
        assert (bank.size, bank.dim, bank.frozen, len(bank)) == (300, 16, True, 300)
        np.testing.assert_array_equal(bank.vectors(), vectors)
        np.testing.assert_array_equal(bank.selection(), np.arange(300))
        dist, idx = bank.search(queries, k=4)
    ref_d, ref_i = brute_knn(vectors, queries, 4)
    np.testing.assert_array_equal(idx, ref_i)
    np.testing.assert_allclose(dist, ref_d, rtol=1e-5)


def test_bank__freeze_keeps_the_selected_vectors_and_reports_progress():
    vectors = RNG.normal(size=(400, 8)).astype(np.float32)
    reports = []
    with rp.Bank(8, coreset_count=40, seed=5) as bank:
        bank.add(vectors[:150])
        bank.add(vectors[150:])
        assert not bank.frozen and bank.size == 400
        bank.freeze(progress=reports.append)
        sel = bank.selection()
        assert bank.size == 40 and len(set(sel.tolist())) == 40
        np.testing.assert_array_equal(bank.vectors(), vectors[np.sort(sel)])
    assert reports and all(r.stage == rp.STAGE_CORESET and r.stage_name == "coreset" for r in reports)
    assert reports[-1].done == reports[-1].total
    assert [r.done for r in reports] == sorted(r.done for r in reports)


def test_bank__freeze_cancelled_by_returning_true_leaves_it_open():
    with rp.Bank(4, coreset_count=10) as bank:
        bank.add(RNG.normal(size=(100, 4)))
        with pytest.raises(rp.ReconpatchError) as info:
            bank.freeze(progress=lambda p: True)
        assert info.value.code == errors.E_CANCELLED
        assert not bank.frozen and bank.size == 100
        bank.freeze()
        assert bank.frozen and bank.size == 10


def test_embedding__apply_is_a_linear_map():
    w = RNG.normal(size=(6, 10)).astype(np.float32)
    b = RNG.normal(size=6).astype(np.float32)
    x = RNG.normal(size=(7, 10)).astype(np.float32)
    with rp.Embedding(w, b) as f:
        assert (f.in_dim, f.out_dim) == (10, 6)
        np.testing.assert_allclose(f.apply(x), x.astype(np.float64) @ w.T + b, rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(f.apply(x[0]), x[0].astype(np.float64) @ w.T + b, rtol=1e-5, atol=1e-5)
        np.testing.assert_array_equal(f.weight, w)
        np.testing.assert_array_equal(f.bias, b)
        with pytest.raises(ValueError):
            f.apply(np.zeros((2, 9)))


def small_trainer():
    t = rp.Trainer(repr_dim=12, proj_dim=6, batch_size=64, epochs=2, steps_per_epoch=3, seed=3, num_threads=1)
    for _ in range(4):
        t.add_image_features(RNG.normal(size=(64, 20)).astype(np.float32))
    return t


def test_trainer__trains_and_exports_f_with_its_history():
    with small_trainer() as t:
        assert (t.image_count, t.patch_count) == (4, 256)
        reports = []
        t.train(progress=reports.append)
        assert len(reports) == 6 and all(r.stage == rp.STAGE_TRAIN for r in reports)
        assert [(r.epoch, r.step) for r in reports] == [(0, 0), (0, 1), (0, 2), (1, 0), (1, 1), (1, 2)]
        assert all(math.isfinite(r.loss) for r in reports)
        train_loss, val_loss, best = t.history()
        assert train_loss.shape == (2,) and np.all(np.isfinite(train_loss)) and np.all(np.isfinite(val_loss))
        assert best in (0, 1)
        with t.embedding() as f:
            assert (f.in_dim, f.out_dim) == (20, 12)
        # Same seed, same data, same threads: bit-identical f (the library's promise).
        t.train()
        w_again = t.embedding().weight
        t.train()
        np.testing.assert_array_equal(t.embedding().weight, w_again)


def test_trainer__exception_in_progress_cancels_and_is_reraised():
    class Stop(Exception):
        pass

    calls = []

    def progress(p):
        calls.append(p)
        if p.step == 1:
            raise Stop("enough")

    with small_trainer() as t:
        with pytest.raises(Stop, match="enough") as info:
            t.train(progress=progress)
        assert isinstance(info.value.__cause__, rp.ReconpatchError)
        assert info.value.__cause__.code == errors.E_CANCELLED
        assert len(calls) == 2  # no call after the one that raised
        with pytest.raises(rp.ReconpatchError) as state:
            t.embedding()  # a cancelled training exports nothing
        assert state.value.code == errors.E_STATE


def test_scorer__features_only_scores_match_numpy():
    grid, dim = 4, 8
    bank_vectors = RNG.normal(size=(50, dim)).astype(np.float32)
    features = RNG.normal(size=(grid * grid, dim)).astype(np.float32) * 1.5
    b = 5
    with rp.Bank.from_vectors(bank_vectors) as bank, \
            rp.Scorer(bank, grid_size=grid, input_size=32, reweight_neighbors=b) as scorer:
        info = scorer.info
        assert (info.grid_size, info.input_size, info.bank_size, info.has_extractor) == (grid, 32, 50, 0)
        s = scorer.score_features(features, patch_scores=True, map_input=True)
        with pytest.raises(rp.ReconpatchError) as state:
            scorer.score(np.zeros((8, 8), np.uint8))  # no extractor
        assert state.value.code == errors.E_STATE
    d, i = brute_knn(bank_vectors, features, 1)
    np.testing.assert_allclose(s.patch_scores.ravel(), d[:, 0], rtol=1e-5)
    worst = int(np.argmax(d[:, 0]))
    assert (s.max_patch, s.max_patch_neighbor) == (worst, i[worst, 0])
    assert s.score_max == pytest.approx(d[worst, 0], rel=1e-5)
    # Reweighting (docs/scoring.md): N_b = the b nearest bank vectors of m*, m* included.
    m_star = bank_vectors[i[worst, 0]].astype(np.float64)
    _, support = brute_knn(bank_vectors, m_star[None].astype(np.float32), b)
    dists = np.linalg.norm(bank_vectors[support[0]].astype(np.float64) - features[worst], axis=1)
    reweight = 1 - np.exp(d[worst, 0]) / np.exp(dists).sum()
    assert s.reweight == pytest.approx(reweight, rel=1e-5)
    assert s.score == pytest.approx(reweight * s.score_max, rel=1e-9)
    assert s.decision == rp.DECISION_NONE and s.anomalous is None
    assert s.map_input.shape == (32, 32) and s.map_input.dtype == np.float32
    assert s.map_input.max() <= s.score_max * (1 + 1e-6)  # smoothing never exceeds the peak
