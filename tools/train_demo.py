"""Train the bundled demo model: a small CNN classifying scikit-learn's 8x8 handwritten digits.

    pip install scikit-learn jax      # training only; running the demo needs neither
    python -m arrayrt.tools.train_demo [--out arrayrt/models/digits]

Writes ``digits_cnn.xml``/``.bin`` (IR v11, built with ``arrayrt.opset``) and ``heldout.npz``
(the images and labels the model never saw). The split and the initialisation are seeded, so a rerun
reproduces the same model up to floating-point summation order.

Architecture: the raw pixel values (0..16) are scaled inside the model, then two 3x3 conv + ReLU +
2x2 max-pool stages (16 and 32 channels), a 64-unit dense layer and a 10-way softmax. The batch
dimension is dynamic.
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent.parent / "arrayrt" / "models" / "digits"


def load_digits_split(seed: int = 0, heldout: int = 297):
    from sklearn.datasets import load_digits

    d = load_digits()
    x = d.images.astype(np.float32)[:, None, :, :]  # N,1,8,8 values 0..16
    y = d.target.astype(np.int64)
    order = np.random.default_rng(seed).permutation(len(y))
    test, train = order[:heldout], order[heldout:]
    return x[train], y[train], x[test], y[test]


def train(x, y, epochs: int = 40, seed: int = 0, lr: float = 3e-3, batch: int = 64):
    import jax
    import jax.numpy as jnp

    def init(key):
        ks = jax.random.split(key, 4)

        def he(k, shape, fan_in):
            return jax.random.normal(k, shape) * jnp.sqrt(2.0 / fan_in)

        return {"c1": he(ks[0], (16, 1, 3, 3), 9), "b1": jnp.zeros(16),
                "c2": he(ks[1], (32, 16, 3, 3), 144), "b2": jnp.zeros(32),
                "f1": he(ks[2], (64, 128), 128), "bf1": jnp.zeros(64),
                "f2": he(ks[3], (10, 64), 64), "bf2": jnp.zeros(10)}

    def forward(p, img):
        h = img / 16.0
        for w, b in (("c1", "b1"), ("c2", "b2")):
            h = jax.lax.conv_general_dilated(h, p[w], (1, 1), ((1, 1), (1, 1)),
                                             dimension_numbers=("NCHW", "OIHW", "NCHW"))
            h = jax.nn.relu(h + p[b][None, :, None, None])
            h = jax.lax.reduce_window(h, -jnp.inf, jax.lax.max, (1, 1, 2, 2), (1, 1, 2, 2), "VALID")
        h = h.reshape(h.shape[0], -1)
        h = jax.nn.relu(h @ p["f1"].T + p["bf1"])
        return h @ p["f2"].T + p["bf2"]

    def loss(p, img, lab):
        logits = forward(p, img)
        return -jnp.mean(jnp.take_along_axis(jax.nn.log_softmax(logits), lab[:, None], axis=1))

    grad = jax.jit(jax.value_and_grad(loss))
    params = init(jax.random.PRNGKey(seed))
    m = jax.tree_util.tree_map(jnp.zeros_like, params)
    v = jax.tree_util.tree_map(jnp.zeros_like, params)
    rng = np.random.default_rng(seed)
    step = 0
    for epoch in range(epochs):
        order = rng.permutation(len(y))
        for i in range(0, len(y), batch):
            idx = order[i: i + batch]
            value, g = grad(params, x[idx], y[idx])
            step += 1
            m = jax.tree_util.tree_map(lambda a, b: 0.9 * a + 0.1 * b, m, g)
            v = jax.tree_util.tree_map(lambda a, b: 0.999 * a + 0.001 * b * b, v, g)
            params = jax.tree_util.tree_map(
                lambda p_, a, b: p_ - lr * (a / (1 - 0.9 ** step)) / (jnp.sqrt(b / (1 - 0.999 ** step)) + 1e-8),
                params, m, v)
        if epoch % 10 == 9:
            print(f"epoch {epoch + 1}: loss {float(value):.4f}")
    return {k: np.asarray(val, dtype=np.float32) for k, val in params.items()}


def build_ir(p: dict[str, np.ndarray]):
    import arrayrt
    import arrayrt.opset as ops

    x = ops.parameter([-1, 1, 8, 8], np.float32, name="image")
    x.output(0).set_names({"image"})
    h = ops.multiply(x, np.array(1.0 / 16.0, np.float32), name="scale")
    for i, (w, b) in enumerate((("c1", "b1"), ("c2", "b2")), start=1):
        h = ops.convolution(h, p[w], [1, 1], [1, 1], [1, 1], [1, 1], name=f"conv{i}")
        h = ops.add(h, p[b].reshape(1, -1, 1, 1), name=f"conv{i}/bias")
        h = ops.relu(h, name=f"conv{i}/relu")
        h = ops.max_pool(h, [2, 2], [1, 1], [0, 0], [0, 0], [2, 2], name=f"pool{i}").output(0)
    h = ops.reshape(h, np.array([0, -1], np.int64), True, name="flatten")
    h = ops.add(ops.matmul(h, p["f1"], False, True, name="fc1"), p["bf1"], name="fc1/bias")
    h = ops.relu(h, name="fc1/relu")
    logits = ops.add(ops.matmul(h, p["f2"], False, True, name="fc2"), p["bf2"], name="logits")
    probs = ops.softmax(logits, 1, name="probs")
    probs.output(0).set_names({"probs"})
    return arrayrt.Model([probs], [x], "digits_cnn")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", type=Path, default=HERE, help="output folder")
    ap.add_argument("--epochs", type=int, default=40)
    args = ap.parse_args(argv)
    import arrayrt

    xtr, ytr, xte, yte = load_digits_split()
    params = train(xtr, ytr, args.epochs)
    model = build_ir(params)
    args.out.mkdir(parents=True, exist_ok=True)
    arrayrt.save_model(model, args.out / "digits_cnn.xml", compress_to_fp16=False)
    np.savez_compressed(args.out / "heldout.npz", images=xte, labels=yte)
    probs = arrayrt.compile_model(args.out / "digits_cnn.xml", "CPU")(xte)[0]
    acc = float(np.mean(np.argmax(probs, 1) == yte))
    print(f"held-out accuracy {acc:.4f} on {len(yte)} images; wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
