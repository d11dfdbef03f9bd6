"""``--web.config.file``: the Prometheus exporter-toolkit's web configuration (YAML).

Supported, with exporter-toolkit's meaning and defaults::

    tls_server_config:
      cert_file: server.crt          # relative paths: to the config file's directory
      key_file: server.key
      client_auth_type: RequireAndVerifyClientCert   # or NoClientCert, VerifyClientCertIfGiven
      client_ca_file: ca.crt
      min_version: TLS12             # TLS10 … TLS13
      max_version: TLS13
    http_server_config:
      headers: {X-Frame-Options: deny}
      http2: true                    # accepted; pychrony serves HTTP/1.1
    basic_auth_users:
      alice: $2y$10$…               # bcrypt hashes (htpasswd -nBC 10 alice)

Anything else (cipher_suites, curve_preferences, client_allowed_sans, inline
cert/key, …) is refused with a clear error rather than ignored: a security
setting that silently does nothing is worse than one that stops the start.
"""

from __future__ import annotations

import ssl
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..exceptions import ChronyError

__all__ = ["ExporterConfigError", "TLSConfig", "WebConfig", "load_web_config"]


class ExporterConfigError(ChronyError):
    """The exporter's flags or web configuration file are invalid."""


_TLS_VERSIONS = {
    "TLS10": ssl.TLSVersion.TLSv1,
    "TLS11": ssl.TLSVersion.TLSv1_1,
    "TLS12": ssl.TLSVersion.TLSv1_2,
    "TLS13": ssl.TLSVersion.TLSv1_3,
}
_CLIENT_AUTH = {
    "NoClientCert": ssl.CERT_NONE,
    "VerifyClientCertIfGiven": ssl.CERT_OPTIONAL,
    "RequireAndVerifyClientCert": ssl.CERT_REQUIRED,
}


@dataclass(frozen=True)
class TLSConfig:
    """Where the server's certificate and key are, and what it asks of clients."""

    cert_file: str
    key_file: str
    client_auth: ssl.VerifyMode = ssl.CERT_NONE
    client_ca_file: str | None = None
    min_version: ssl.TLSVersion = ssl.TLSVersion.TLSv1_2
    max_version: ssl.TLSVersion | None = None

    def context(self) -> ssl.SSLContext:
        """A server context with these settings (loads and so checks the files)."""
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.minimum_version = self.min_version
        if self.max_version is not None:
            ctx.maximum_version = self.max_version
        try:
            ctx.load_cert_chain(self.cert_file, self.key_file)
            if self.client_ca_file:
                ctx.load_verify_locations(self.client_ca_file)
        except (OSError, ssl.SSLError) as exc:
            raise ExporterConfigError(f"Cannot load the TLS certificate or key: {exc}") from exc
        ctx.verify_mode = self.client_auth
        return ctx


@dataclass(frozen=True)
class WebConfig:
    """A parsed web configuration; the empty one serves plain HTTP to anybody."""

    tls: TLSConfig | None = None
    users: Mapping[str, str] = field(default_factory=dict)
    headers: Mapping[str, str] = field(default_factory=dict)


def _section(doc: Mapping[str, Any], key: str, allowed: set[str], where: str) -> dict[str, Any]:
    value = doc.get(key) or {}
    if not isinstance(value, dict):
        raise ExporterConfigError(f"{where}: {key} must be a mapping")
    unknown = sorted(set(value) - allowed)
    if unknown:
        raise ExporterConfigError(
            f"{where}: {key}.{unknown[0]} is not supported by pychrony's exporter "
            f"(supported: {', '.join(sorted(allowed))})"
        )
    return value


def _path(base: Path, value: Any, what: str, where: str) -> str:
    if not isinstance(value, str) or not value:
        raise ExporterConfigError(f"{where}: {what} must be a file name")
    return str(base / value)


def _tls(doc: Mapping[str, Any], base: Path, where: str) -> TLSConfig | None:
    allowed = {"cert_file", "key_file", "client_auth_type", "client_ca_file"}
    tls = _section(doc, "tls_server_config", allowed | {"min_version", "max_version"}, where)
    if not tls:
        return None
    if not tls.get("cert_file") or not tls.get("key_file"):
        raise ExporterConfigError(f"{where}: tls_server_config needs cert_file and key_file")
    auth_name = tls.get("client_auth_type", "NoClientCert")
    if auth_name not in _CLIENT_AUTH:
        raise ExporterConfigError(
            f"{where}: client_auth_type {auth_name!r} is not supported "
            f"(supported: {', '.join(_CLIENT_AUTH)})"
        )
    ca = tls.get("client_ca_file")
    if _CLIENT_AUTH[auth_name] != ssl.CERT_NONE and not ca:
        raise ExporterConfigError(f"{where}: client_auth_type {auth_name} needs client_ca_file")
    versions = {}
    for key in ("min_version", "max_version"):
        if key in tls:
            if tls[key] not in _TLS_VERSIONS:
                raise ExporterConfigError(
                    f"{where}: {key} must be one of {', '.join(_TLS_VERSIONS)}, not {tls[key]!r}"
                )
            versions[key] = _TLS_VERSIONS[tls[key]]
    return TLSConfig(
        cert_file=_path(base, tls["cert_file"], "cert_file", where),
        key_file=_path(base, tls["key_file"], "key_file", where),
        client_auth=_CLIENT_AUTH[auth_name],
        client_ca_file=_path(base, ca, "client_ca_file", where) if ca else None,
        **versions,
    )


def load_web_config(path: str | None) -> WebConfig:
    """Parse and check the file at ``path`` (None: no TLS, no authentication)."""
    if not path:
        return WebConfig()
    try:
        import yaml
    except ImportError:  # pragma: no cover - the exporter extra installs it
        raise ExporterConfigError(
            "--web.config.file needs PyYAML: pip install 'pychrony[exporter]'"
        ) from None
    try:
        text = Path(path).read_text()
        doc = yaml.safe_load(text) or {}
    except OSError as exc:
        raise ExporterConfigError(f"Cannot read the web config file: {exc}") from exc
    except yaml.YAMLError as exc:
        raise ExporterConfigError(f"{path}: not valid YAML: {exc}") from exc
    if not isinstance(doc, dict):
        raise ExporterConfigError(f"{path}: expected a mapping at the top level")
    top = {"tls_server_config", "http_server_config", "basic_auth_users"}
    unknown = sorted(set(doc) - top)
    if unknown:
        raise ExporterConfigError(f"{path}: unknown key {unknown[0]!r}")
    base = Path(path).resolve().parent
    tls = _tls(doc, base, path)
    server = _section(doc, "http_server_config", {"headers", "http2"}, path)
    headers = server.get("headers") or {}
    users = doc.get("basic_auth_users") or {}
    for what, mapping in (("headers", headers), ("basic_auth_users", users)):
        if not isinstance(mapping, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in mapping.items()
        ):
            raise ExporterConfigError(f"{path}: {what} must map names to strings")
    for user, hashed in users.items():
        if not hashed.startswith(("$2a$", "$2b$", "$2y$")):
            raise ExporterConfigError(f"{path}: the password of {user!r} is not a bcrypt hash")
    if users:
        try:
            import bcrypt  # noqa: F401
        except ImportError:  # pragma: no cover - the exporter extra installs it
            raise ExporterConfigError(
                "basic_auth_users needs bcrypt: pip install 'pychrony[exporter]'"
            ) from None
    config = WebConfig(tls=tls, users=users, headers=headers)
    if tls is not None:
        tls.context()  # fail at start, not at the first connection
    return config
