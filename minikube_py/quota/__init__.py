"""Resource quota: what an object costs (evaluators), which quotas it falls under (scopes),
and the arithmetic of resource lists. Shared by the apiserver's admission
(apiserver/resourcequota.py) and the quota controller (controllers/resourcequota.py),
as Kubernetes shares pkg/quota/v1 between the two.
"""
