#!/usr/bin/python3
"""Golden data for tests/unit/trainer (the ReConPatch trainer), computed with plain PyTorch.

Run with Debian's python3 (which has torch):  /usr/bin/python3 tools/gen_trainer_goldens.py
Writes tests/data/trainer/*.txt. Everything the C code computes is re-derived here independently:
the heads in float64 from the same float32 inputs, the pseudo-labels with Python sets for the
neighbour overlaps, the loss gradients with autograd, AdamW and the cosine schedule with torch.optim.

File format (text, read by tests/unit/trainer/golden_text.h): for each array a line
"name count" followed by count values, one per line, printed with 17 significant digits.

Conventions shared with the C code (docs/reconpatch.md):
  - z' rows are L2-normalised before both similarities (unless stated "raw");
  - N_k(i): i first, then ascending squared distance, ties broken by the lower index;
  - c(i,j) = |N_k(i) & N_k(j)| / k for j in N_k(i); query expansion over
    R(i) = {l in N_{k/2}(i) : i in N_{k/2}(l)}; w_c = (c_qe + c_qe^T) / 2;
  - d(i,j) = sqrt(|z_i - z_j|^2 + 1e-12) off the diagonal, 0 on it; mu_i = (1/n) sum_l d(i,l);
    the loss sums j != i and divides by n.
"""
import math
import os
import sys

import numpy as np
import torch

EPS = 1e-12
OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'tests', 'data', 'trainer')


def write(path, arrays):
    with open(path, 'w') as f:
        for name, value in arrays.items():
            a = np.asarray(value, dtype=np.float64).ravel()
            f.write('%s %d\n' % (name, a.size))
            for v in a:
                f.write('%.17g\n' % v)


def linear_params(gen, n_in, n_out):
    """nn.Linear's default initialisation (kaiming-uniform weight, uniform bias), float32."""
    layer = torch.nn.Linear(n_in, n_out).float()
    bound = 1.0 / math.sqrt(n_in)
    with torch.no_grad():
        layer.weight.uniform_(-bound, bound, generator=gen)
        layer.bias.uniform_(-bound, bound, generator=gen)
    return [layer.weight.detach().clone(), layer.bias.detach().clone()]


def heads(params, x):
    """f then g (linear, or linear-ReLU-linear when there are 6 tensors), float64."""
    p = [t.double() for t in params]
    h = x @ p[0].T + p[1]
    if len(p) == 4:
        return h @ p[2].T + p[3]
    return torch.relu(h @ p[2].T + p[3]) @ p[4].T + p[5]


def sq_dists(z):
    return ((z[:, None, :] - z[None, :, :]) ** 2).sum(-1)


def neighbours(d2, k):
    """Row i: i first, then ascending distance, ties by the lower index (stable sort)."""
    key = d2.clone()
    key.fill_diagonal_(-1.0)
    return np.argsort(key.numpy(), axis=1, kind='stable')[:, :k]


def contextual(nbr, k):
    n = nbr.shape[0]
    sets = [set(int(v) for v in nbr[i]) for i in range(n)]
    c = torch.zeros(n, n)
    for i in range(n):
        for j in sets[i]:
            c[i, j] = len(sets[i] & sets[j]) / k
    half = k // 2
    halves = [set(int(v) for v in nbr[i, :half]) for i in range(n)]
    qe = torch.zeros(n, n)
    for i in range(n):
        r = [l for l in sorted(halves[i]) if i in halves[l]]
        qe[i] = c[r].mean(0)
    return c, qe, (qe + qe.T) / 2


def pseudo_labels(zt, sigma, k, alpha, normalize=True, center=False):
    if center:
        zt = zt - zt.mean(dim=0, keepdim=True)
    zn = zt / zt.norm(dim=1, keepdim=True) if normalize else zt
    d2 = sq_dists(zn)
    wp = torch.exp(-d2 / sigma)
    nbr = neighbours(d2, k)
    c, qe, wc = contextual(nbr, k)
    return dict(d2=d2, wp=wp, nbr=nbr, c_raw=c, c_qe=qe, wc=wc, w=alpha * wp + (1 - alpha) * wc)


def relaxed_contrastive(z, w, margin):
    n = z.shape[0]
    off = 1.0 - torch.eye(n)
    d = torch.sqrt(sq_dists(z) + EPS) * off
    mu = d.sum(1, keepdim=True) / n
    delta = d / mu
    term = w * delta ** 2 + (1 - w) * torch.clamp(margin - delta, min=0) ** 2
    return (term * off).sum() / n


def boundary_gap(d2, k):
    """Smallest relative gap between the distances at the k and k/2 boundaries of every row,
    ignoring exact ties (those are the point of the test and resolved by index). A large gap means
    float32 rounding in the C heads cannot reorder the neighbours."""
    gap = math.inf
    for i in range(d2.shape[0]):
        row = np.sort(np.delete(d2[i].numpy(), i))
        for b in (k - 1, k // 2 - 1):
            lo, hi = row[b - 1], row[b]
            if hi != lo:
                gap = min(gap, (hi - lo) / hi)
    return gap


def flat(tensors):
    return torch.cat([t.reshape(-1) for t in tensors])


def heads_case(seed, dims, n, dup, sigma, k, alpha, margin):
    """Random patches (row dup[1] copies row dup[0]) and random online/target heads; the seed is
    advanced until every neighbour boundary is well separated."""
    while True:
        gen = torch.Generator().manual_seed(seed)
        x = torch.randn(n, dims[0], generator=gen).float()
        x[dup[1]] = x[dup[0]]
        online = []
        for a, b in zip(dims[:-1], dims[1:]):
            online += linear_params(gen, a, b)
        target = [t + 0.05 * torch.randn(t.shape, generator=gen).float() for t in online]
        xd = x.double()
        zt = heads(target, xd)
        lab = pseudo_labels(zt, sigma, k, alpha)
        zn = zt / zt.norm(dim=1, keepdim=True)
        if boundary_gap(sq_dists(zn), k) > 1e-3:
            break
        seed += 1
    params = [t.double().requires_grad_(True) for t in online]
    z = heads(params, xd)
    loss = relaxed_contrastive(z, lab['w'], margin)
    loss.backward()
    out = dict(seed=seed, n=n, dims=dims, sigma=sigma, k=k, alpha=alpha, margin=margin, x=x,
               online=flat(online), target=flat(target), zt=zt, z=z.detach(), loss=loss.item(),
               grad=flat([p.grad for p in params]))
    for key in ('d2', 'wp', 'nbr', 'c_raw', 'c_qe', 'wc', 'w'):
        out[key] = lab[key]
    return out


def linear_case():
    c = heads_case(seed=1, dims=[24, 12, 6], n=16, dup=(2, 5), sigma=1.0, k=4, alpha=0.5, margin=1.0)
    # Raw (not normalised) targets: the same z', a wider kernel.
    raw = pseudo_labels(c['zt'], 20.0, 4, 0.5, normalize=False)
    c['raw_sigma'] = 20.0
    c['w_raw'] = raw['w']
    c['wp_raw'] = raw['wp']

    # Two AdamW steps from the online parameters (float32, as the C optimiser stores them).
    p = c['online'].clone().float().requires_grad_(True)
    g1 = c['grad'].float()
    g2 = (0.5 * g1 + 0.01 * torch.cos(torch.arange(p.numel(), dtype=torch.float64))).float()
    opt = torch.optim.AdamW([p], lr=0.01, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.05)
    after = []
    for g in (g1, g2):
        p.grad = g.clone()
        opt.step()
        after.append(p.detach().clone())
    st = opt.state[p]
    c.update(adam_lr=0.01, adam_wd=0.05, adam_g2=g2, adam_p1=after[0], adam_p2=after[1],
             adam_m2=st['exp_avg'], adam_v2=st['exp_avg_sq'])

    # EMA of the target towards the online parameters, float32.
    gamma = 0.9
    t = c['target'].clone().float()
    t.mul_(gamma).add_(c['online'].float(), alpha=1 - gamma)
    c.update(ema_gamma=gamma, ema_target=t)

    # Cosine annealing over 10 steps, 0.01 -> 1e-4.
    dummy = torch.zeros(1, requires_grad=True)
    sgd = torch.optim.SGD([dummy], lr=0.01)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(sgd, T_max=10, eta_min=1e-4)
    lrs = []
    for _ in range(11):
        lrs.append(sched.get_last_lr()[0])
        sgd.step()
        sched.step()
    c.update(cos_lr_max=0.01, cos_lr_min=1e-4, cos_total=10, cos_lr=lrs)
    return c


def mlp_case():
    return heads_case(seed=101, dims=[24, 12, 8, 6], n=16, dup=(3, 11), sigma=0.5, k=6, alpha=0.3,
                      margin=0.8)


def ties_case():
    """Hand-built target outputs whose neighbour lists tie exactly at the k and k/2 boundaries:
    rows 2 and 5 are identical, rows 8 and 9 sit closest to row 7, so N_4(7) = {7, 8, 9, 2}
    (2 beats its twin 5 by index) and the twins see each other at distance 0."""
    gen = torch.Generator().manual_seed(7)
    z = torch.randn(16, 6, generator=gen)
    z[5] = z[2]
    v = torch.randn(6, generator=gen)
    z[7] = z[2] + 0.3 * v / v.norm()
    z[8] = z[7] + 0.05 * torch.randn(6, generator=gen)
    z[9] = z[7] + 0.05 * torch.randn(6, generator=gen)
    z = z.float().double()  # values exactly representable in float32
    k = 4
    lab = pseudo_labels(z, 1.0, k, 0.5)
    nbr = lab['nbr']
    assert list(nbr[7]) == [7, 8, 9, 2] or list(nbr[7]) == [7, 9, 8, 2], nbr[7]
    assert nbr[2][1] == 5 and nbr[5][1] == 2
    out = dict(n=16, dim=6, k=k, sigma=1.0, alpha=0.5, z=z)
    for key in ('d2', 'wp', 'nbr', 'c_raw', 'c_qe', 'wc', 'w'):
        out[key] = lab[key]
    return out


def centered_case():
    """Pseudo-labels from batch-centred target outputs: rows share a large common offset (as the
    outputs of non-negative features through a random head do), which dominates the cosine of
    every pair unless the batch mean is subtracted first."""
    gen = torch.Generator().manual_seed(11)
    z = torch.randn(24, 8, generator=gen) + 4.0 * torch.randn(1, 8, generator=gen)
    z = z.float().double()
    k = 5
    lab = pseudo_labels(z, 1.0, k, 0.9, center=True)
    assert boundary_gap(sq_dists((z - z.mean(0)) / (z - z.mean(0)).norm(dim=1, keepdim=True)), k) > 1e-3
    out = dict(n=24, dim=8, k=k, sigma=1.0, alpha=0.9, z=z)
    for key in ('nbr', 'w'):
        out[key] = lab[key]
    return out


def pca_case():
    """PCA of 300 x 24 float32 rows with well-separated variances (so every eigenvector is defined
    to far below float rounding): numpy's eigh of the float64 covariance, components by decreasing
    eigenvalue, each signed so that its largest-magnitude entry is positive; bias = -W mean."""
    rng = np.random.default_rng(5)
    dim, count, out_dim = 24, 300, 6
    basis, _ = np.linalg.qr(rng.standard_normal((dim, dim)))
    scales = 2.0 ** -np.arange(dim) * 8.0
    x = (rng.standard_normal((count, dim)) * scales) @ basis.T + rng.standard_normal(dim) * 3.0
    x = x.astype(np.float32).astype(np.float64)
    mean = x.mean(axis=0)
    cov = (x - mean).T @ (x - mean)
    vals, vecs = np.linalg.eigh(cov)
    order = np.argsort(vals)[::-1][:out_dim]
    w = vecs[:, order].T
    for i in range(out_dim):
        if w[i, np.argmax(np.abs(w[i]))] < 0:
            w[i] = -w[i]
    return dict(count=count, dim=dim, out_dim=out_dim, x=x, weight=w, bias=-w @ mean)


M64 = (1 << 64) - 1


class Xoshiro256:
    """xoshiro256** seeded by splitmix64, as the trainer's rng.c (an independent port)."""

    def __init__(self, seed):
        self.s = []
        x = seed
        for _ in range(4):
            x = (x + 0x9E3779B97F4A7C15) & M64
            z = x
            z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M64
            z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M64
            self.s.append(z ^ (z >> 31))

    def next(self):
        s = self.s
        rotl = lambda v, k: ((v << k) | (v >> (64 - k))) & M64
        result = (rotl((s[1] * 5) & M64, 7) * 9) & M64
        t = (s[1] << 17) & M64
        s[2] ^= s[0]
        s[3] ^= s[1]
        s[1] ^= s[2]
        s[0] ^= s[3]
        s[2] ^= t
        s[3] = rotl(s[3], 45)
        return result

    def below(self, n):
        return ((self.next() >> 32) * n) >> 32


def sampler_case():
    """Batches of the aligned sampler, written from its documented rule (trainer_internal.h):
    a uniform window of w x w positions, distinct images without replacement, a new window and all
    images again once they are used up. Small sizes so that rounds wrap inside one batch."""
    seed, n_images, grid, window, n, batches = 99, 5, 6, 2, 28, 4
    rng = Xoshiro256(seed)
    order = list(range(n_images))
    out = []
    for _ in range(batches):
        idx, taken = [], n_images
        while len(idx) < n:
            if taken == n_images:
                y0, x0, taken = rng.below(grid - window + 1), rng.below(grid - window + 1), 0
            j = taken + rng.below(n_images - taken)
            order[j], order[taken] = order[taken], order[j]
            img = order[taken]
            taken += 1
            for dy in range(window):
                for dx in range(window):
                    if len(idx) < n:
                        idx.append(img * grid * grid + (y0 + dy) * grid + x0 + dx)
        assert len(set(idx[:n_images * window * window])) == min(n, n_images * window * window)  # one round: distinct
        out.extend(idx)
    return dict(seed=seed, n_images=n_images, grid=grid, window=window, n=n, batches=batches, idx=out)


def main():
    """Write every golden, or only the cases named on the command line (linear mlp ties centered
    pca sampler). Regenerating linear and mlp with another PyTorch build changes the last digits of
    some float64 values (BLAS summation order), far inside the tests' tolerances."""
    torch.set_default_dtype(torch.float64)
    os.makedirs(OUT, exist_ok=True)
    cases = dict(linear=linear_case, mlp=mlp_case, ties=ties_case, centered=centered_case, pca=pca_case,
                 sampler=sampler_case)
    for name in sys.argv[1:] or cases:
        write(os.path.join(OUT, name + '.txt'), cases[name]())


if __name__ == '__main__':
    main()
