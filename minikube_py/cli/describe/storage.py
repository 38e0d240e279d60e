"""Describing PersistentVolumes, PersistentVolumeClaims and StorageClasses, as kubectl's
describers lay them out: the binding (claim, volume, class, phase), capacity and modes,
a volume's node affinity and source, a claim's pods (Used By), and the events.
"""
from __future__ import annotations

from ...api.kinds.storage import access_modes_text, claim_class, is_default_class, volume_class
from .events import describe_events, events
from .podspec import VOLUME_TYPES
from .text import Writer, annotations, labels, labels_and_annotations, multiline, name_lines

LOCAL = ("LocalVolume (a persistent volume backed by local storage on a node)",
         [("Path", "path", ""), ("FSType", "fsType", "")])


def _finalizers(w: Writer, md: dict) -> None:
    w.write(0, f"Finalizers:\t[{', '.join(md.get('finalizers') or [])}]\n")


def describe_persistent_volume_claim(c, w: Writer, pvc: dict) -> None:
    md, spec, st = pvc["metadata"], pvc.get("spec") or {}, pvc.get("status") or {}
    name_lines(w, md)
    w.write(0, f"StorageClass:\t{claim_class(pvc)}\n")
    phase = "Terminating" if md.get("deletionTimestamp") else st.get("phase", "")
    w.write(0, f"Status:\t{phase}\n")
    w.write(0, f"Volume:\t{spec.get('volumeName', '')}\n")
    labels_and_annotations(w, md)
    _finalizers(w, md)
    w.write(0, f"Capacity:\t{(st.get('capacity') or {}).get('storage', '') if spec.get('volumeName') else ''}\n")
    w.write(0, f"Access Modes:\t{access_modes_text(st.get('accessModes')) if spec.get('volumeName') else ''}\n")
    if spec.get("volumeMode"):
        w.write(0, f"VolumeMode:\t{spec['volumeMode']}\n")
    users = [p["metadata"]["name"] for p in c.list_of("pods", md.get("namespace"))
             if any((v.get("persistentVolumeClaim") or {}).get("claimName") == md["name"]
                    for v in (p.get("spec") or {}).get("volumes") or [])]
    multiline(w, "Used By", sorted(users))
    describe_events(w, events(c, pvc))


def describe_persistent_volume(c, w: Writer, pv: dict) -> None:
    md, spec, st = pv["metadata"], pv.get("spec") or {}, pv.get("status") or {}
    w.write(0, f"Name:\t{md['name']}\n")
    labels_and_annotations(w, md)
    _finalizers(w, md)
    w.write(0, f"StorageClass:\t{volume_class(pv)}\n")
    phase = "Terminating" if md.get("deletionTimestamp") else st.get("phase", "")
    w.write(0, f"Status:\t{phase}\n")
    ref = spec.get("claimRef")
    w.write(0, f"Claim:\t{ref.get('namespace', '') + '/' + ref.get('name', '') if ref else ''}\n")
    w.write(0, f"Reclaim Policy:\t{spec.get('persistentVolumeReclaimPolicy', '')}\n")
    w.write(0, f"Access Modes:\t{access_modes_text(spec.get('accessModes'))}\n")
    w.write(0, f"VolumeMode:\t{spec.get('volumeMode') or '<unset>'}\n")
    w.write(0, f"Capacity:\t{(spec.get('capacity') or {}).get('storage', '')}\n")
    terms = (((spec.get("nodeAffinity") or {}).get("required") or {}).get("nodeSelectorTerms"))
    if terms is None:
        w.write(0, "Node Affinity:\t<none>\n")
    else:
        w.write(0, "Node Affinity:\n  Required Terms:\n")
        for i, term in enumerate(terms):
            exprs = [f"{e.get('key')} {e.get('operator', '').lower()} [{', '.join(e.get('values') or [])}]"
                     for e in (term.get("matchExpressions") or []) + (term.get("matchFields") or [])]
            w.write(2, f"Term {i}:\t{exprs[0] if exprs else '<none>'}\n")
            for more in exprs[1:]:
                w.write(2, f"\t{more}\n")
    w.write(0, f"Message:\t{st.get('message', '')}\n")
    w.write(0, "Source:\n")
    kind = next((k for k in ("hostPath", "local") if spec.get(k) is not None), None)
    if kind is None:
        w.write(1, "<unknown>\n")
    else:
        title, fields = VOLUME_TYPES["hostPath"] if kind == "hostPath" else LOCAL
        w.write(2, f"Type:\t{title}\n")
        for heading, key, default in fields:
            w.write(2, f"{heading}:\t{spec[kind].get(key, default)}\n")
    describe_events(w, events(c, pv))


def describe_storage_class(c, w: Writer, sc: dict) -> None:
    md = sc["metadata"]
    w.write(0, f"Name:\t{md['name']}\n")
    w.write(0, f"IsDefaultClass:\t{'Yes' if is_default_class(sc) else 'No'}\n")
    annotations(w, "Annotations", md.get("annotations"))
    w.write(0, f"Provisioner:\t{sc.get('provisioner', '')}\n")
    labels(w, "Parameters", sc.get("parameters"))
    expansion = sc.get("allowVolumeExpansion")
    w.write(0, f"AllowVolumeExpansion:\t{'<unset>' if expansion is None else str(expansion)}\n")
    multiline(w, "MountOptions", list(sc.get("mountOptions") or []))
    w.write(0, f"ReclaimPolicy:\t{sc.get('reclaimPolicy', '')}\n")
    w.write(0, f"VolumeBindingMode:\t{sc.get('volumeBindingMode', '')}\n")
    describe_events(w, events(c, sc))
