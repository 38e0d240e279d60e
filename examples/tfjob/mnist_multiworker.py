"""Synchronous data-parallel training on several workers (tf.distribute.MultiWorkerMirroredStrategy).

Run by the TFJob in examples/tfjob-mnist.yaml.  The training operator gives each Worker pod
    TF_CONFIG = {"cluster": {"worker": ["<job>-worker-0.<namespace>.svc:2222", ...]},
                 "task": {"type": "worker", "index": <i>}, "environment": "cloud"}
and the strategy reads it: it starts this worker's gRPC server on its port and finds the
others by those DNS names (one headless Service per replica).

Every worker holds a full copy of the model.  In each step every worker computes the
gradients of its own share of the global batch; one collective all-reduce sums them over
gRPC, and every copy applies the same update, so the copies stay identical.  The printed
loss is all-reduced too: each worker prints the same numbers.

Data: synthetic, MNIST-shaped (synthetic_mnist.py) -- the lab downloads no dataset.
"""
from __future__ import annotations

import argparse
import json
import os
import time

import tensorflow as tf

from synthetic_mnist import MLP, loss_fn, make_data


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--epochs", type=int, default=5)
    p.add_argument("--samples", type=int, default=4096, help="training examples in all")
    p.add_argument("--batch-size", type=int, default=128, help="GLOBAL batch size (all workers)")
    p.add_argument("--learning-rate", type=float, default=0.1)
    args = p.parse_args()

    tf_config = json.loads(os.environ.get("TF_CONFIG") or "{}")
    task = tf_config.get("task", {"type": "worker", "index": 0})
    print(f"{task['type']}-{task['index']}: TF_CONFIG cluster = {json.dumps(tf_config.get('cluster', {}))}",
          flush=True)

    started = time.time()
    strategy = tf.distribute.MultiWorkerMirroredStrategy()   # blocks until every worker is there
    print(f"strategy ready: {strategy.num_replicas_in_sync} replicas in sync "
          f"({time.time() - started:.1f} s)", flush=True)

    images, labels = make_data(args.samples)
    steps_per_epoch = args.samples // args.batch_size

    def dataset_fn(ctx: tf.distribute.InputContext) -> tf.data.Dataset:
        # Each worker reads its own shard and batches its share of the global batch.
        ds = tf.data.Dataset.from_tensor_slices((images, labels))
        ds = ds.shard(ctx.num_input_pipelines, ctx.input_pipeline_id)
        return ds.shuffle(1024, seed=ctx.input_pipeline_id).repeat().batch(
            ctx.get_per_replica_batch_size(args.batch_size), drop_remainder=True)

    with strategy.scope():
        model = MLP()           # MirroredVariables: one identical copy on every worker
    iterator = iter(strategy.distribute_datasets_from_function(dataset_fn))

    @tf.function
    def train_step(iterator):
        def step_fn(batch_images, batch_labels):
            with tf.GradientTape() as tape:
                loss = loss_fn(model, batch_images, batch_labels, args.batch_size)
            grads = tape.gradient(loss, model.trainable_variables)
            # The collective step of data-parallel training: sum the gradients of all replicas.
            grads = tf.distribute.get_replica_context().all_reduce(tf.distribute.ReduceOp.SUM, grads)
            for var, grad in zip(model.trainable_variables, grads):
                var.assign_sub(args.learning_rate * grad)
            return loss
        per_replica_loss = strategy.run(step_fn, args=next(iterator))
        return strategy.reduce(tf.distribute.ReduceOp.SUM, per_replica_loss, axis=None)

    for epoch in range(1, args.epochs + 1):
        total = 0.0
        for _ in range(steps_per_epoch):
            total += float(train_step(iterator))
        print(f"epoch {epoch}/{args.epochs}: loss {total / steps_per_epoch:.4f}", flush=True)
    print(f"training done in {time.time() - started:.1f} s", flush=True)


if __name__ == "__main__":
    main()
