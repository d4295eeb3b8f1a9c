"""Certificates, service-account keys and kubeconfigs of the test cluster.

One certificate authority signs every certificate: the API server's and kubelet's
serving certificates and a client certificate per component and per user. Existing
files are kept as long as they still fit (same authority, same names and addresses,
not about to expire), so kubeconfigs handed out earlier stay valid across `down` and
`up`; a certificate whose addresses no longer fit (the node address changed) is
issued anew.
"""

import base64
import datetime
import ipaddress
import logging
from dataclasses import dataclass
from pathlib import Path

import yaml
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from cluster import layout

logger = logging.getLogger(__name__)

VALIDITY = datetime.timedelta(days=365)
RENEW_BEFORE = datetime.timedelta(days=7)
CA_NAME = "kdebug-cluster-ca"


@dataclass(frozen=True)
class CertificateSpec:
    """What one leaf certificate says about its holder."""

    name: str
    """File stem under the PKI directory: `<name>.crt` and `<name>.key`."""
    common_name: str
    organization: str | None = None
    server: bool = False
    """A serving certificate (server auth) rather than a client certificate."""
    dns_names: tuple[str, ...] = ()
    ip_addresses: tuple[str, ...] = ()


@dataclass(frozen=True)
class KubeconfigSpec:
    """A kubeconfig file for one client certificate."""

    path: Path
    certificate: str
    """The `name` of the CertificateSpec whose key pair it embeds."""
    context: str


ADMIN_USER = "kdebug-admin"
USER = "kdebug-user"
USER_NO_PORTFORWARD = "kdebug-user-no-portforward"
USERS_GROUP = "kdebug-users"


def certificate_specs(node_ip: str) -> list[CertificateSpec]:
    """Return every leaf certificate the cluster needs on a node with this address."""
    node = layout.NODE_NAME
    return [
        CertificateSpec(
            "apiserver",
            "kube-apiserver",
            server=True,
            dns_names=(
                "kubernetes",
                "kubernetes.default",
                "kubernetes.default.svc",
                "kubernetes.default.svc.cluster.local",
                "localhost",
            ),
            ip_addresses=("127.0.0.1", node_ip, layout.KUBERNETES_SERVICE_IP),
        ),
        # The API server calls kubelets for exec, attach, port-forward and logs.
        CertificateSpec(
            "apiserver-kubelet-client", "kube-apiserver", organization="system:masters"
        ),
        CertificateSpec(
            "kubelet-server",
            node,
            server=True,
            dns_names=(node, "localhost"),
            ip_addresses=("127.0.0.1", node_ip),
        ),
        # The Node authorizer and NodeRestriction need exactly this name and group.
        CertificateSpec("kubelet", f"system:node:{node}", organization="system:nodes"),
        CertificateSpec("controller-manager", "system:kube-controller-manager"),
        CertificateSpec("scheduler", "system:kube-scheduler"),
        CertificateSpec("admin", ADMIN_USER, organization="system:masters"),
        CertificateSpec("user", USER, organization=USERS_GROUP),
        CertificateSpec(
            "user-no-portforward", USER_NO_PORTFORWARD, organization=USERS_GROUP
        ),
    ]


def kubeconfig_specs() -> list[KubeconfigSpec]:
    """Return the kubeconfigs of the components and of the three users."""
    directory = layout.KUBECONFIG_DIR
    return [
        KubeconfigSpec(layout.ADMIN_KUBECONFIG, "admin", "kdebug-admin"),
        KubeconfigSpec(layout.USER_KUBECONFIG, "user", "kdebug-user"),
        KubeconfigSpec(
            layout.USER_NO_PORTFORWARD_KUBECONFIG,
            "user-no-portforward",
            "kdebug-user-no-portforward",
        ),
        KubeconfigSpec(directory / "kubelet.kubeconfig", "kubelet", "kubelet"),
        KubeconfigSpec(
            directory / "controller-manager.kubeconfig",
            "controller-manager",
            "controller-manager",
        ),
        KubeconfigSpec(directory / "scheduler.kubeconfig", "scheduler", "scheduler"),
    ]


def ensure_pki(node_ip: str) -> None:
    """Create or renew the authority, the certificates, the keys and kubeconfigs.

    Args:
        node_ip: The node's own non-loopback address, which the serving
            certificates must name.
    """
    layout.PKI_DIR.mkdir(parents=True, exist_ok=True)
    layout.KUBECONFIG_DIR.mkdir(parents=True, exist_ok=True)
    ca_certificate, ca_key = _ensure_authority()

    for spec in certificate_specs(node_ip):
        if not _certificate_fits(spec, ca_certificate):
            logger.info(
                "Issuing the %s certificate (CN %s).", spec.name, spec.common_name
            )
            _issue(spec, ca_certificate, ca_key)

    _ensure_service_account_key()
    for kubeconfig in kubeconfig_specs():
        _write_kubeconfig(kubeconfig)


def certificate_path(name: str) -> Path:
    """Return the path of a certificate by its spec name (`ca` for the authority)."""
    return layout.PKI_DIR / f"{name}.crt"


def key_path(name: str) -> Path:
    """Return the path of a private key by its spec name (`sa` for service accounts)."""
    return layout.PKI_DIR / f"{name}.key"


def _ensure_authority() -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    crt, key = certificate_path("ca"), key_path("ca")
    if crt.exists() and key.exists():
        certificate = x509.load_pem_x509_certificate(crt.read_bytes())
        private_key = serialization.load_pem_private_key(key.read_bytes(), None)
        if isinstance(private_key, ec.EllipticCurvePrivateKey) and not _expiring(
            certificate
        ):
            return certificate, private_key

    logger.info("Creating the cluster's certificate authority in %s.", layout.PKI_DIR)
    private_key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, CA_NAME)])
    now = _now()
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(private_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + 10 * VALIDITY)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(
            x509.SubjectKeyIdentifier.from_public_key(private_key.public_key()),
            critical=False,
        )
        .sign(private_key, hashes.SHA256())
    )
    _write_key(key, private_key)
    crt.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))

    # Everything the old authority signed is worthless now.
    for stale in layout.PKI_DIR.glob("*.crt"):
        if stale != crt:
            stale.unlink()
    return certificate, private_key


def _issue(
    spec: CertificateSpec,
    ca_certificate: x509.Certificate,
    ca_key: ec.EllipticCurvePrivateKey,
) -> None:
    private_key = ec.generate_private_key(ec.SECP256R1())
    attributes = [x509.NameAttribute(NameOID.COMMON_NAME, spec.common_name)]
    if spec.organization:
        attributes.insert(
            0, x509.NameAttribute(NameOID.ORGANIZATION_NAME, spec.organization)
        )
    usage = (
        ExtendedKeyUsageOID.SERVER_AUTH
        if spec.server
        else (ExtendedKeyUsageOID.CLIENT_AUTH)
    )
    now = _now()
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name(attributes))
        .issuer_name(ca_certificate.subject)
        .public_key(private_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + VALIDITY)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=True,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
            critical=False,
        )
    )
    alternative_names = _alternative_names(spec)
    if alternative_names:
        builder = builder.add_extension(
            x509.SubjectAlternativeName(alternative_names), critical=False
        )
    certificate = builder.sign(ca_key, hashes.SHA256())
    _write_key(key_path(spec.name), private_key)
    certificate_path(spec.name).write_bytes(
        certificate.public_bytes(serialization.Encoding.PEM)
    )


def _certificate_fits(spec: CertificateSpec, ca_certificate: x509.Certificate) -> bool:
    crt = certificate_path(spec.name)
    if not crt.exists() or not key_path(spec.name).exists():
        return False

    certificate = x509.load_pem_x509_certificate(crt.read_bytes())
    if certificate.issuer != ca_certificate.subject or _expiring(certificate):
        return False
    try:
        certificate.verify_directly_issued_by(ca_certificate)
    except (ValueError, TypeError, InvalidSignature):
        return False

    expected_subject = {(NameOID.COMMON_NAME, spec.common_name)}
    if spec.organization:
        expected_subject.add((NameOID.ORGANIZATION_NAME, spec.organization))
    subject = {(attribute.oid, attribute.value) for attribute in certificate.subject}
    if subject != expected_subject:
        return False

    try:
        present = certificate.extensions.get_extension_for_class(
            x509.SubjectAlternativeName
        ).value
    except x509.ExtensionNotFound:
        return not _alternative_names(spec)
    return set(present) == set(_alternative_names(spec))


def _alternative_names(spec: CertificateSpec) -> list[x509.GeneralName]:
    names: list[x509.GeneralName] = [x509.DNSName(name) for name in spec.dns_names]
    names += [
        x509.IPAddress(ipaddress.ip_address(address)) for address in spec.ip_addresses
    ]
    return names


def _ensure_service_account_key() -> None:
    private, public = key_path("sa"), layout.PKI_DIR / "sa.pub"
    if private.exists() and public.exists():
        return

    logger.info("Creating the service-account signing key.")
    private_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    _write_key(private, private_key)
    public.write_bytes(
        private_key.public_key().public_bytes(
            serialization.Encoding.PEM,
            serialization.PublicFormat.SubjectPublicKeyInfo,
        )
    )


def _write_kubeconfig(spec: KubeconfigSpec) -> None:
    def encoded(path: Path) -> str:
        return base64.b64encode(path.read_bytes()).decode()

    document = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {
                "name": "kdebug-cluster",
                "cluster": {
                    "server": layout.API_SERVER_URL,
                    "certificate-authority-data": encoded(certificate_path("ca")),
                },
            }
        ],
        "users": [
            {
                "name": spec.context,
                "user": {
                    "client-certificate-data": encoded(
                        certificate_path(spec.certificate)
                    ),
                    "client-key-data": encoded(key_path(spec.certificate)),
                },
            }
        ],
        "contexts": [
            {
                "name": spec.context,
                "context": {"cluster": "kdebug-cluster", "user": spec.context},
            }
        ],
        "current-context": spec.context,
    }
    text = yaml.safe_dump(document, sort_keys=False)
    if not spec.path.exists() or spec.path.read_text() != text:
        spec.path.write_text(text)
        spec.path.chmod(0o600)


def _write_key(
    path: Path, private_key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey
) -> None:
    path.write_bytes(
        private_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    path.chmod(0o600)


def _expiring(certificate: x509.Certificate) -> bool:
    return certificate.not_valid_after_utc - _now() < RENEW_BEFORE


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)
