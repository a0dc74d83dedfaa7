#!/usr/bin/env python3
"""The PyTorch reference for `mixflow bench` (SPEC section 8): B1 to B4 with the same shapes,
batch, optimiser, data and timing protocol as src/bench/engine.rs, on the CPU with a given
thread count. Prints a table, or with --json the same schema as `mixflow bench --json`.

B2 reads the letters data that `mixflow bench --write-data DIR` writes (bench/compare.sh does
this), so both sides train on the same points.
"""

import argparse
import json
import math
import os
import sys
import time

try:
    import numpy as np
    import torch
    from scipy.optimize import linear_sum_assignment
except ImportError as missing:  # compare.sh checks first; this is for direct use
    sys.exit(f"torch_ref.py needs {missing.name}: pip install -r bench/requirements.txt")

ROUND = 0.6  # seconds per timed round, as ROUND in src/bench/engine.rs
WARMUP_STEPS = 20
B4_CHECK_EVERY, B4_SAMPLES, B4_EULER_STEPS, B4_MAX_STEPS, B4_MARGIN = 100, 2000, 100, 20_000, 0.1


# --- data (src/data/toy.rs) -------------------------------------------------------------------

def moons(n, rng):
    """Two moons, noise 0.2, scaled by 3 and shifted by -1; the first half is the outer arc."""
    outer = np.arange(n) < n // 2
    a = rng.random(n) * math.pi
    x = np.where(outer, np.cos(a), 1.0 - np.cos(a))
    y = np.where(outer, np.sin(a), 1.0 - np.sin(a) - 0.5)
    p = np.stack([x, y], 1) + 0.2 * rng.standard_normal((n, 2))
    return (p * 3.0 - 1.0).astype(np.float32)


# --- networks (src/nn.rs; torch.nn.Linear's default init is U(±1/sqrt(fan_in)), as ours) -------

class Velocity(torch.nn.Module):
    """v(x, t, e): [x, t, e] -> 3 × (128, SiLU) -> D."""

    def __init__(self, dim, cond=0, width=128, hidden=3):
        super().__init__()
        sizes = [dim + 1 + cond] + [width] * hidden
        self.hidden = torch.nn.ModuleList(torch.nn.Linear(a, b) for a, b in zip(sizes, sizes[1:]))
        self.out = torch.nn.Linear(width, dim)

    def forward(self, x, t, e=None):
        h = torch.cat([x, t] if e is None else [x, t, e], 1)
        for layer in self.hidden:
            h = torch.nn.functional.silu(layer(h))
        return self.out(h)


def head(d_in, width, d_out):
    return torch.nn.Sequential(torch.nn.Linear(d_in, width), torch.nn.ReLU(), torch.nn.Linear(width, d_out))


class MixtureBase(torch.nn.Module):
    """MixFlow-OOD's base: encoder E(c), weights head h_p and means head h_Θ; σ fixed."""

    def __init__(self, descriptor_dim, dim, k, sigma=0.1, width=128):
        super().__init__()
        self.encoder = head(descriptor_dim, width, width)
        self.weights = head(width, width, k)
        self.means = head(width, width, k * dim)
        self.k, self.dim, self.sigma = k, dim, sigma

    def forward(self, c):
        e = self.encoder(c)
        b = e.shape[0]
        log_w = torch.log_softmax(self.weights(e), 1)
        means = self.means(e).reshape(b, self.k, self.dim)
        sigmas = torch.full((b, self.k, self.dim), self.sigma)
        return e, log_w, means, sigmas


# --- workloads -----------------------------------------------------------------------------------

def rate(work, min_time=ROUND):
    start, units = time.perf_counter(), 0
    while time.perf_counter() - start < min_time or units == 0:
        units += work()
    return units / (time.perf_counter() - start)


def rf_trainer(batch, seed):
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    net = Velocity(2)
    opt = torch.optim.Adam(net.parameters(), lr=1e-3, betas=(0.9, 0.999), eps=1e-8)

    def step():
        x1 = torch.from_numpy(moons(batch, rng))
        x0 = torch.randn(batch, 2)
        t = torch.rand(batch, 1)
        xt = (1 - t) * x0 + t * x1
        loss = ((net(xt, t) - (x1 - x0)) ** 2).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        value = loss.item()  # the engine reads every loss (divergence is reported at once)
        if math.isfinite(value):
            opt.step()
        return 1

    return net, step


def figure(id_, name, unit, higher, rounds, detail):
    s = sorted(rounds)
    n = len(s)
    median = s[n // 2] if n % 2 else (s[n // 2 - 1] + s[n // 2]) / 2
    return dict(id=id_, name=name, unit=unit, higher_is_better=higher, median=median, min=s[0],
                max=s[-1], rounds=n, threads=torch.get_num_threads(), detail=detail)


def b1(args):
    _, step = rf_trainer(args.batch, 0)
    for _ in range(WARMUP_STEPS):
        step()
    rounds = [rate(step) for _ in range(args.repeats)]
    return figure("B1", "RF train step", "steps/s", True, rounds, f"rf, moons, batch {args.batch}, torch")


def b2(args):
    """MixFlow-OOD: 8 descriptor groups × 64, K = 8, exact OT inside each group, flow Adam
    (betas 0, 0.99) and base Adam (0.9, 0.999), one base step in ten."""
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    table = np.loadtxt(os.path.join(args.data, "letters.csv"), delimiter=",", skiprows=1, dtype=np.float32)
    conds = table[:, 0].astype(int)
    descriptors, points = table[:, 1:-2], table[:, -2:]
    lo, hi = points.min(0), points.max(0)
    points = 2 * (points - lo) / np.maximum(hi - lo, 1e-12) - 1  # min-max to [-1, 1], as Scaler
    pools = {c: (descriptors[conds == c][0], points[conds == c]) for c in np.unique(conds)}
    keys = list(pools)
    groups, per, k, dim, tau = 8, 64, 8, 2, 0.5
    n = groups * per
    base = MixtureBase(descriptors.shape[1], dim, k)
    velocity = Velocity(dim, cond=128)
    flow_opt = torch.optim.Adam(velocity.parameters(), lr=1e-3, betas=(0.0, 0.99), eps=1e-8)
    base_opt = torch.optim.Adam(base.parameters(), lr=1e-3, betas=(0.9, 0.999), eps=1e-8)
    count = [0]

    def step():
        chosen = rng.choice(len(keys), groups, replace=False)
        x1 = np.concatenate([pools[keys[i]][1][rng.integers(0, len(pools[keys[i]][1]), per)] for i in chosen])
        # The base once per group, repeated to the group's rows (as the engine does).
        c = torch.from_numpy(np.stack([pools[keys[i]][0] for i in chosen]))
        e, log_w, means, sigmas = (p.repeat_interleave(per, 0) for p in base(c))
        u = torch.rand(n, k).clamp(1e-10, 1 - 1e-7)
        # The engine's default training draw: straight-through Gumbel-softmax (one-hot forward,
        # the soft draw's gradient), as F.gumbel_softmax(hard=True) computes it.
        soft = torch.softmax((log_w - torch.log(-torch.log(u))) / tau, 1)
        hard = torch.zeros_like(soft).scatter_(1, soft.argmax(1, keepdim=True), 1.0)
        g = (hard - soft.detach() + soft).unsqueeze(2)
        z = (g * means).sum(1) + (g * sigmas).sum(1) * torch.randn(n, dim)
        zn = z.detach().numpy()
        paired = np.empty_like(x1)
        for s in range(0, n, per):
            cost = ((zn[s:s + per, None, :].astype(np.float64) - x1[None, s:s + per, :]) ** 2).sum(2)
            rows, cols = linear_sum_assignment(cost)
            paired[s + rows] = x1[s + cols]
        x1t = torch.from_numpy(paired)
        base_step = count[0] % 10 == 9
        count[0] += 1
        if base_step:
            loss = ((x1t - z) ** 2).sum(1).mean()
            base_opt.zero_grad(set_to_none=True)
            loss.backward()
            if math.isfinite(loss.item()):
                base_opt.step()
            g.detach().squeeze(2).mean(0).max().item()  # the collapse check reads the mean weights
        else:
            t = torch.rand(n, 1)
            z = z.detach()
            xt = (1 - t) * z + t * x1t
            loss = ((velocity(xt, t, e.detach()) - (x1t - z)) ** 2).mean()
            flow_opt.zero_grad(set_to_none=True)
            loss.backward()
            if math.isfinite(loss.item()):
                flow_opt.step()
        return 1

    for _ in range(WARMUP_STEPS):
        step()
    rounds = [rate(step) for _ in range(args.repeats)]
    return figure("B2", "MixFlow-OOD train step", "steps/s", True, rounds,
                  "mixflow-ood, letters, 8×64, K=8, base step 1 in 10, torch")


def euler(net, x, steps):
    h = 1.0 / steps
    with torch.inference_mode():
        for i in range(steps):
            x = x + net(x, torch.full((x.shape[0], 1), i * h)) * h
    return x


def b3(args):
    torch.manual_seed(0)
    net = Velocity(2)
    x0 = torch.randn(args.particles, 2)
    euler(net, x0, args.euler_steps)  # warm-up
    work = args.particles * args.euler_steps
    rounds = []
    for _ in range(args.repeats):
        start = time.perf_counter()
        euler(net, x0, args.euler_steps)
        rounds.append(work / (time.perf_counter() - start))
    return figure("B3", "Euler advection", "particle-steps/s", True, rounds,
                  f"{args.particles} particles × {args.euler_steps} Euler steps, torch")


def w2(a, b):
    cost = ((a[:, None, :].astype(np.float64) - b[None, :, :]) ** 2).sum(2)
    rows, cols = linear_sum_assignment(cost)
    return math.sqrt(cost[rows, cols].mean())


def time_to_quality(batch, seed):
    net, step = rf_trainer(batch, seed)
    rng = np.random.default_rng(10_000 + seed)
    target, second = moons(B4_SAMPLES, rng), moons(B4_SAMPLES, rng)
    floor = w2(second, target)
    base = torch.from_numpy(rng.standard_normal((B4_SAMPLES, 2)).astype(np.float32))
    start, steps = time.perf_counter(), 0
    while steps < B4_MAX_STEPS:
        for _ in range(B4_CHECK_EVERY):
            step()
        steps += B4_CHECK_EVERY
        if w2(euler(net, base, B4_EULER_STEPS).numpy(), target) <= floor + B4_MARGIN:
            return time.perf_counter() - start, steps
    raise RuntimeError(f"B4: W2 did not reach the floor + {B4_MARGIN} within {B4_MAX_STEPS} steps")


def b4(args):
    runs = [time_to_quality(args.batch, seed) for seed in range(args.repeats)]
    reached = ",".join(str(s) for _, s in runs)
    return figure("B4", "time to quality", "s", False, [t for t, _ in runs],
                  f"rf, moons, W2 ≤ floor + {B4_MARGIN}, reached at steps {reached}, torch")


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--threads", type=int, default=os.cpu_count())
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--batch", type=int, default=256)
    p.add_argument("--particles", type=int, default=10_000)
    p.add_argument("--euler-steps", type=int, default=100)
    p.add_argument("--only", default="b1,b2,b3,b4")
    p.add_argument("--data", default="bench/data", help="folder written by `mixflow bench --write-data`")
    p.add_argument("--json", action="store_true")
    args = p.parse_args()
    for name, value, lo, hi in [("repeats", args.repeats, 2, 50), ("batch", args.batch, 2, 65_536),
                                ("particles", args.particles, 1, 1_000_000),
                                ("euler-steps", args.euler_steps, 1, 10_000), ("threads", args.threads, 1, 1024)]:
        if not lo <= value <= hi:
            sys.exit(f"error: --{name} must be between {lo} and {hi}, got {value}")
    torch.set_num_threads(args.threads)
    wanted = [w.strip().upper() for w in args.only.split(",")]
    report = dict(threads=args.threads, backend=f"torch {torch.__version__} cpu", figures=[], skipped=[])
    if not args.json:
        print(f"threads: {args.threads}  backend: {report['backend']}")
    for id_, run in [("B1", b1), ("B2", b2), ("B3", b3), ("B4", b4)]:
        if id_ in wanted:
            fig = run(args)
            report["figures"].append(fig)
            if not args.json:
                print(f"{fig['id']:<4} {fig['name']:<26} {fig['median']:>12.4g} {fig['unit']:<16} "
                      f"range {fig['min']:.4g}–{fig['max']:.4g} ({fig['rounds']} rounds, {fig['threads']} threads)  "
                      f"{fig['detail']}")
    if args.json:
        print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
