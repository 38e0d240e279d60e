"""The scheduler: give every new pod a node, the way kube-scheduler does.

A pod is created with an empty ``spec.nodeName``; nothing runs it until the
scheduler writes a node there (through the ``pods/binding`` subresource) and that
node's kubelet notices. Choosing the node happens in one *scheduling cycle* per pod:

1. **queue** (:mod:`.queue`): pending pods wait in a priority queue, higher
   ``spec.priority`` first, then oldest first. A pod that fits nowhere waits aside
   (``unschedulable``) until the cluster changes, then retries after a back-off.
2. **filter** (:mod:`.plugins`): each filter plugin may veto a node ("Insufficient
   cpu", "node(s) had untolerated taint ..."). Nodes nobody vetoes are *feasible*.
   In a big cluster only enough feasible nodes are looked for (percentageOfNodesToScore).
3. **score**: each score plugin rates the feasible nodes 0..100; the weighted sum
   picks the winner (ties broken at random).
4. **assume** (:mod:`.cache`): the pod is counted on its node in the scheduler's
   own cache *before* the API knows, so the next pod already sees the slot taken.
5. **bind**: in the background, POST a Binding; on failure the assumed pod is
   forgotten and the pod goes back to the queue.

If no node is feasible the pod gets a ``FailedScheduling`` event and a
``PodScheduled=False`` condition that say why, counted per node:
``0/3 nodes are available: 1 node(s) had untolerated taint {gpu: true}, 2 Insufficient cpu.``

Modules: :mod:`.resources` (what a pod asks for), :mod:`.framework` (PodInfo and
NodeInfo, what plugins see), :mod:`.plugins` (one module per plugin),
:mod:`.profile` (the filter/score loop over nodes, kube's schedulePod, and the
textbook Evaluator that runs the plugins on nodes), :mod:`.equivalence` (the fast
Evaluator: the same answers, reused across the replicas of one template),
:mod:`.cache`, :mod:`.queue`, :mod:`.scheduler` (the loop and the informer handlers),
:mod:`.command` (``minikube-py scheduler``); events go through ``client.events``.
"""
