"""sitecustomize for a process under test: refuse and record every non-loopback connection.

Copied as `sitecustomize.py` into a folder put first on PYTHONPATH; the file named by
COIASSIST_NETGUARD_LOG gets one line per refused attempt (address and a short stack).
"""

import ipaddress
import os
import socket
import traceback

_LOG = os.environ.get("COIASSIST_NETGUARD_LOG", "")
_LOCAL_NAMES = {"localhost", "localhost.localdomain", "ip6-localhost", ""}


def _local(host: object) -> bool:
    if not isinstance(host, str) or host in _LOCAL_NAMES:
        return isinstance(host, str)
    try:
        return ipaddress.ip_address(host.split("%")[0]).is_loopback
    except ValueError:
        return False


def _refuse(what: str) -> None:
    if _LOG:
        stack = "".join(traceback.format_stack(limit=8)[:-2]).replace("\n", " | ")
        with open(_LOG, "a", encoding="utf-8") as out:
            out.write(f"{os.getpid()} {what} :: {stack}\n")
    raise OSError(101, f"network is unreachable (test guard): {what}")


_connect = socket.socket.connect
_connect_ex = socket.socket.connect_ex
_getaddrinfo = socket.getaddrinfo


def connect(self: socket.socket, address: object) -> None:
    if self.family in (socket.AF_INET, socket.AF_INET6) and not _local(address[0]):  # type: ignore[index]
        _refuse(f"connect {address!r}")
    return _connect(self, address)  # type: ignore[arg-type]


def connect_ex(self: socket.socket, address: object) -> int:
    if self.family in (socket.AF_INET, socket.AF_INET6) and not _local(address[0]):  # type: ignore[index]
        _refuse(f"connect_ex {address!r}")
    return _connect_ex(self, address)  # type: ignore[arg-type]


def getaddrinfo(host: object, *args: object, **kwargs: object) -> object:
    if host is not None and not _local(host.decode() if isinstance(host, bytes) else host):
        _refuse(f"getaddrinfo {host!r}")
    return _getaddrinfo(host, *args, **kwargs)  # type: ignore[arg-type]


socket.socket.connect = connect  # type: ignore[method-assign]
socket.socket.connect_ex = connect_ex  # type: ignore[method-assign]
socket.getaddrinfo = getaddrinfo  # type: ignore[assignment]
