"""Object helpers of the apiserver: pure functions on Kubernetes objects (plain dicts).

quantity    resource amounts ("500m", "1Gi") as exact fractions
names       naming rules (DNS-1123 names, label keys and values)
selectors   label and field selectors
patch       merge patch, JSON patch, strategic merge patch
defaults    the fields Kubernetes fills in when a user leaves them out
validation  the checks behind a 422 Invalid answer
meta        times, uids, generated names, ages, owner references
"""
