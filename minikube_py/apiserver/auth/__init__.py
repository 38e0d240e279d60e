"""Who is asking, and may they? Authentication, authorization and the PKI behind TLS.

A request goes authentication (authenticator.py) → authorization (authorizer.py) →
admission → storage, as in kube-apiserver; filters.py is the WSGI middleware that runs
the first two in front of the whole app.
"""
