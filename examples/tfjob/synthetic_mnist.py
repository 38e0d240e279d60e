"""MNIST-shaped synthetic data and a small classifier for the TFJob examples.

The lab reaches no dataset server (tf.keras.datasets.mnist.load_data() downloads), so
the examples train on synthetic data of MNIST's shape: 28x28 grayscale images, values in
[0, 1], labels 0-9.  Each class is a fixed random "prototype" image; an example is its
class's prototype plus noise.  The classes are learnable but not trivially, so the loss
starts near ln(10) = 2.30 and goes down over a few epochs, which is what the examples show.
Every process that calls ``make_data`` with the same seed gets the same data.
"""
from __future__ import annotations

import numpy as np
import tensorflow as tf

IMAGE_PIXELS = 28 * 28
NUM_CLASSES = 10


def make_data(num_samples: int, seed: int = 0, noise: float = 1.0):
    """(images float32 [num_samples, 784], labels int32 [num_samples])."""
    rng = np.random.default_rng(seed)
    prototypes = rng.random((NUM_CLASSES, IMAGE_PIXELS), dtype=np.float32)
    labels = rng.integers(0, NUM_CLASSES, size=num_samples).astype(np.int32)
    images = prototypes[labels] + noise * rng.standard_normal((num_samples, IMAGE_PIXELS), dtype=np.float32)
    return np.clip(images, 0.0, 1.0).astype(np.float32), labels


class MLP(tf.Module):
    """784 -> hidden (ReLU) -> 10 logits, in plain tf.Variables.

    Plain variables instead of Keras layers keep what a strategy does visible: created
    under ``strategy.scope()`` they become mirrored copies (one per worker) or variables
    placed on the parameter servers.
    """

    def __init__(self, hidden: int = 64, seed: int = 1):
        super().__init__()
        init = tf.random.stateless_normal
        self.w1 = tf.Variable(init((IMAGE_PIXELS, hidden), seed=(seed, 1)) * 0.05, name="w1")
        self.b1 = tf.Variable(tf.zeros([hidden]), name="b1")
        self.w2 = tf.Variable(init((hidden, NUM_CLASSES), seed=(seed, 2)) * 0.05, name="w2")
        self.b2 = tf.Variable(tf.zeros([NUM_CLASSES]), name="b2")

    def __call__(self, images):
        hidden = tf.nn.relu(tf.matmul(images, self.w1) + self.b1)
        return tf.matmul(hidden, self.w2) + self.b2


def loss_fn(model: MLP, images, labels, global_batch_size: int):
    """Cross-entropy summed over this replica's examples, divided by the GLOBAL batch size,
    so that summing the replicas' losses (and gradients) gives the mean over the whole batch."""
    per_example = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=model(images))
    return tf.nn.compute_average_loss(per_example, global_batch_size=global_batch_size)
