"""The kubelet's device manager: device plugins (gRPC) -> node resources and pod devices."""
from minikube_py.kubelet.devices.manager import DeviceAllocationError, DeviceManager

__all__ = ["DeviceManager", "DeviceAllocationError"]
