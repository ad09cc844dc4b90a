#!/usr/bin/env python3
"""PyTorch peer of `bitbench-cli bench`: the same LeNet-5 training steps, timed as images/s.

Cases (--case, repeatable; all three by default), batch 128 on synthetic MNIST-shaped data
(28 x 28 x 1 bytes, 10 classes, 4 distinct batches used in turn, as `bench` does):

  lenet5:ffff     WAGE's LeNet-5 in float: conv 5x5 32 VALID, max-pool 2, relu, conv 5x5 64 VALID,
                  max-pool 2, relu, fc 512, relu, fc 10, no biases; input X/256; SSE loss
                  0.5 * sum((logits - onehot)^2) summed over the batch; plain SGD (lr 0.01, as
                  bitbench's lr_float).
  lenet5:28f8     the same net with WAGE's quantizers (ALGORITHMS.md 1.2) as custom autograd
                  Functions: Q_W ternary / alpha with a straight-through backward, Q_A 8 bits with
                  the clip mask, Q_E 8 bits through Shift(max|e|) in the backward only; the input
                  goes through Q_A; float G: W <- C(W, 2) - lr * g.
  lenet5:2888     the same with Q_G as well (an optimizer: Shift(max|g|), the 16-bit grid, stochastic
                  rounding to multiples of 1/128, W <- C(W, 2) - dW, lr 8 as bitbench's default),
                  the PyTorch counterpart of bitbench's integer engine.
  lenet5-bn:ffff  the op graph lenet5-bn in float: batch norm after conv1, conv2 and fc1, fc2 with
                  a bias; softmax cross-entropy; SGD with momentum 0.9 and weight decay 1e-4.
  lenet5-bn:banner8-sim  the same net under bitbench's banner8-sim preset (Banner et al., the
                  authors' float simulation): range BN with 8-bit scale, gamma and beta; 8-bit
                  min/max weights and running-range activations on every product's and BN's
                  input; 8-bit stochastic errors on every product's and BN's output gradient; the
                  weight gradient from the float32 copy; lr 0.1.

What is timed matches `bitbench-cli bench`: `--steps` training steps after `--warmup` untimed
ones (bytes to float input, forward, loss, backward, update, and the NaN / infinity check of the
loss and every weight), then, separately, as many evaluation batches (forward, loss, error
count). Each is repeated `--reps` times; the median is reported. Evaluation is not part of the
training figure.
"""
import argparse
import json
import math
import os
import statistics
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

BATCHES = 4
CASES = ("lenet5:ffff", "lenet5:28f8", "lenet5:2888", "lenet5-bn:ffff", "lenet5-bn:banner8-sim")
LR_FLOAT = 0.01  # bitbench's default lr_float; --lr changes it
LR_WAGE = 8.0    # bitbench's default lr (epoch 0), in units of Q_G's steps
LR_SGD = 0.01    # the float-sgd preset's lr (lenet5-bn)
LR_BANNER = 0.1  # the banner8 presets' lr (epoch 0)


# --- WAGE primitives (ALGORITHMS.md 1.1) --------------------------------------------------------

def q(x, bits):
    """Q(x, k) = sigma(k) round(x / sigma(k)); torch.round rounds half to even."""
    s = 2.0 ** (bits - 1)
    return torch.round(x * s) / s


def clip(x, bits):
    """C(x, k): clip to +-(1 - sigma(k))."""
    lim = 1.0 - 2.0 ** (1 - bits)
    return x.clamp(-lim, lim)


def shift(m):
    """Shift(m) = 2^round(log2 m) for a positive scalar tensor."""
    return torch.pow(2.0, torch.round(torch.log2(m)))


class QuantW(torch.autograd.Function):
    """Forward weights Q(C(W, k), k) / alpha; straight-through backward, no clip mask."""

    @staticmethod
    def forward(ctx, w, bits, alpha):
        return q(clip(w, bits), bits) / alpha

    @staticmethod
    def backward(ctx, g):
        return g, None, None


class QuantA(torch.autograd.Function):
    """Activations Q(C(x, k), k); the backward passes the rounding but keeps the clip mask."""

    @staticmethod
    def forward(ctx, x, bits):
        lim = 1.0 - 2.0 ** (1 - bits)
        ctx.save_for_backward((x >= -lim) & (x <= lim))
        return q(x.clamp(-lim, lim), bits)

    @staticmethod
    def backward(ctx, g):
        (mask,) = ctx.saved_tensors
        return g * mask, None


class QuantE(torch.autograd.Function):
    """Identity forward; the backward quantizes the error: Q(C(e / Shift(max|e|), k), k)."""

    @staticmethod
    def forward(ctx, x, bits):
        ctx.bits = bits
        return x.view_as(x)

    @staticmethod
    def backward(ctx, e):
        m = e.abs().max()
        if m.item() == 0:
            return torch.zeros_like(e), None
        return q(clip(e / shift(m), ctx.bits), ctx.bits), None


class WageUpdate(torch.optim.Optimizer):
    """Q_G and the WAGE step: W <- C(W, kW) - dW, dW = sigma(kG) * SR(Q(lr * g / Shift(max|g|), 16))."""

    def __init__(self, params, lr, bits_g=8, bits_w=2):
        super().__init__(params, dict(lr=lr, bits_g=bits_g, bits_w=bits_w))

    @torch.no_grad()
    def step(self):
        for group in self.param_groups:
            for p in group["params"]:
                m = p.grad.abs().max()
                if m.item() == 0:  # no update, but the clip still applies
                    p.copy_(clip(p, group["bits_w"]))
                    continue
                v = q(group["lr"] * p.grad / shift(m), 16)
                mag = v.abs()
                whole = mag.floor()
                n = torch.sign(v) * (whole + (torch.rand_like(mag) < mag - whole).float())
                p.copy_(clip(p, group["bits_w"]) - n * 2.0 ** (1 - group["bits_g"]))


# --- Models -------------------------------------------------------------------------------------

class Lenet5(nn.Module):
    """WAGE's LeNet-5 without biases; `bits` is ffff, 28f8 (W 2, A 8, E 8 bits) or 2888 (and G 8 bits)."""

    SHAPES = ((32, 1, 5, 5), (64, 32, 5, 5), (512, 1024), (10, 512))

    def __init__(self, bits, generator):
        super().__init__()
        self.bits = bits
        self.quant = quant = bits != "ffff"
        self.alphas = []
        weights = []
        for shape in self.SHAPES:
            fan_in = math.prod(shape[1:])
            l_msra = math.sqrt(3.0 / fan_in)
            limit, alpha = l_msra, 1.0
            if quant:  # ALGORITHMS.md 1.2: W_m = 1.5 sigma(2), L = max(W_m, L_msra)
                w_m = 1.5 * 0.5
                limit = max(w_m, l_msra)
                alpha = max(1.0, 2.0 ** round(math.log2(w_m / l_msra)))
            w = (torch.rand(shape, generator=generator) * 2 - 1) * limit
            weights.append(nn.Parameter(q(w, 2) if quant else w))
            self.alphas.append(alpha)
        self.weights = nn.ParameterList(weights)

    def prepare(self, images):
        x = images.float() / 256.0
        return q(clip(x, 8), 8) if self.quant else x

    def act(self, x):
        x = F.relu(x)
        # Forward relu -> Q_E -> Q_A, so the backward runs clip mask -> Q_E -> relu mask -> routing.
        return QuantA.apply(QuantE.apply(x, 8), 8) if self.quant else x

    def forward(self, x):
        w = [QuantW.apply(p, 2, a) for p, a in zip(self.weights, self.alphas)] if self.quant else list(self.weights)
        x = self.act(F.max_pool2d(F.conv2d(x, w[0]), 2))
        x = self.act(F.max_pool2d(F.conv2d(x, w[1]), 2))
        x = self.act(F.linear(x.flatten(1), w[2]))
        x = F.linear(x, w[3])
        # The logits: Q_A, then Q_E, whose backward comes before the clip mask (the reference order).
        return QuantE.apply(QuantA.apply(x, 8), 8) if self.quant else x

    def loss(self, logits, labels):
        return 0.5 * (logits - F.one_hot(labels, 10).float()).pow(2).sum()

    def optimizer(self, lr):
        if self.bits == "2888":
            return WageUpdate(self.parameters(), LR_WAGE)
        return torch.optim.SGD(self.parameters(), lr=lr)

    def before_step(self):
        if self.bits == "28f8":  # W <- C(W, kW) - lr g
            with torch.no_grad():
                for p in self.weights:
                    p.clamp_(-0.5, 0.5)


class SgdCrossEntropy(nn.Module):
    """The float-sgd and banner8 recipes: X/256 input, cross-entropy, SGD momentum 0.9, wd 1e-4."""

    def prepare(self, images):
        return images.float() / 256.0

    def loss(self, logits, labels):
        return F.cross_entropy(logits, labels)

    def optimizer(self, lr):
        return torch.optim.SGD(self.parameters(), lr=lr, momentum=0.9, weight_decay=1e-4)

    def before_step(self):
        pass


class Lenet5Bn(SgdCrossEntropy):
    """The op graph lenet5-bn (core/src/graph/graph_builtin.cpp) in float."""

    def __init__(self, generator):
        super().__init__()
        del generator  # PyTorch's default initialization, as a researcher would leave it
        self.conv1 = nn.Conv2d(1, 32, 5, bias=False)
        self.bn1 = nn.BatchNorm2d(32)
        self.conv2 = nn.Conv2d(32, 64, 5, bias=False)
        self.bn2 = nn.BatchNorm2d(64)
        self.fc1 = nn.Linear(1024, 512, bias=False)
        self.bn3 = nn.BatchNorm1d(512)
        self.fc2 = nn.Linear(512, 10)

    def forward(self, x):
        x = F.relu(F.max_pool2d(self.bn1(self.conv1(x)), 2))
        x = F.relu(F.max_pool2d(self.bn2(self.conv2(x)), 2))
        x = F.relu(self.bn3(self.fc1(x.flatten(1))))
        return self.fc2(x)


# --- Banner et al. 2018 (ALGORITHMS.md 2): the banner8-sim step --------------------------------

def uniform_quantize(x, bits, lo, hi, stochastic=False):
    """The authors' UniformQuantize forward: min/max, clamp before round, zero point = min."""
    qmax = 2.0 ** bits - 1.0
    scale = torch.clamp((hi - lo) / qmax, min=1e-8)
    v = (x - lo) / scale
    if stochastic:
        v = v + torch.empty_like(v).uniform_(-0.5, 0.5)
    return v.clamp(0.0, qmax).round() * scale + lo


class QuantSte(torch.autograd.Function):
    """Forward: uniform_quantize per tensor (min/max of x unless given); backward: straight through."""

    @staticmethod
    def forward(ctx, x, bits, lo=None, hi=None):
        return uniform_quantize(x, bits, x.min() if lo is None else lo, x.max() if hi is None else hi)

    @staticmethod
    def backward(ctx, g):
        return g, None, None, None


class QuantGrad(torch.autograd.Function):
    """Identity forward; the gradient quantized to 8 bits per tensor, stochastic (the error E)."""

    @staticmethod
    def forward(ctx, x):
        return x.view_as(x)

    @staticmethod
    def backward(ctx, g):
        return uniform_quantize(g, 8, g.min(), g.max(), stochastic=True)


class ProductBiprec(torch.autograd.Function):
    """conv or fc on quantized operands; backward: the input gradient from the 8-bit stochastic
    error, the weight gradient from the float32 copy (gradient bifurcation)."""

    @staticmethod
    def forward(ctx, x, w, conv):
        ctx.save_for_backward(x, w)
        ctx.conv = conv
        return F.conv2d(x, w) if conv else x @ w.t()

    @staticmethod
    def backward(ctx, g):
        x, w = ctx.saved_tensors
        g8 = uniform_quantize(g, 8, g.min(), g.max(), stochastic=True)
        if ctx.conv:
            dx = torch.nn.grad.conv2d_input(x.shape, w, g8)
            dw = torch.nn.grad.conv2d_weight(x, w.shape, g)
        else:
            dx = g8 @ w
            dw = g.t() @ x
        return dx, dw, None


class QuantMeasure(nn.Module):
    """8-bit activations with a running range: in training the batch mean of each sample's min and
    max (running = 0.1 * running + 0.9 * batch); evaluation uses the running values."""

    def __init__(self):
        super().__init__()
        self.register_buffer("lo", torch.zeros(()))
        self.register_buffer("hi", torch.zeros(()))

    def forward(self, x):
        if self.training:
            flat = x.detach().flatten(1)
            lo, hi = flat.min(1)[0].mean(), flat.max(1)[0].mean()
            self.lo.mul_(0.1).add_(0.9 * lo)
            self.hi.mul_(0.1).add_(0.9 * hi)
        else:
            lo, hi = self.lo, self.hi
        return QuantSte.apply(x, 8, lo, hi)


class RangeBn(nn.Module):
    """Range batch norm with 16 chunks and 8-bit scale, gamma and beta; gradients through the mean
    and each chunk's max and min (autograd)."""

    def __init__(self, c):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(c))
        self.bias = nn.Parameter(torch.zeros(c))
        self.register_buffer("running_mean", torch.zeros(c))
        self.register_buffer("running_scale", torch.zeros(c))

    def forward(self, x):
        c = x.shape[1]
        shape = (1, c) + (1,) * (x.dim() - 2)
        if self.training:
            v = x.transpose(0, 1).reshape(c, 16, -1)  # (b, y, x) order cut into 16 runs
            mean = v.mean((1, 2))
            n = v.shape[2]
            fix = 0.5 * 0.35 * (1 + math.sqrt(math.pi * math.log(4))) / math.sqrt(2 * math.log(n))
            scale = 1.0 / ((v.max(2)[0].mean(1) - v.min(2)[0].mean(1)) * fix + 1e-5)
            self.running_mean.mul_(0.1).add_(0.9 * mean.detach())
            self.running_scale.mul_(0.1).add_(0.9 * scale.detach())
        else:
            mean, scale = self.running_mean, self.running_scale
        out = (x - mean.view(shape)) * QuantSte.apply(scale, 8).view(shape)
        return out * QuantSte.apply(self.weight, 8).view(shape) + QuantSte.apply(self.bias, 8).view(shape)


class Lenet5Banner(SgdCrossEntropy):
    """lenet5-bn under the banner8-sim preset: range BN with 8-bit parameters, every product's and
    BN's input quantized forward (8-bit running range), every product's and BN's output gradient
    quantized to 8 bits (stochastic), weights 8-bit per tensor, the weight gradient from a float32
    copy; float master weights, SGD momentum 0.9, weight decay 1e-4, cross-entropy."""

    def __init__(self, generator):
        super().__init__()
        del generator
        self.conv1 = nn.Conv2d(1, 32, 5, bias=False)
        self.conv2 = nn.Conv2d(32, 64, 5, bias=False)
        self.fc1 = nn.Linear(1024, 512, bias=False)
        self.fc2 = nn.Linear(512, 10)
        self.bns = nn.ModuleList([RangeBn(32), RangeBn(64), RangeBn(512)])
        self.qs = nn.ModuleList([QuantMeasure() for _ in range(7)])

    def product(self, x, layer, conv):
        return ProductBiprec.apply(x, QuantSte.apply(layer.weight, 8), conv)

    def block(self, x, i, layer, conv):
        # product (input already quantized), E at its output, A before BN, BN, E at BN's output
        y = self.product(x, layer, conv)
        return QuantGrad.apply(self.bns[i](self.qs[2 * i + 1](y)))

    def forward(self, x):
        x = self.qs[0](x)
        x = self.qs[2](F.relu(F.max_pool2d(self.block(x, 0, self.conv1, True), 2)))
        x = self.qs[4](F.relu(F.max_pool2d(self.block(x, 1, self.conv2, True), 2)))
        x = self.qs[6](F.relu(self.block(x.flatten(1), 2, self.fc1, False)))
        return self.product(x, self.fc2, False) + self.fc2.bias


def make_model(case, generator):
    if case in ("lenet5:ffff", "lenet5:28f8", "lenet5:2888"):
        return Lenet5(case.split(":")[1], generator)
    if case == "lenet5-bn:ffff":
        return Lenet5Bn(generator)
    if case == "lenet5-bn:banner8-sim":
        return Lenet5Banner(generator)
    raise SystemExit(f"torch_peer: unknown case '{case}'; cases are {', '.join(CASES)}")


# --- Timing -------------------------------------------------------------------------------------

def blas_libraries():
    """The BLAS and LAPACK libraries this process has mapped (real paths), from /proc/self/maps."""
    found = set()
    try:
        with open("/proc/self/maps") as f:
            for line in f:
                path = line.split()[-1] if len(line.split()) >= 6 else ""
                name = os.path.basename(path)
                if "blas" in name or "lapack" in name:
                    found.add(os.path.realpath(path))
    except OSError:
        pass
    return sorted(found)


def matmul_gflops(n=2048, reps=3):
    """GFLOP/s of an n x n float32 matmul, best of `reps`, per wall and per CPU second: tells a
    tuned BLAS from the reference one."""
    a, b = torch.rand(n, n), torch.rand(n, n)
    torch.mm(a, b)
    wall = cpu = math.inf
    for _ in range(reps):
        t0, c0 = time.perf_counter(), time.process_time()
        torch.mm(a, b)
        wall, cpu = min(wall, time.perf_counter() - t0), min(cpu, time.process_time() - c0)
    return 2.0 * n ** 3 / wall / 1e9, 2.0 * n ** 3 / cpu / 1e9


def case_lr(case, args):
    """--lr is the float-G rate of the WAGE patterns; 2888 and the float-sgd preset keep their own."""
    if case == "lenet5-bn:banner8-sim":
        return LR_BANNER
    return LR_WAGE if case == "lenet5:2888" else LR_SGD if case.startswith("lenet5-bn") else args.lr


def run_case(case, args):
    gen = torch.Generator().manual_seed(args.seed)
    model = make_model(case, gen)
    opt = model.optimizer(case_lr(case, args))
    B = args.batch
    images = torch.randint(0, 256, (BATCHES * B, 1, 28, 28), dtype=torch.uint8, generator=gen)
    labels = torch.randint(0, 10, (BATCHES * B,), dtype=torch.int64, generator=gen)
    test_images = torch.randint(0, 256, (BATCHES * B, 1, 28, 28), dtype=torch.uint8, generator=gen)
    test_labels = torch.randint(0, 10, (BATCHES * B,), dtype=torch.int64, generator=gen)
    params = list(model.parameters())
    state = {"step": 0, "non_finite": 0}

    def train(count):
        model.train()
        for _ in range(count):
            b = state["step"] % BATCHES
            x = model.prepare(images[b * B:(b + 1) * B])
            y = labels[b * B:(b + 1) * B]
            loss = model.loss(model(x), y)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            model.before_step()
            opt.step()
            # The divergence check bitbench makes after every step.
            if not math.isfinite(loss.item()) or not all(bool(torch.isfinite(p).all()) for p in params):
                state["non_finite"] += 1
            state["step"] += 1

    def evaluate(count):
        model.eval()
        errors = 0
        with torch.no_grad():
            for i in range(count):
                b = i % BATCHES
                y = test_labels[b * B:(b + 1) * B]
                logits = model(model.prepare(test_images[b * B:(b + 1) * B]))
                loss = model.loss(logits, y).item()
                errors += int((logits.argmax(1) != y).sum())
        return loss, errors

    def timed(fn):
        t0, c0 = time.perf_counter(), time.process_time()
        fn(args.steps)
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
        images_done = args.steps * B
        return images_done / wall, images_done / cpu

    train(args.warmup)
    evaluate(args.warmup)
    train_runs = [timed(train) for _ in range(args.reps)]
    eval_runs = [timed(evaluate) for _ in range(args.reps)]
    model_name, bits = case.split(":")
    return {
        "model": model_name,
        "bits": bits,
        "threads": torch.get_num_threads(),
        "batch": B,
        "steps": args.steps,
        "warmup": args.warmup,
        "reps": args.reps,
        "train_images_per_s": statistics.median(r[0] for r in train_runs),
        "train_images_per_cpu_s": statistics.median(r[1] for r in train_runs),
        "eval_images_per_s": statistics.median(r[0] for r in eval_runs),
        "eval_images_per_cpu_s": statistics.median(r[1] for r in eval_runs),
        "train_runs_images_per_s": [round(r[0], 1) for r in train_runs],
        "non_finite_steps": state["non_finite"],
        "lr": case_lr(case, args),
        "torch": torch.__version__,
        "blas": blas_libraries(),
    }


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--case", action="append", choices=CASES, help="model:pattern (repeatable; default all)")
    p.add_argument("--threads", type=int, default=2, help="torch.set_num_threads (default 2)")
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--steps", type=int, default=50, help="timed steps per repetition (default 50)")
    p.add_argument("--warmup", type=int, default=5, help="untimed steps before timing (default 5)")
    p.add_argument("--reps", type=int, default=3, help="timed repetitions; the median is reported (default 3)")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--lr", type=float, default=LR_FLOAT,
                   help="SGD learning rate of the float-G patterns (default 0.01, bitbench's lr_float; with the "
                        "summed SSE of lenet5 ffff on random data it diverges within a few steps, as bitbench does; "
                        "bench/peer passes 0.001)")
    p.add_argument("--matmul", action="store_true", help="only time a 2048 x 2048 matmul and name the BLAS")
    p.add_argument("--json", action="store_true", help="one JSON object per line instead of text")
    args = p.parse_args()
    if min(args.threads, args.batch, args.steps, args.reps) < 1 or args.warmup < 0:
        p.error("--threads, --batch, --steps and --reps must be positive, --warmup not negative")
    torch.set_num_threads(args.threads)

    if args.matmul:
        wall, cpu = matmul_gflops()
        r = {"matmul_2048_gflops": wall, "matmul_2048_gflops_per_cpu_s": cpu, "threads": torch.get_num_threads(),
             "blas": blas_libraries()}
        print(json.dumps(r) if args.json else
              f"2048 x 2048 float32 matmul, {r['threads']} threads: {wall:.1f} GFLOP/s ({cpu:.1f} per CPU s); "
              f"BLAS mapped: {', '.join(r['blas']) or 'none'}")
        return 0

    for case in args.case or CASES:
        r = run_case(case, args)
        if args.json:
            print(json.dumps(r), flush=True)
        else:
            print(f"{r['model']:<10} {r['bits']}  train {r['train_images_per_s']:8.0f} img/s "
                  f"({r['train_images_per_cpu_s']:.0f} per CPU s)  eval {r['eval_images_per_s']:8.0f} img/s  "
                  f"non-finite steps {r['non_finite_steps']}", flush=True)
    if not args.json:
        print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, BLAS mapped: "
              f"{', '.join(blas_libraries()) or 'none'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
