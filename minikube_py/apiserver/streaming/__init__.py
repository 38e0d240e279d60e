"""exec, attach, port-forward (and so ``kubectl cp``): the streaming protocols.

The path of one ``kubectl exec``:

    kubectl --WebSocket v5.channel.k8s.io--> apiserver  pods/{name}/exec   (upgrade.py)
            --the same upgrade, proxied-->   kubelet    /exec/{ns}/{pod}/{container}
                                             (kubelet/streaming.py)
            --hijacked socket-->             Docker     exec (kubelet/runtime/dockerstream.py)

The apiserver only checks the request and splices bytes; the kubelet answers the
upgrade and runs the session. The protocol modules here are shared, as Kubernetes'
apimachinery httpstream packages are:

* websocket.py      WebSocket (wsproto) and the channel protocol's names
* remotecommand.py  exec/attach sessions over channels (stdin, stdout, stderr, error, resize)
* spdy.py           SPDY/3.1 frames and a server session (no Python library exists)
* portforward.py    port-forward over SPDY streams, and the older channel-per-port WebSocket
"""
