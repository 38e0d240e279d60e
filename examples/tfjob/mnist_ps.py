"""Asynchronous training with parameter servers (tf.distribute.ParameterServerStrategy).

Run by the TFJob in examples/tfjob-ps.yaml, with three kinds of replicas.  TF_CONFIG's
cluster names all of them, e.g.
    {"chief": ["<job>-chief-0.<ns>.svc:2222"], "ps": ["<job>-ps-0.<ns>.svc:2222"],
     "worker": ["<job>-worker-0.<ns>.svc:2222", "<job>-worker-1.<ns>.svc:2222"]}
and "task" says which one this pod is:
  ps      holds the model's variables and serves reads and updates over gRPC;
  worker  runs the training steps it is sent (it reads the variables from the PS,
          computes gradients on its own batches and writes the updates back);
  chief   the coordinator: it creates the variables on the PS, sends steps to whichever
          worker is free (tf.distribute.coordinator.ClusterCoordinator) and prints the loss.
PS and workers only serve (until they are stopped): the job is done when the chief
exits 0, and the training operator then deletes the pods still running (cleanPodPolicy).

Data: synthetic, MNIST-shaped (synthetic_mnist.py) -- the lab downloads no dataset.
"""
from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import time

import tensorflow as tf

from synthetic_mnist import MLP, loss_fn, make_data


def serve(resolver: tf.distribute.cluster_resolver.ClusterResolver) -> None:
    """A PS or worker: start this task's gRPC server and serve until stopped."""
    os.environ["GRPC_FAIL_FAST"] = "use_caller"    # a lost peer fails the step, not the process
    server = tf.distribute.Server(resolver.cluster_spec(), job_name=resolver.task_type,
                                  task_index=resolver.task_id, protocol=resolver.rpc_layer or "grpc",
                                  start=True)
    print(f"{resolver.task_type}-{resolver.task_id}: serving at {server.target}", flush=True)
    # Serve until stopped.  As PID 1 of its container the process has no default action for
    # SIGTERM, and server.join() would block in C++ where no Python handler runs: so sleep
    # (interruptible) and exit on SIGTERM, or every stop waits out the grace period.
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(0))
    while True:
        time.sleep(3600)


def coordinate(resolver, args) -> None:
    """The chief: place the variables on the PS, schedule steps on the workers."""
    started = time.time()
    strategy = tf.distribute.ParameterServerStrategy(resolver)
    coordinator = tf.distribute.coordinator.ClusterCoordinator(strategy)
    num_workers = len(resolver.cluster_spec().as_dict().get("worker", []))
    print(f"coordinator ready: {num_workers} workers, "
          f"{len(resolver.cluster_spec().as_dict().get('ps', []))} ps ({time.time() - started:.1f} s)",
          flush=True)

    images, labels = make_data(args.samples)
    steps_per_epoch = args.samples // args.batch_size

    def dataset_fn(ctx: tf.distribute.InputContext) -> tf.data.Dataset:
        # Runs on every worker: each shuffles the data its own way and batches it.
        ds = tf.data.Dataset.from_tensor_slices((images, labels))
        return ds.shuffle(1024).repeat().batch(args.batch_size, drop_remainder=True)

    with strategy.scope():
        model = MLP()       # its variables live on the PS task(s)

    @tf.function
    def per_worker_dataset_fn():
        return strategy.distribute_datasets_from_function(dataset_fn)

    per_worker_iterator = iter(coordinator.create_per_worker_dataset(per_worker_dataset_fn))

    @tf.function
    def train_step(iterator):
        def step_fn(batch_images, batch_labels):
            with tf.GradientTape() as tape:
                loss = loss_fn(model, batch_images, batch_labels, args.batch_size)
            grads = tape.gradient(loss, model.trainable_variables)
            for var, grad in zip(model.trainable_variables, grads):
                var.assign_sub(args.learning_rate * grad)      # written to the PS at once
            return loss
        batch_images, batch_labels = next(iterator)
        per_replica_loss = strategy.run(step_fn, args=(batch_images, batch_labels))
        return strategy.reduce(tf.distribute.ReduceOp.SUM, per_replica_loss, axis=None)

    for epoch in range(1, args.epochs + 1):
        # schedule() returns at once; a free worker runs the step.  join() waits for all.
        losses = [coordinator.schedule(train_step, args=(per_worker_iterator,))
                  for _ in range(steps_per_epoch)]
        coordinator.join()
        mean = sum(float(v.fetch()) for v in losses) / len(losses)
        print(f"epoch {epoch}/{args.epochs}: loss {mean:.4f}", flush=True)
    print(f"training done in {time.time() - started:.1f} s", flush=True)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--epochs", type=int, default=5)
    p.add_argument("--samples", type=int, default=4096, help="examples per epoch")
    p.add_argument("--batch-size", type=int, default=64, help="batch size of one step (one worker)")
    p.add_argument("--learning-rate", type=float, default=0.1)
    args = p.parse_args()

    tf_config = json.loads(os.environ.get("TF_CONFIG") or "{}")
    print(f"{tf_config['task']['type']}-{tf_config['task']['index']}: TF_CONFIG cluster = "
          f"{json.dumps(tf_config.get('cluster', {}))}", flush=True)
    resolver = tf.distribute.cluster_resolver.TFConfigClusterResolver()
    if resolver.task_type in ("ps", "worker"):
        serve(resolver)
    else:
        coordinate(resolver, args)


if __name__ == "__main__":
    main()
