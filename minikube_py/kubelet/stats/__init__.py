"""Resource usage of containers and pods (cgroup files, the way cAdvisor reads them)."""
