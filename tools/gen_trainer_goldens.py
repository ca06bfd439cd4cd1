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


def pseudo_labels(zt, sigma, k, alpha, normalize=True):
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


def main():
    torch.set_default_dtype(torch.float64)
    os.makedirs(OUT, exist_ok=True)
    write(os.path.join(OUT, 'linear.txt'), linear_case())
    write(os.path.join(OUT, 'mlp.txt'), mlp_case())
    write(os.path.join(OUT, 'ties.txt'), ties_case())


if __name__ == '__main__':
    main()
