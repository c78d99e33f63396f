/**
 * Certificates for a test control plane, made with the `openssl` command: a serving CA and
 * certificate for kube-apiserver, a client CA and client certificates for users, and the
 * service-account signing key.
 *
 * @module
 */

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
  /** DNS names and IP addresses for the subjectAltName of a serving certificate. */
  dnsNames?: string[];
  /** IP addresses for the subjectAltName. */
  ipAddresses?: string[];
  /** Validity in days (default 7). */
  days?: number;
}

/** Thrown when `openssl` fails or is missing. */
export class CertificateError extends Error {
  /**
   * @param message what failed
   * @param options the cause
   */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "CertificateError";
  }
}

async function openssl(args: string[], cwd: string): Promise<void> {
  let out: Deno.CommandOutput;
  try {
    out = await new Deno.Command("openssl", { args, cwd, stdout: "null", stderr: "piped" })
      .output();
  } catch (error) {
    throw new CertificateError(
      `Cannot run openssl: ${error instanceof Error ? error.message : error} ` +
        `(install the openssl package)`,
      { cause: error },
    );
  }
  if (!out.success) {
    const stderr = new TextDecoder().decode(out.stderr).trim().split("\n").slice(0, 3).join("; ");
    throw new CertificateError(`Cannot run "openssl ${args[0]}": ${stderr}`);
  }
}

function subject(commonName: string, organizations: string[] = []): string {
  const esc = (s: string) => s.replace(/[\\/=+,]/g, (c) => `\\${c}`);
  return organizations.map((o) => `/O=${esc(o)}`).join("") + `/CN=${esc(commonName)}`;
}

async function readPair(dir: string, name: string): Promise<CertificatePair> {
  const certificatePath = `${dir}/${name}.crt`;
  const keyPath = `${dir}/${name}.key`;
  return {
    certificate: await Deno.readTextFile(certificatePath),
    key: await Deno.readTextFile(keyPath),
    certificatePath,
    keyPath,
  };
}

const EC = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-noenc"];

/**
 * Creates a self-signed certificate authority in `dir` as `<name>.crt` and `<name>.key`.
 *
 * @param dir the directory to write to
 * @param name the file base name and common name
 * @returns the CA
 */
export async function createCertificateAuthority(
  dir: string,
  name: string,
): Promise<CertificatePair> {
  await openssl([
    "req",
    "-x509",
    ...EC,
    "-days",
    "30",
    "-subj",
    subject(name),
    "-addext",
    "basicConstraints=critical,CA:TRUE",
    "-addext",
    "keyUsage=critical,keyCertSign,cRLSign,digitalSignature",
    "-keyout",
    `${name}.key`,
    "-out",
    `${name}.crt`,
  ], dir);
  return await readPair(dir, name);
}

let serial = 0;

/**
 * Issues a certificate signed by `ca`, written to `dir` as `<name>.crt` and `<name>.key`.
 *
 * @param ca the signing CA
 * @param name the file base name
 * @param options subject, usage and names
 * @returns the certificate and key
 */
export async function issueCertificate(
  ca: CertificatePair,
  name: string,
  options: IssueOptions,
): Promise<CertificatePair> {
  const dir = ca.certificatePath.slice(0, ca.certificatePath.lastIndexOf("/"));
  const sans = [
    ...(options.dnsNames ?? []).map((d) => `DNS:${d}`),
    ...(options.ipAddresses ?? []).map((ip) => `IP:${ip}`),
  ];
  const ext = [
    "basicConstraints=critical,CA:FALSE",
    "keyUsage=critical,digitalSignature,keyEncipherment",
    `extendedKeyUsage=${options.usage}`,
    ...(sans.length ? [`subjectAltName=${sans.join(",")}`] : []),
  ].join("\n");
  await Deno.writeTextFile(`${dir}/${name}.ext`, ext + "\n");
  await openssl([
    "req",
    "-new",
    ...EC,
    "-subj",
    subject(options.commonName, options.organizations),
    "-keyout",
    `${name}.key`,
    "-out",
    `${name}.csr`,
  ], dir);
  serial++;
  await openssl([
    "x509",
    "-req",
    "-in",
    `${name}.csr`,
    "-CA",
    ca.certificatePath,
    "-CAkey",
    ca.keyPath,
    "-set_serial",
    String(Date.now() * 1000 + serial),
    "-days",
    String(options.days ?? 7),
    "-extfile",
    `${name}.ext`,
    "-out",
    `${name}.crt`,
  ], dir);
  return await readPair(dir, name);
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
 */
export async function createSigningKey(path: string): Promise<SigningKeyFiles> {
  const dir = path.slice(0, path.lastIndexOf("/"));
  const keyPath = `${path}.key`;
  const publicKeyPath = `${path}.pub`;
  await openssl([
    "genpkey",
    "-algorithm",
    "EC",
    "-pkeyopt",
    "ec_paramgen_curve:P-256",
    "-out",
    keyPath,
  ], dir);
  await openssl(["pkey", "-in", keyPath, "-pubout", "-out", publicKeyPath], dir);
  return { keyPath, publicKeyPath };
}
