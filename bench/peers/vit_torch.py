# The peer ViT step in PyTorch (eager, CPU). Same model and step as packages/core/bench/vit-throughput.ts
# and vit_tf.py: 28x28x1 images, patch 4, d192, depth 6, 3 heads, MLP x4, class token + fixed position
# embedding, pre-norm blocks with qkv bias, exact (erf) GELU, LayerNorm eps 1e-6, a linear head on the
# mean of the patch tokens, softmax cross-entropy, torch.optim.AdamW (betas 0.9/0.999, eps 1e-8,
# lr 1e-4, weight decay 0.05 on matrices only). Attention is F.scaled_dot_product_attention, as timm.
# Prints one line `RESULT {json}` with train and infer img/s.
#   python vit_torch.py --batch 64 --seconds 15 --threads 2
import argparse
import json
import time

import torch
import torch.nn.functional as F
from torch import nn

IMAGE, PATCH, CHANNELS, DIM, DEPTH, HEADS, MLP = 28, 4, 1, 192, 6, 3, 4
GRID = IMAGE // PATCH
TOKENS = GRID * GRID


class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.norm1 = nn.LayerNorm(DIM, eps=1e-6)
        self.qkv = nn.Linear(DIM, 3 * DIM)
        self.proj = nn.Linear(DIM, DIM)
        self.norm2 = nn.LayerNorm(DIM, eps=1e-6)
        self.fc1 = nn.Linear(DIM, MLP * DIM)
        self.fc2 = nn.Linear(MLP * DIM, DIM)

    def forward(self, x):
        b, n, d = x.shape
        qkv = self.qkv(self.norm1(x)).reshape(b, n, 3, HEADS, d // HEADS).permute(2, 0, 3, 1, 4)
        o = F.scaled_dot_product_attention(qkv[0], qkv[1], qkv[2])
        x = x + self.proj(o.transpose(1, 2).reshape(b, n, d))
        return x + self.fc2(F.gelu(self.fc1(self.norm2(x))))


class Vit(nn.Module):
    def __init__(self):
        super().__init__()
        self.patch = nn.Linear(PATCH * PATCH * CHANNELS, DIM)
        self.cls = nn.Parameter(torch.randn(1, 1, DIM) * 0.02)
        self.register_buffer("pos", torch.randn(1, TOKENS + 1, DIM) * 0.02)
        self.blocks = nn.ModuleList(Block() for _ in range(DEPTH))
        self.norm = nn.LayerNorm(DIM, eps=1e-6)
        self.head = nn.Linear(DIM, 10)

    def features(self, images):  # images [B, H, W, C] as ours
        b = images.shape[0]
        x = images.reshape(b, GRID, PATCH, GRID, PATCH, CHANNELS).permute(0, 1, 3, 2, 4, 5)
        x = self.patch(x.reshape(b, TOKENS, PATCH * PATCH * CHANNELS)) + self.pos[:, 1:]
        x = torch.cat([(self.cls + self.pos[:, :1]).expand(b, -1, -1), x], 1)
        for blk in self.blocks:
            x = blk(x)
        return self.norm(x)[:, 1:].mean(1)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--seconds", type=float, default=15)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)

    model = Vit()
    for mod in model.modules():
        if isinstance(mod, nn.Linear):
            nn.init.xavier_uniform_(mod.weight)
            nn.init.zeros_(mod.bias)
    decay = [p for p in model.parameters() if p.ndim == 2]
    no_decay = [p for p in model.parameters() if p.ndim < 2 or p is model.cls]
    decay = [p for p in decay if p is not model.cls]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.05}, {"params": no_decay, "weight_decay": 0.0}], lr=1e-4)
    images = torch.rand(args.batch, IMAGE, IMAGE, CHANNELS)
    labels = torch.arange(args.batch) % 10

    def train_step():
        opt.zero_grad(set_to_none=True)
        loss = F.cross_entropy(model.head(model.features(images)), labels)
        loss.backward()
        opt.step()
        return loss.item()

    def infer():
        with torch.inference_mode():
            return model.features(images).numpy()

    def rate(fn, seconds):
        for _ in range(3):
            fn()
        calls, start = 0, time.perf_counter()
        while calls < 3 or time.perf_counter() - start < seconds:
            fn()
            calls += 1
        return calls / (time.perf_counter() - start), calls

    train, steps = rate(train_step, args.seconds)
    infer_rate, _ = rate(infer, args.seconds / 2)
    print("RESULT " + json.dumps({
        "name": "torch",
        "backend": f"PyTorch {torch.__version__} (eager)",
        "trainImgPerSec": train * args.batch,
        "inferImgPerSec": infer_rate * args.batch,
        "trainSteps": steps,
    }), flush=True)


if __name__ == "__main__":
    main()
