"""A private network namespace for a worker whose framework listens on every interface.

dlarena's distributed workers use loopback only. TensorFlow's gRPC server binds
"0.0.0.0:<port>" whatever host its cluster names, so a TensorFlow data-parallel cell runs in
a network namespace of its own (Linux), where the only interface is a loopback one: there,
"every interface" is loopback, and nothing outside the machine, or outside the cell, can
reach its ports. The ranks a worker starts inherit its namespace; it ends with them.

The executor starts such a worker through util-linux `unshare --net` (with
`--map-root-user` unless it is root: then unprivileged user namespaces must be allowed); the
worker brings the namespace's loopback up, and refuses to go on if it sees any other
interface. Standard library only.
"""

from __future__ import annotations

import errno
import fcntl
import os
import shutil
import socket
import struct

_SIOCGIFFLAGS = 0x8913
_SIOCSIFFLAGS = 0x8914
_IFF_UP = 0x1
_IFREQ = "16sh22x"  # struct ifreq: the name, then ifr_flags in a 24-byte union


# The cell option that asks for it: set by the plan, read by the executor and the worker.
OPTION = "private_network"


class PrivateNetworkUnavailable(OSError):
    """This machine would not give the worker a network namespace of its own."""


def command(argv: list[str], *, own_processes: bool = False) -> list[str]:
    """`argv` run in a new network namespace (util-linux `unshare`; a user namespace first
    unless root, which needs unprivileged user namespaces). `own_processes`: also in a new
    process namespace, `argv` its first process, so that the kernel ends every process in it
    when `argv` ends, and `argv` ends when `unshare` is killed."""
    unshare = shutil.which("unshare")
    if unshare is None:
        raise PrivateNetworkUnavailable(errno.ENOENT, "util-linux `unshare` is not installed")
    owner = [] if os.geteuid() == 0 else ["--map-root-user"]
    processes = ["--pid", "--mount-proc", "--kill-child"] if own_processes else []
    return [unshare, "--net", *processes, *owner, "--", *argv]


def _loopback_up() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:  # struct ifreq: 40 bytes
        answer = fcntl.ioctl(probe, _SIOCGIFFLAGS, struct.pack(_IFREQ, b"lo", 0))
        flags = struct.unpack(_IFREQ, answer)[1]
        fcntl.ioctl(probe, _SIOCSIFFLAGS, struct.pack(_IFREQ, b"lo", flags | _IFF_UP))


def interfaces() -> list[str]:
    """The network interfaces this process sees (/proc/net/dev)."""
    with open("/proc/net/dev", encoding="ascii") as file:
        return [line.split(":", 1)[0].strip() for line in file.readlines()[2:]]


def enter() -> None:
    """In the worker started by `command`: bring its loopback up, and make sure it is alone."""
    seen = interfaces()
    if seen != ["lo"]:
        raise PrivateNetworkUnavailable(
            errno.EPERM, f"the cell asks for a private network namespace, but this process "
                         f"sees the interfaces {', '.join(seen)}: it would listen on them")
    _loopback_up()
