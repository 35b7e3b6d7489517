# The peer ViT step in TensorFlow from Python, compiled with tf.function (graph mode: grappler and
# oneDNN fusions, no XLA). Same model and step as packages/core/bench/vit-throughput.ts: 28x28x1
# images, patch 4, d192, depth 6, 3 heads, MLP x4, class token + fixed position embedding, pre-norm
# blocks with qkv bias, exact (erf) GELU, LayerNorm eps 1e-6, a linear head on the mean of the patch
# tokens, softmax cross-entropy, AdamW (betas 0.9/0.999, eps 1e-8, lr 1e-4, weight decay 0.05 on
# matrices only, as splitDecay). Prints one line `RESULT {json}` with train and infer img/s.
#   python vit_tf.py --batch 64 --seconds 15 --threads 2
import argparse
import json
import math
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

IMAGE, PATCH, CHANNELS, DIM, DEPTH, HEADS, MLP = 28, 4, 1, 192, 6, 3, 4
GRID = IMAGE // PATCH
TOKENS = GRID * GRID
EPS = 1e-6


def make_params(rng):
    def xavier(fan_in, fan_out):
        bound = math.sqrt(6 / (fan_in + fan_out))
        return tf.Variable(rng.uniform(-bound, bound, (fan_in, fan_out)).astype(np.float32))

    def const(shape, value):
        return tf.Variable(np.full(shape, value, np.float32))

    p = {
        "patch_w": xavier(PATCH * PATCH * CHANNELS, DIM),
        "patch_b": const([DIM], 0),
        "cls": tf.Variable(rng.normal(0, 0.02, (1, 1, DIM)).astype(np.float32)),
        "head_w": xavier(DIM, 10),
        "head_b": const([10], 0),
        "norm_g": const([DIM], 1),
        "norm_b": const([DIM], 0),
    }
    for i in range(DEPTH):
        p.update({
            f"{i}.n1g": const([DIM], 1), f"{i}.n1b": const([DIM], 0),
            f"{i}.qkv_w": xavier(DIM, 3 * DIM), f"{i}.qkv_b": const([3 * DIM], 0),
            f"{i}.proj_w": xavier(DIM, DIM), f"{i}.proj_b": const([DIM], 0),
            f"{i}.n2g": const([DIM], 1), f"{i}.n2b": const([DIM], 0),
            f"{i}.fc1_w": xavier(DIM, MLP * DIM), f"{i}.fc1_b": const([MLP * DIM], 0),
            f"{i}.fc2_w": xavier(MLP * DIM, DIM), f"{i}.fc2_b": const([DIM], 0),
        })
    return p


def layer_norm(x, g, b):
    mean, var = tf.nn.moments(x, axes=[-1], keepdims=True)
    return (x - mean) * tf.math.rsqrt(var + EPS) * g + b


def features(p, pos, images):
    b = tf.shape(images)[0]
    x = tf.reshape(images, [b, GRID, PATCH, GRID, PATCH, CHANNELS])
    x = tf.reshape(tf.transpose(x, [0, 1, 3, 2, 4, 5]), [b, TOKENS, PATCH * PATCH * CHANNELS])
    x = tf.matmul(x, p["patch_w"]) + p["patch_b"] + pos[:, 1:]
    cls = tf.tile(p["cls"] + pos[:, :1], [b, 1, 1])
    x = tf.concat([cls, x], 1)
    n = TOKENS + 1
    hd = DIM // HEADS
    for i in range(DEPTH):
        h = layer_norm(x, p[f"{i}.n1g"], p[f"{i}.n1b"])
        qkv = tf.matmul(h, p[f"{i}.qkv_w"]) + p[f"{i}.qkv_b"]
        qkv = tf.transpose(tf.reshape(qkv, [b, n, 3, HEADS, hd]), [2, 0, 3, 1, 4])
        q, k, v = qkv[0], qkv[1], qkv[2]
        att = tf.nn.softmax(tf.matmul(q * (1 / math.sqrt(hd)), k, transpose_b=True), -1)
        o = tf.reshape(tf.transpose(tf.matmul(att, v), [0, 2, 1, 3]), [b, n, DIM])
        x = x + tf.matmul(o, p[f"{i}.proj_w"]) + p[f"{i}.proj_b"]
        h = layer_norm(x, p[f"{i}.n2g"], p[f"{i}.n2b"])
        h = tf.nn.gelu(tf.matmul(h, p[f"{i}.fc1_w"]) + p[f"{i}.fc1_b"], approximate=False)
        x = x + tf.matmul(h, p[f"{i}.fc2_w"]) + p[f"{i}.fc2_b"]
    x = layer_norm(x, p["norm_g"], p["norm_b"])
    return tf.reduce_mean(x[:, 1:], 1)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--seconds", type=float, default=15)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    tf.config.threading.set_intra_op_parallelism_threads(args.threads)
    tf.config.threading.set_inter_op_parallelism_threads(args.threads)

    rng = np.random.default_rng(0)
    p = make_params(rng)
    names = sorted(p)
    decay = {n for n in names if len(p[n].shape) == 2}
    pos = tf.constant(rng.normal(0, 0.02, (1, TOKENS + 1, DIM)).astype(np.float32))
    m = {n: tf.Variable(tf.zeros_like(p[n])) for n in names}
    v = {n: tf.Variable(tf.zeros_like(p[n])) for n in names}
    step = tf.Variable(0.0)
    lr, wd, b1, b2, eps = 1e-4, 0.05, 0.9, 0.999, 1e-8
    images = tf.constant(rng.uniform(0, 1, (args.batch, IMAGE, IMAGE, CHANNELS)).astype(np.float32))
    labels = tf.one_hot(np.arange(args.batch) % 10, 10)

    @tf.function
    def train_step(images, labels):
        with tf.GradientTape() as tape:
            logits = tf.matmul(features(p, pos, images), p["head_w"]) + p["head_b"]
            loss = tf.reduce_mean(tf.nn.softmax_cross_entropy_with_logits(labels, logits))
        grads = tape.gradient(loss, [p[n] for n in names])
        step.assign_add(1.0)
        c1 = 1 - tf.pow(b1, step)
        c2 = 1 - tf.pow(b2, step)
        # Read each variable once and assign each once: re-reading a variable after an assign in the
        # same graph costs ~45% of the step here.
        for n, g in zip(names, grads):
            pv, mv, vv = p[n].read_value(), m[n].read_value(), v[n].read_value()
            m_new = mv + (g - mv) * (1 - b1)
            v_new = vv * b2 + g * g * (1 - b2)
            decayed = pv * (1 - lr * wd) if n in decay else pv
            m[n].assign(m_new)
            v[n].assign(v_new)
            p[n].assign(decayed - m_new / (tf.sqrt(v_new) / tf.sqrt(c2) + eps) * (lr / c1))
        return loss

    @tf.function
    def infer(images):
        return features(p, pos, images)

    def rate(fn, seconds):
        for _ in range(3):
            fn()
        calls, start = 0, time.perf_counter()
        while calls < 3 or time.perf_counter() - start < seconds:
            fn()
            calls += 1
        return calls / (time.perf_counter() - start), calls

    train, steps = rate(lambda: float(train_step(images, labels)), args.seconds)
    infer_rate, _ = rate(lambda: infer(images).numpy(), args.seconds / 2)
    print("RESULT " + json.dumps({
        "name": "tf.function",
        "backend": f"TensorFlow {tf.__version__} (Python, tf.function graph)",
        "trainImgPerSec": train * args.batch,
        "inferImgPerSec": infer_rate * args.batch,
        "trainSteps": steps,
    }), flush=True)


if __name__ == "__main__":
    main()
