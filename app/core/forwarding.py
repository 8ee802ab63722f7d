"""Who may tell the service a client's address.

The service reads X-Forwarded-For itself, believing it only from TESTIMONY_TRUSTED_PROXIES
(``app.core.http.client_address``). uvicorn can rewrite the client address from the same
header before the service sees it (its proxy headers are on by default, trusting
--forwarded-allow-ips, else FORWARDED_ALLOW_IPS, else 127.0.0.1 and ::1). When uvicorn trusts
an address the service does not, a client there chooses the address that is throttled and
recorded, so the uvicorn entry point refuses to start.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

from app.core.errors import ConfigError

# uvicorn.config.Config's default when neither --forwarded-allow-ips nor FORWARDED_ALLOW_IPS is set.
UVICORN_DEFAULT_ALLOW_IPS = "127.0.0.1,::1"


def _is_uvicorn_command(argv: Sequence[str]) -> bool:
    program = Path(argv[0]) if argv else Path()
    return program.name == "uvicorn" or program.parts[-2:] == ("uvicorn", "__main__.py")


def uvicorn_forwarders(argv: Sequence[str], environ: Mapping[str, str]) -> list[str] | None:
    """The addresses uvicorn trusts with X-Forwarded-For, read from its command line as uvicorn
    reads it ([] with --no-proxy-headers), or None when argv is not uvicorn's command line.

    A spawned worker has its parent's argv and environment, so this holds in every worker.
    """
    if not _is_uvicorn_command(argv):
        return None
    from uvicorn.main import main as uvicorn_command

    # uvicorn's own click command parses the options, and UVICORN_* variables, exactly as it did at start.
    params = uvicorn_command.make_context("uvicorn", list(argv[1:])).params
    if not params["proxy_headers"]:
        return []
    allow: str = params["forwarded_allow_ips"] or environ.get("FORWARDED_ALLOW_IPS", UVICORN_DEFAULT_ALLOW_IPS)
    if allow.strip() == "*":
        return ["*"]
    return [entry.strip() for entry in allow.split(",") if entry.strip()]


def not_covered(forwarders: Sequence[str], trusted_proxies: Sequence[str]) -> list[str]:
    """The forwarders that TESTIMONY_TRUSTED_PROXIES does not cover. ``*`` is every address; an entry
    that is not an address or network (uvicorn also accepts literals such as a socket path) is never covered."""
    networks = [ipaddress.ip_network(t, strict=False) for t in trusted_proxies]

    def covered(net: ipaddress.IPv4Network | ipaddress.IPv6Network) -> bool:
        return any(net.version == t.version and net.subnet_of(t) for t in networks)  # type: ignore[arg-type]

    missing = []
    for entry in forwarders:
        if entry == "*":
            nets = [ipaddress.ip_network("0.0.0.0/0"), ipaddress.ip_network("::/0")]
        else:
            try:
                nets = [ipaddress.ip_network(entry, strict=False)]
            except ValueError:
                missing.append(entry)
                continue
        if not all(covered(n) for n in nets):
            missing.append(entry)
    return missing


def refuse_spoofable_forwarding(trusted_proxies: Sequence[str], argv: Sequence[str]) -> None:
    """Raise ConfigError, saying what to do, unless uvicorn trusts forwarded headers only from
    addresses that TESTIMONY_TRUSTED_PROXIES lists."""
    forwarders = uvicorn_forwarders(argv, os.environ)
    if forwarders is None:
        raise ConfigError(
            "refusing to start: app.main:app_factory is the entry point of the uvicorn command line, whose "
            "proxy settings it checks; run the command in README.md (Deployment), or `testimony serve`"
        )
    if missing := not_covered(forwarders, trusted_proxies):
        raise ConfigError(
            f"refusing to start: uvicorn believes X-Forwarded-For from {', '.join(missing)}, which "
            "TESTIMONY_TRUSTED_PROXIES does not list, so a client there could choose the address the service "
            "throttles and records. Start uvicorn with --no-proxy-headers: the service reads X-Forwarded-For "
            "itself, only from the proxies in TESTIMONY_TRUSTED_PROXIES"
        )
