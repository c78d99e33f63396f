/**
 * X.509 certificates made in-process on WebCrypto (no `openssl` binary): a self-signed
 * certificate authority, serving certificates for DNS names and IP addresses, client
 * certificates for Kubernetes' client-certificate authentication (CN = user, O = groups), key
 * pairs in PEM, and reading a certificate back to know when to rotate it.
 *
 * Keys are ECDSA P-256 by default, or RSA 2048. Certificates and keys travel as PEM strings
 * (certificates as `CERTIFICATE`, private keys as PKCS#8 `PRIVATE KEY`, public keys as SPKI
 * `PUBLIC KEY`), the forms a Secret of type `kubernetes.io/tls`, kube-apiserver and
 * `Deno.serve` take.
 *
 * ```ts
 * import {
 *   createCertificateAuthority,
 *   issueServingCertificate,
 *   needsRotation,
 * } from "./certificates.ts";
 *
 * const ca = await createCertificateAuthority({ commonName: "webhook-ca" });
 * const serving = await issueServingCertificate(ca, {
 *   dnsNames: ["webhook.operators.svc"],
 *   ipAddresses: ["127.0.0.1"],
 * });
 * console.log(needsRotation(serving.certificate)); // false: two thirds of its life are left
 * ```
 *
 * @module
 */
// @peculiar/x509 resolves its algorithms through tsyringe, which needs the Reflect metadata
// API; the polyfill must be evaluated before the library.
import "reflect-metadata";
import * as x509 from "@peculiar/x509";

/** The kinds of key this module generates. */
export type KeyAlgorithm = "ecdsa-p256" | "rsa-2048";

/** A certificate and its private key, PEM (the private key PKCS#8). */
export interface CertifiedKey {
  /** The certificate, PEM (`-----BEGIN CERTIFICATE-----`). */
  certificate: string;
  /** The private key, PKCS#8 PEM (`-----BEGIN PRIVATE KEY-----`). */
  key: string;
}

/** A key pair, PEM: a PKCS#8 private key and its SPKI public key. */
export interface KeyPairPem {
  /** The private key, PKCS#8 PEM (`-----BEGIN PRIVATE KEY-----`). */
  privateKey: string;
  /** The public key, SPKI PEM (`-----BEGIN PUBLIC KEY-----`). */
  publicKey: string;
}

/** Validity of a new certificate. */
export interface ValidityOptions {
  /**
   * The first instant the certificate is valid; default one hour before now, so that a peer
   * whose clock is a little behind accepts it.
   */
  notBefore?: Date;
  /**
   * The last instant the certificate is valid; default 365 days from now for a certificate
   * authority, and 90 days from now (but not past the CA's own expiry) for a certificate it
   * issues.
   */
  notAfter?: Date;
}

/** Options for {@linkcode createCertificateAuthority}. */
export interface CertificateAuthorityOptions extends ValidityOptions {
  /** The CA's common name. */
  commonName: string;
  /** The CA's key; default `"ecdsa-p256"`. */
  keyAlgorithm?: KeyAlgorithm;
}

/** Options for {@linkcode issueServingCertificate}. */
export interface ServingCertificateOptions extends ValidityOptions {
  /** DNS names the certificate is valid for, e.g. `webhook.operators.svc`; `*.` allowed. */
  dnsNames?: string[];
  /** IPv4 or IPv6 addresses the certificate is valid for, e.g. `127.0.0.1`. */
  ipAddresses?: string[];
  /** The subject's common name; default the first DNS name, else the first IP address. */
  commonName?: string;
  /** The certificate's key; default `"ecdsa-p256"`. */
  keyAlgorithm?: KeyAlgorithm;
}

/** Options for {@linkcode issueClientCertificate}. */
export interface ClientCertificateOptions extends ValidityOptions {
  /** The user name (the subject's common name, as kube-apiserver reads it). */
  user: string;
  /** The groups (the subject's organizations, as kube-apiserver reads them). */
  groups?: string[];
  /** The certificate's key; default `"ecdsa-p256"`. */
  keyAlgorithm?: KeyAlgorithm;
}

/** What {@linkcode readCertificate} finds in a certificate. */
export interface CertificateInfo {
  /** The subject as an RFC 4514 string, e.g. `CN=alice, O=developers`. */
  subject: string;
  /** The subject's common name, if any. */
  commonName?: string;
  /** The subject's organizations (a client certificate's groups). */
  organizations: string[];
  /** The issuer as an RFC 4514 string. */
  issuer: string;
  /** The serial number, lowercase hexadecimal. */
  serialNumber: string;
  /** The first instant the certificate is valid. */
  notBefore: Date;
  /** The last instant the certificate is valid. */
  notAfter: Date;
  /** Whether basic constraints mark it as a certificate authority. */
  isCertificateAuthority: boolean;
  /** DNS names of the subjectAltName extension. */
  dnsNames: string[];
  /** IP addresses of the subjectAltName extension. */
  ipAddresses: string[];
  /** Extended key usages by name (`serverAuth`, `clientAuth`, …) or by OID when unnamed. */
  extendedKeyUsages: string[];
}

/** Options for {@linkcode needsRotation}. */
export interface RotationOptions {
  /** The current time; default now. */
  now?: Date;
  /**
   * How long before its expiry a certificate is renewed, in milliseconds; default a third of
   * its validity period (a 90-day certificate is renewed 30 days before it expires).
   */
  renewBeforeMs?: number;
}

/** Thrown when a certificate or key cannot be made or read. */
export class CertificateError extends Error {
  /**
   * Creates the error.
   *
   * @param message what failed, as "Cannot …: detail"
   * @param options the cause
   */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "CertificateError";
  }
}

const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;
const CA_VALIDITY_MS = 365 * DAY_MS;
const LEAF_VALIDITY_MS = 90 * DAY_MS;

const EXTENDED_KEY_USAGE_NAMES: Record<string, string> = Object.fromEntries(
  Object.entries(x509.ExtendedKeyUsage).map(([name, oid]) => [oid, name]),
);

interface SigningAlgorithm {
  /** For `generateKey`. */
  generate: RsaHashedKeyGenParams | EcKeyGenParams;
  /** For `importKey` of the private key. */
  import: RsaHashedImportParams | EcKeyImportParams;
  /** For signing certificates with the key. */
  sign: Algorithm | EcdsaParams;
}

function keyParameters(algorithm: KeyAlgorithm): SigningAlgorithm {
  switch (algorithm) {
    case "ecdsa-p256":
      return ecdsa("P-256");
    case "rsa-2048":
      return rsa(2048);
    default:
      throw new CertificateError(
        `Cannot create key: unknown key algorithm "${algorithm}" ` +
          `(expected "ecdsa-p256" or "rsa-2048")`,
      );
  }
}

function ecdsa(namedCurve: string): SigningAlgorithm {
  const hash = namedCurve === "P-384" ? "SHA-384" : namedCurve === "P-521" ? "SHA-512" : "SHA-256";
  return {
    generate: { name: "ECDSA", namedCurve },
    import: { name: "ECDSA", namedCurve },
    sign: { name: "ECDSA", hash } as EcdsaParams,
  };
}

function rsa(modulusLength: number): SigningAlgorithm {
  const params = { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" };
  return {
    generate: { ...params, modulusLength, publicExponent: new Uint8Array([1, 0, 1]) },
    import: params,
    sign: params,
  };
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

async function generateCryptoKeyPair(algorithm: KeyAlgorithm): Promise<CryptoKeyPair> {
  const params = keyParameters(algorithm);
  try {
    return await crypto.subtle.generateKey(params.generate, true, ["sign", "verify"]);
  } catch (error) {
    throw new CertificateError(`Cannot create key (${algorithm}): ${describe(error)}`, {
      cause: error,
    });
  }
}

async function privateKeyPem(key: CryptoKey): Promise<string> {
  return x509.PemConverter.encode(await crypto.subtle.exportKey("pkcs8", key), "PRIVATE KEY");
}

/**
 * Generates a key pair, e.g. for kube-apiserver's `--service-account-signing-key-file` (the
 * private key) and `--service-account-key-file` (the public key).
 *
 * @param algorithm the kind of key; default `"ecdsa-p256"`
 * @returns the PKCS#8 private key and the SPKI public key, PEM
 * @throws {CertificateError} when the key cannot be generated
 */
export async function generateKeyPair(algorithm: KeyAlgorithm = "ecdsa-p256"): Promise<KeyPairPem> {
  const keys = await generateCryptoKeyPair(algorithm);
  return {
    privateKey: await privateKeyPem(keys.privateKey),
    publicKey: x509.PemConverter.encode(
      await crypto.subtle.exportKey("spki", keys.publicKey),
      "PUBLIC KEY",
    ),
  };
}

/** 16 random bytes, positive as a DER integer and without a leading zero byte. */
function randomSerialNumber(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  bytes[0] = 0x40 | (bytes[0]! & 0x3f);
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

function validity(
  options: ValidityOptions,
  defaultMs: number,
  what: string,
  limit?: Date,
): { notBefore: Date; notAfter: Date } {
  const now = Date.now();
  const notBefore = options.notBefore ?? new Date(now - HOUR_MS);
  let notAfter = options.notAfter;
  if (notAfter === undefined) {
    notAfter = new Date(now + defaultMs);
    if (limit && notAfter > limit) notAfter = limit;
  } else if (limit && notAfter > limit) {
    throw new CertificateError(
      `Cannot create ${what}: notAfter ${notAfter.toISOString()} is past the expiry of its ` +
        `certificate authority (${limit.toISOString()})`,
    );
  }
  if (Number.isNaN(notBefore.getTime()) || Number.isNaN(notAfter.getTime())) {
    throw new CertificateError(`Cannot create ${what}: notBefore or notAfter is an invalid date`);
  }
  if (notAfter <= notBefore) {
    throw new CertificateError(
      `Cannot create ${what}: notAfter ${notAfter.toISOString()} is not after notBefore ` +
        notBefore.toISOString(),
    );
  }
  return { notBefore, notAfter };
}

/** A subject name: organizations first, then the common name (as `openssl -subj /O=…/CN=…`). */
function subjectName(commonName: string, organizations: string[] = []): x509.JsonName {
  return [...organizations.map((o) => ({ O: [o] })), { CN: [commonName] }];
}

function keyUsages(keys: CryptoKeyPair): x509.KeyUsageFlags {
  // keyEncipherment only means something for an RSA key (RSA key exchange).
  return keys.publicKey.algorithm.name === "ECDSA"
    ? x509.KeyUsageFlags.digitalSignature
    : x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment;
}

/**
 * Creates a self-signed certificate authority: basic constraints `CA:TRUE` (critical), key usage
 * `keyCertSign, cRLSign, digitalSignature` (critical), and a subject key identifier.
 *
 * @param options the common name, key algorithm and validity
 * @returns the CA's certificate and private key, PEM
 * @throws {CertificateError} when the certificate cannot be made
 */
export async function createCertificateAuthority(
  options: CertificateAuthorityOptions,
): Promise<CertifiedKey> {
  const what = `certificate authority "${options.commonName}"`;
  const { notBefore, notAfter } = validity(options, CA_VALIDITY_MS, what);
  const algorithm = options.keyAlgorithm ?? "ecdsa-p256";
  const keys = await generateCryptoKeyPair(algorithm);
  try {
    const certificate = await x509.X509CertificateGenerator.createSelfSigned({
      serialNumber: randomSerialNumber(),
      name: subjectName(options.commonName),
      notBefore,
      notAfter,
      keys,
      signingAlgorithm: keyParameters(algorithm).sign,
      extensions: [
        new x509.BasicConstraintsExtension(true, undefined, true),
        new x509.KeyUsagesExtension(
          x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign |
            x509.KeyUsageFlags.digitalSignature,
          true,
        ),
        await x509.SubjectKeyIdentifierExtension.create(keys.publicKey, false, crypto),
      ],
    }, crypto);
    return { certificate: certificate.toString("pem"), key: await privateKeyPem(keys.privateKey) };
  } catch (error) {
    throw new CertificateError(`Cannot create ${what}: ${describe(error)}`, { cause: error });
  }
}

function parseCertificate(pem: string, what: string): x509.X509Certificate {
  try {
    return new x509.X509Certificate(pem);
  } catch (error) {
    throw new CertificateError(`Cannot read ${what}: ${describe(error)}`, { cause: error });
  }
}

interface Issuer {
  certificate: x509.X509Certificate;
  signingKey: CryptoKey;
  sign: Algorithm | EcdsaParams;
}

/** Imports the CA's private key, with the algorithm its certificate names, and checks they match. */
async function loadIssuer(ca: CertifiedKey, what: string): Promise<Issuer> {
  const certificate = parseCertificate(ca.certificate, "the CA certificate");
  if (!certificate.getExtension(x509.BasicConstraintsExtension)?.ca) {
    throw new CertificateError(
      `Cannot create ${what}: "${certificate.subject}" is not a certificate authority ` +
        `(no basic constraints CA:TRUE)`,
    );
  }
  const publicAlgorithm = certificate.publicKey.algorithm as Algorithm & { namedCurve?: string };
  let params: SigningAlgorithm;
  if (publicAlgorithm.name === "ECDSA" && publicAlgorithm.namedCurve) {
    params = ecdsa(publicAlgorithm.namedCurve);
  } else if (publicAlgorithm.name.startsWith("RSA")) {
    params = rsa(2048); // the modulus length only matters when generating a key
  } else {
    throw new CertificateError(
      `Cannot create ${what}: the CA's key is ${publicAlgorithm.name}, not ECDSA or RSA`,
    );
  }
  let signingKey: CryptoKey;
  let privateJwk: JsonWebKey;
  let publicJwk: JsonWebKey;
  try {
    const der = x509.PemConverter.decodeFirst(ca.key);
    signingKey = await crypto.subtle.importKey("pkcs8", der, params.import, true, ["sign"]);
    privateJwk = await crypto.subtle.exportKey("jwk", signingKey);
    const publicKey = await certificate.publicKey.export(params.import, ["verify"], crypto);
    publicJwk = await crypto.subtle.exportKey("jwk", publicKey);
  } catch (error) {
    throw new CertificateError(
      `Cannot create ${what}: the CA's private key is not a PKCS#8 PEM key of the CA ` +
        `certificate's kind (${describe(error)})`,
      { cause: error },
    );
  }
  const same = publicAlgorithm.name === "ECDSA"
    ? privateJwk.x === publicJwk.x && privateJwk.y === publicJwk.y
    : privateJwk.n === publicJwk.n && privateJwk.e === publicJwk.e;
  if (!same) {
    throw new CertificateError(
      `Cannot create ${what}: the CA's private key does not belong to its certificate`,
    );
  }
  return { certificate, signingKey, sign: params.sign };
}

interface LeafOptions extends ValidityOptions {
  commonName: string;
  organizations?: string[];
  keyAlgorithm?: KeyAlgorithm;
  usage: x509.ExtendedKeyUsage;
  names?: x509.JsonGeneralName[];
}

async function issue(ca: CertifiedKey, options: LeafOptions, what: string): Promise<CertifiedKey> {
  const issuer = await loadIssuer(ca, what);
  const { notBefore, notAfter } = validity(
    options,
    LEAF_VALIDITY_MS,
    what,
    issuer.certificate.notAfter,
  );
  const keys = await generateCryptoKeyPair(options.keyAlgorithm ?? "ecdsa-p256");
  try {
    const caKeyId = issuer.certificate.getExtension(x509.SubjectKeyIdentifierExtension)?.keyId;
    const extensions: x509.Extension[] = [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(keyUsages(keys), true),
      new x509.ExtendedKeyUsageExtension([options.usage], false),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey, false, crypto),
      caKeyId === undefined
        ? await x509.AuthorityKeyIdentifierExtension.create(
          issuer.certificate.publicKey,
          false,
          crypto,
        )
        : new x509.AuthorityKeyIdentifierExtension(caKeyId),
    ];
    if (options.names?.length) {
      extensions.push(new x509.SubjectAlternativeNameExtension(options.names, false));
    }
    const certificate = await x509.X509CertificateGenerator.create({
      serialNumber: randomSerialNumber(),
      subject: subjectName(options.commonName, options.organizations),
      issuer: issuer.certificate.subjectName,
      notBefore,
      notAfter,
      publicKey: keys.publicKey,
      signingKey: issuer.signingKey,
      signingAlgorithm: issuer.sign,
      extensions,
    }, crypto);
    return { certificate: certificate.toString("pem"), key: await privateKeyPem(keys.privateKey) };
  } catch (error) {
    throw new CertificateError(`Cannot create ${what}: ${describe(error)}`, { cause: error });
  }
}

const DNS_LABEL = "[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?";
const DNS_NAME = new RegExp(`^(?:\\*\\.)?${DNS_LABEL}(?:\\.${DNS_LABEL})*$`, "i");
const IPV4 = /^(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)$/;

function isIpAddress(value: string): boolean {
  if (IPV4.test(value)) return true;
  if (!value.includes(":")) return false;
  try {
    return new URL(`http://[${value}]/`).hostname !== "";
  } catch {
    return false;
  }
}

/**
 * Issues a serving (TLS server) certificate signed by `ca`: the DNS names and IP addresses in
 * its subjectAltName, extended key usage `serverAuth`, key usage `digitalSignature` (plus
 * `keyEncipherment` for an RSA key), basic constraints `CA:FALSE`, and key identifiers.
 *
 * @param ca the issuing certificate authority (certificate and PKCS#8 key, PEM)
 * @param options the names, key algorithm and validity; at least one DNS name or IP address
 * @returns the certificate and its private key, PEM
 * @throws {CertificateError} when a name is malformed, the CA cannot sign, or the validity
 * reaches past the CA's
 */
export async function issueServingCertificate(
  ca: CertifiedKey,
  options: ServingCertificateOptions,
): Promise<CertifiedKey> {
  const dnsNames = options.dnsNames ?? [];
  const ipAddresses = options.ipAddresses ?? [];
  const commonName = options.commonName ?? dnsNames[0] ?? ipAddresses[0];
  const what = `serving certificate "${commonName ?? ""}"`;
  if (commonName === undefined || (!dnsNames.length && !ipAddresses.length)) {
    throw new CertificateError(
      `Cannot create ${what}: a serving certificate needs at least one DNS name or IP address`,
    );
  }
  for (const name of dnsNames) {
    if (!DNS_NAME.test(name)) {
      throw new CertificateError(`Cannot create ${what}: "${name}" is not a DNS name`);
    }
  }
  for (const ip of ipAddresses) {
    if (!isIpAddress(ip)) {
      throw new CertificateError(`Cannot create ${what}: "${ip}" is not an IP address`);
    }
  }
  return await issue(ca, {
    ...options,
    commonName,
    usage: x509.ExtendedKeyUsage.serverAuth,
    names: [
      ...dnsNames.map((value) => ({ type: "dns" as const, value })),
      ...ipAddresses.map((value) => ({ type: "ip" as const, value })),
    ],
  }, what);
}

/**
 * Issues a client certificate signed by `ca` for kube-apiserver's client-certificate
 * authentication (`--client-ca-file`): the user as the subject's common name, each group as an
 * organization, extended key usage `clientAuth`, key usage `digitalSignature` (plus
 * `keyEncipherment` for an RSA key), basic constraints `CA:FALSE`.
 *
 * @param ca the issuing certificate authority (certificate and PKCS#8 key, PEM)
 * @param options the user, groups, key algorithm and validity
 * @returns the certificate and its private key, PEM
 * @throws {CertificateError} when the user is empty, the CA cannot sign, or the validity
 * reaches past the CA's
 */
export async function issueClientCertificate(
  ca: CertifiedKey,
  options: ClientCertificateOptions,
): Promise<CertifiedKey> {
  const what = `client certificate for "${options.user}"`;
  if (!options.user) throw new CertificateError(`Cannot create ${what}: the user name is empty`);
  const { user, groups, ...rest } = options;
  return await issue(ca, {
    ...rest,
    commonName: user,
    organizations: groups ?? [],
    usage: x509.ExtendedKeyUsage.clientAuth,
  }, what);
}

/**
 * Reads a PEM certificate (the first one, for a chain): subject, issuer, serial number,
 * validity, names and extended key usages.
 *
 * @param pem the certificate, PEM
 * @returns what the certificate says
 * @throws {CertificateError} when `pem` holds no readable certificate
 */
export function readCertificate(pem: string): CertificateInfo {
  const certificate = parseCertificate(pem, "certificate");
  const attribute = (oid: string): string[] => certificate.subjectName.getField(oid);
  const commonName = attribute("2.5.4.3")[0];
  const names = certificate.getExtension(x509.SubjectAlternativeNameExtension)?.names.toJSON() ??
    [];
  const usages = certificate.getExtension(x509.ExtendedKeyUsageExtension)?.usages ?? [];
  return {
    subject: certificate.subject,
    ...(commonName === undefined ? {} : { commonName }),
    organizations: attribute("2.5.4.10"),
    issuer: certificate.issuer,
    serialNumber: certificate.serialNumber.toLowerCase(),
    notBefore: certificate.notBefore,
    notAfter: certificate.notAfter,
    isCertificateAuthority: certificate.getExtension(x509.BasicConstraintsExtension)?.ca ?? false,
    dnsNames: names.filter((n) => n.type === "dns").map((n) => n.value),
    ipAddresses: names.filter((n) => n.type === "ip").map((n) => n.value),
    extendedKeyUsages: Array.from(
      usages,
      (oid) => EXTENDED_KEY_USAGE_NAMES[String(oid)] ?? String(oid),
    ),
  };
}

/**
 * The expiry (notAfter) of a PEM certificate.
 *
 * @param pem the certificate, PEM (the first one, for a chain)
 * @returns the last instant the certificate is valid
 * @throws {CertificateError} when `pem` holds no readable certificate
 */
export function certificateExpiry(pem: string): Date {
  return parseCertificate(pem, "certificate").notAfter;
}

/**
 * Whether a certificate should be replaced: it expires within `renewBeforeMs` of `now` (or has
 * expired).
 *
 * @param pem the certificate, PEM (the first one, for a chain)
 * @param options the current time and how long before expiry to renew
 * @returns true when the certificate is due for rotation
 * @throws {CertificateError} when `pem` holds no readable certificate
 */
export function needsRotation(pem: string, options: RotationOptions = {}): boolean {
  const certificate = parseCertificate(pem, "certificate");
  const notAfter = certificate.notAfter.getTime();
  const renewBeforeMs = options.renewBeforeMs ??
    (notAfter - certificate.notBefore.getTime()) / 3;
  const now = (options.now ?? new Date()).getTime();
  return now >= notAfter - renewBeforeMs;
}
