#!/usr/bin/env python3
"""Checks the Kubernetes manifests under deploy/kubernetes/ for the fields the
deployment depends on (docs/deployment.md):

sidecar.yaml     the daemon's container mounts the shared volume with
                 mountPropagation Bidirectional and may mount FUSE (privileged,
                 or SYS_ADMIN plus a /dev/fuse hostPath device), on a
                 subdirectory of the volume, with a startupProbe that can
                 match /proc/self/mounts (the one tests/containers runs); the agents
                 mount the same volume with HostToContainer and are not
                 privileged.
files-mode.yaml  nothing privileged: no privileged container, no SYS_ADMIN,
                 no Bidirectional, no /dev/fuse; daemon and agents share the
                 volume and run as the same uid.

Usage: check_manifests.py DIR   (exit 1 with one line per problem)
"""
import sys
from pathlib import Path

import yaml

problems = []


def fail(msg):
    problems.append(msg)


def load_pod(path):
    docs = [d for d in yaml.safe_load_all(path.read_text()) if d is not None]
    if len(docs) != 1 or docs[0].get("kind") != "Pod" or docs[0].get("apiVersion") != "v1":
        fail(f"{path.name}: expected one v1 Pod, got {[(d or {}).get('kind') for d in docs]}")
        return None
    return docs[0]["spec"]


def containers(spec):
    return spec.get("initContainers", []) + spec.get("containers", [])


def by_name(spec, name, path):
    for c in containers(spec):
        if c.get("name") == name:
            return c
    fail(f"{path.name}: no container named {name}")
    return {}


def sec(c):
    return c.get("securityContext") or {}


def caps_added(c):
    return set((sec(c).get("capabilities") or {}).get("add") or [])


def mounts_of(c, volume):
    return [m for m in c.get("volumeMounts", []) if m.get("name") == volume]


def fuse_device_volumes(spec):
    return {v["name"] for v in spec.get("volumes", [])
            if (v.get("hostPath") or {}).get("path") == "/dev/fuse"}


def uid(spec, c):
    return sec(c).get("runAsUser", (spec.get("securityContext") or {}).get("runAsUser"))


def check_sidecar(path):
    spec = load_pod(path)
    if spec is None:
        return
    daemon, agent = by_name(spec, "credfs", path), by_name(spec, "agent", path)
    if daemon.get("restartPolicy") != "Always" or daemon not in spec.get("initContainers", []):
        fail(f"{path.name}: credfs should be a native sidecar (initContainer, restartPolicy Always)")
    dm = mounts_of(daemon, "git-creds")
    if [m.get("mountPropagation") for m in dm] != ["Bidirectional"]:
        fail(f"{path.name}: credfs must mount git-creds once with mountPropagation Bidirectional")
    fuse = fuse_device_volumes(spec)
    may_mount = sec(daemon).get("privileged") is True or (
        "SYS_ADMIN" in caps_added(daemon)
        and any(m.get("name") in fuse for m in daemon.get("volumeMounts", [])))
    cmd = daemon.get("command", [])
    mnt = cmd[cmd.index("--mountpoint") + 1] if "--mountpoint" in cmd else None
    volume_path = dm[0].get("mountPath") if dm else None
    if not mnt or not volume_path or not mnt.startswith(volume_path.rstrip("/") + "/"):
        fail(f"{path.name}: the mountpoint ({mnt}) must be a subdirectory of the volume "
             f"({volume_path}), so that the helper's socket {mnt}.sock is in the volume too")
    probe = " ".join((((daemon.get("startupProbe") or {}).get("exec") or {}).get("command")) or [])
    if f" {mnt} fuse.credfs " not in probe or "/proc/self/mounts" not in probe:
        fail(f"{path.name}: the startupProbe should look for ' {mnt} fuse.credfs ' in "
             f"/proc/self/mounts (tests/containers runs that probe)")
    if not may_mount:
        fail(f"{path.name}: credfs cannot mount FUSE: needs privileged, or SYS_ADMIN and /dev/fuse")
    am = mounts_of(agent, "git-creds")
    if [m.get("mountPropagation") for m in am] != ["HostToContainer"]:
        fail(f"{path.name}: agent must mount git-creds once with mountPropagation HostToContainer")
    if any("subPath" in m or "subPathExpr" in m for m in am):
        fail(f"{path.name}: agent mounts a subPath: it would not follow a remount")
    if sec(agent).get("privileged") or caps_added(agent):
        fail(f"{path.name}: agent must not be privileged or get capabilities")
    if uid(spec, daemon) != uid(spec, agent):
        fail(f"{path.name}: credfs and agent run as different uids (allow_other is off)")


def check_files_mode(path):
    spec = load_pod(path)
    if spec is None:
        return
    if fuse_device_volumes(spec):
        fail(f"{path.name}: mounts /dev/fuse")
    for c in containers(spec):
        name = c.get("name")
        if sec(c).get("privileged"):
            fail(f"{path.name}: {name} is privileged")
        if "SYS_ADMIN" in caps_added(c) or "ALL" in caps_added(c):
            fail(f"{path.name}: {name} adds SYS_ADMIN or ALL capabilities")
        if sec(c).get("allowPrivilegeEscalation") is not False:
            fail(f"{path.name}: {name} should set allowPrivilegeEscalation: false")
        for m in c.get("volumeMounts", []):
            if m.get("mountPropagation") == "Bidirectional":
                fail(f"{path.name}: {name} mounts {m.get('name')} Bidirectional")
    daemon, agent = by_name(spec, "credfs", path), by_name(spec, "agent", path)
    if not mounts_of(daemon, "git-creds") or not mounts_of(agent, "git-creds"):
        fail(f"{path.name}: credfs and agent must both mount git-creds")
    if uid(spec, daemon) is None or uid(spec, daemon) != uid(spec, agent):
        fail(f"{path.name}: credfs and agent must run as the same uid (the socket answers only it)")


def main():
    if len(sys.argv) != 2:
        print(__doc__.strip().splitlines()[-1], file=sys.stderr)
        return 2
    d = Path(sys.argv[1])
    for name, check in (("sidecar.yaml", check_sidecar), ("files-mode.yaml", check_files_mode)):
        try:
            check(d / name)
        except (OSError, yaml.YAMLError, KeyError, TypeError, AttributeError) as e:
            fail(f"{name}: {e}")
    for p in problems:
        print(f"check_manifests: {p}", file=sys.stderr)
    if not problems:
        print(f"check_manifests: {d}/sidecar.yaml and files-mode.yaml OK")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
