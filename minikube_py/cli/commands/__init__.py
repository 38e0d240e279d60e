"""mkctl's commands, grouped by what they do; mkctl.py adds them all to its group.

- get.py: get (and get -w), describe -- reading objects
- apply.py: apply, create, delete -- objects from manifests, and their removal
- update.py: scale, label, annotate -- small merge patches of live objects
- node.py: cordon, uncordon, drain -- taking a node out of service
- info.py: logs, version, api-resources
"""
