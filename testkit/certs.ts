/**
 * Certificates for a test control plane, made in-process (no `openssl` process): a serving CA
 * and certificate for kube-apiserver, a client CA and client certificates for users, and the
 * service-account signing key. Each is also written to files, for the control plane's flags and
 * kubeconfigs.
 *
 * @module
 */
import {
  CertificateError,
  createCertificateAuthority as createCa,
  generateKeyPair,
  issueClientCertificate,
  issueServingCertificate,
} from "../tls/certificates.ts";

export { CertificateError };

/** A PEM certificate and its PEM private key, with the files they were written to. */
export interface CertificatePair {
  /** The certificate, PEM. */
  certificate: string;
  /** The private key (PKCS#8), PEM. */
  key: string;
  /** Path of the certificate file. */
  certificatePath: string;
  /** Path of the key file. */
  keyPath: string;
}

/** Options for {@linkcode issueCertificate}. */
export interface IssueOptions {
  /** Common name (the user name, for a client certificate). */
  commonName: string;
  /** Organizations (the groups, for a client certificate). */
  organizations?: string[];
  /** `serverAuth` for a serving certificate, `clientAuth` for a client certificate. */
  usage: "serverAuth" | "clientAuth";
  /** DNS names for the subjectAltName of a serving certificate. */
  dnsNames?: string[];
  /** IP addresses for the subjectAltName of a serving certificate. */
  ipAddresses?: string[];
  /** Validity in days (default 7). */
  days?: number;
}

const DAY_MS = 86_400_000;

async function writePair(
  dir: string,
  name: string,
  pair: { certificate: string; key: string },
): Promise<CertificatePair> {
  const certificatePath = `${dir}/${name}.crt`;
  const keyPath = `${dir}/${name}.key`;
  await Promise.all([
    Deno.writeTextFile(certificatePath, pair.certificate),
    Deno.writeTextFile(keyPath, pair.key, { mode: 0o600 }),
  ]);
  return { certificate: pair.certificate, key: pair.key, certificatePath, keyPath };
}

/**
 * Creates a self-signed ECDSA P-256 certificate authority, valid 30 days, written to `dir` as
 * `<name>.crt` and `<name>.key`.
 *
 * @param dir the directory to write to
 * @param name the file base name and common name
 * @returns the CA
 * @throws {CertificateError} when the CA cannot be made
 */
export async function createCertificateAuthority(
  dir: string,
  name: string,
): Promise<CertificatePair> {
  const ca = await createCa({ commonName: name, notAfter: new Date(Date.now() + 30 * DAY_MS) });
  return await writePair(dir, name, ca);
}

/**
 * Issues an ECDSA P-256 certificate signed by `ca`, written beside the CA's files as
 * `<name>.crt` and `<name>.key`.
 *
 * @param ca the signing CA
 * @param name the file base name
 * @param options subject, usage and names
 * @returns the certificate and key
 * @throws {CertificateError} when the certificate cannot be made
 */
export async function issueCertificate(
  ca: CertificatePair,
  name: string,
  options: IssueOptions,
): Promise<CertificatePair> {
  const dir = ca.certificatePath.slice(0, ca.certificatePath.lastIndexOf("/"));
  const notAfter = new Date(Date.now() + (options.days ?? 7) * DAY_MS);
  const pair = options.usage === "serverAuth"
    ? await issueServingCertificate(ca, {
      commonName: options.commonName,
      dnsNames: options.dnsNames ?? [],
      ipAddresses: options.ipAddresses ?? [],
      notAfter,
    })
    : await issueClientCertificate(ca, {
      user: options.commonName,
      groups: options.organizations ?? [],
      notAfter,
    });
  return await writePair(dir, name, pair);
}

/** A signing key pair written to files. */
export interface SigningKeyFiles {
  /** Path of the private key (PKCS#8 PEM). */
  keyPath: string;
  /** Path of the public key (SPKI PEM). */
  publicKeyPath: string;
}

/**
 * Creates an EC P-256 key pair at `<path>.key` and `<path>.pub`, for signing service-account
 * tokens.
 *
 * @param path the file path without extension
 * @returns the paths
 * @throws {CertificateError} when the key cannot be made
 */
export async function createSigningKey(path: string): Promise<SigningKeyFiles> {
  const keyPath = `${path}.key`;
  const publicKeyPath = `${path}.pub`;
  const pair = await generateKeyPair("ecdsa-p256");
  await Promise.all([
    Deno.writeTextFile(keyPath, pair.privateKey, { mode: 0o600 }),
    Deno.writeTextFile(publicKeyPath, pair.publicKey),
  ]);
  return { keyPath, publicKeyPath };
}
