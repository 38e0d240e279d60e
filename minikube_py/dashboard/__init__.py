"""The live web dashboard (`minikube-py dashboard`): informers in, Server-Sent Events out.

views.py turns API objects into the small records the page draws; hub.py keeps
informers on the cluster and fans their changes out to every open page; server.py
serves the page (static/, plain JavaScript modules, no build step), the event
stream, and a pod's YAML, events and logs; command.py is the command line.
"""
