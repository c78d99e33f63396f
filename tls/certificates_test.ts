import "reflect-metadata";
import assert from "node:assert/strict";
import { createPrivateKey, createPublicKey, sign, verify, X509Certificate } from "node:crypto";
import * as x509 from "@peculiar/x509";
import {
  CertificateError,
  certificateExpiry,
  type CertifiedKey,
  createCertificateAuthority,
  generateKeyPair,
  issueClientCertificate,
  issueServingCertificate,
  type KeyAlgorithm,
  needsRotation,
  readCertificate,
} from "./certificates.ts";

const DAY_MS = 86_400_000;
const ALGORITHMS: KeyAlgorithm[] = ["ecdsa-p256", "rsa-2048"];

function keyUsages(pem: string): x509.KeyUsageFlags | undefined {
  return new x509.X509Certificate(pem).getExtension(x509.KeyUsagesExtension)?.usages;
}

const BASIC_CONSTRAINTS = "2.5.29.19";
const KEY_USAGE = "2.5.29.15";

function isCritical(pem: string, oid: string): boolean {
  const ext = new x509.X509Certificate(pem).getExtension(oid);
  assert.ok(ext, `extension ${oid} present`);
  return ext.critical;
}

function issuedBy(leaf: string, ca: string): boolean {
  const caCert = new X509Certificate(ca);
  const cert = new X509Certificate(leaf);
  return cert.checkIssued(caCert) && cert.verify(caCert.publicKey);
}

Deno.test("createCertificateAuthority() makes a self-signed CA with CA key usages", async () => {
  for (const keyAlgorithm of ALGORITHMS) {
    const ca = await createCertificateAuthority({ commonName: "test-ca", keyAlgorithm });
    assert.match(ca.certificate, /^-----BEGIN CERTIFICATE-----\n/);
    assert.match(ca.key, /^-----BEGIN PRIVATE KEY-----\n/);
    const info = readCertificate(ca.certificate);
    assert.equal(info.subject, "CN=test-ca");
    assert.equal(info.issuer, "CN=test-ca");
    assert.equal(info.isCertificateAuthority, true);
    assert.ok(isCritical(ca.certificate, BASIC_CONSTRAINTS));
    assert.ok(isCritical(ca.certificate, KEY_USAGE));
    assert.equal(
      keyUsages(ca.certificate),
      x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign |
        x509.KeyUsageFlags.digitalSignature,
    );
    assert.ok(issuedBy(ca.certificate, ca.certificate), `${keyAlgorithm}: self-signed`);
    const node = new X509Certificate(ca.certificate);
    assert.equal(node.ca, true);
    assert.equal(node.publicKey.asymmetricKeyType, keyAlgorithm === "rsa-2048" ? "rsa" : "ec");
    // The key is the certificate's: a signature made with it verifies with the certificate.
    const data = new TextEncoder().encode("signed");
    const signature = sign("sha256", data, createPrivateKey(ca.key));
    assert.ok(verify("sha256", data, node.publicKey, signature));
  }
});

Deno.test("issueServingCertificate() signs a serverAuth certificate with the names asked", async () => {
  for (const keyAlgorithm of ALGORITHMS) {
    const ca = await createCertificateAuthority({ commonName: "webhook-ca", keyAlgorithm });
    const other = await createCertificateAuthority({ commonName: "webhook-ca", keyAlgorithm });
    const serving = await issueServingCertificate(ca, {
      dnsNames: ["webhook.operators.svc", "*.operators.svc"],
      ipAddresses: ["127.0.0.1", "::1"],
      keyAlgorithm,
    });
    assert.ok(issuedBy(serving.certificate, ca.certificate), `${keyAlgorithm}: verifies`);
    assert.ok(!issuedBy(serving.certificate, other.certificate), "not by another CA");
    const info = readCertificate(serving.certificate);
    assert.equal(info.commonName, "webhook.operators.svc");
    assert.equal(info.issuer, "CN=webhook-ca");
    assert.equal(info.isCertificateAuthority, false);
    assert.deepEqual(info.dnsNames, ["webhook.operators.svc", "*.operators.svc"]);
    assert.deepEqual(info.ipAddresses, ["127.0.0.1", "::1"]);
    assert.deepEqual(info.extendedKeyUsages, ["serverAuth"]);
    assert.equal(
      new X509Certificate(serving.certificate).subjectAltName,
      "DNS:webhook.operators.svc, DNS:*.operators.svc, IP Address:127.0.0.1, IP Address:::1",
    );
    assert.ok(isCritical(serving.certificate, BASIC_CONSTRAINTS));
    assert.equal(
      keyUsages(serving.certificate),
      keyAlgorithm === "rsa-2048"
        ? x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment
        : x509.KeyUsageFlags.digitalSignature,
    );
    // The authority key identifier names the CA's subject key identifier.
    const aki = new x509.X509Certificate(serving.certificate)
      .getExtension(x509.AuthorityKeyIdentifierExtension)?.keyId;
    const ski = new x509.X509Certificate(ca.certificate)
      .getExtension(x509.SubjectKeyIdentifierExtension)?.keyId;
    assert.ok(ski);
    assert.equal(aki, ski);
  }
});

Deno.test("issueClientCertificate() puts the user in CN and the groups in O, for clientAuth", async () => {
  const ca = await createCertificateAuthority({ commonName: "client-ca" });
  const client = await issueClientCertificate(ca, {
    user: "alice",
    groups: ["system:masters", "dev,ops"],
  });
  assert.ok(issuedBy(client.certificate, ca.certificate));
  const info = readCertificate(client.certificate);
  assert.equal(info.commonName, "alice");
  assert.deepEqual(info.organizations, ["system:masters", "dev,ops"]);
  assert.deepEqual(info.extendedKeyUsages, ["clientAuth"]);
  assert.deepEqual(info.dnsNames, []);
  assert.equal(
    new X509Certificate(client.certificate).subject,
    "O=system:masters\nO=dev,ops\nCN=alice",
  );
  // A user without groups has no organization.
  const bob = readCertificate((await issueClientCertificate(ca, { user: "bob" })).certificate);
  assert.equal(bob.subject, "CN=bob");
  assert.deepEqual(bob.organizations, []);
});

Deno.test("a CA read back from PEM keeps issuing: an RSA CA signs an ECDSA leaf", async () => {
  const ca = await createCertificateAuthority({ commonName: "rsa-ca", keyAlgorithm: "rsa-2048" });
  const stored: CertifiedKey = JSON.parse(JSON.stringify(ca)); // as from a Secret
  const leaf = await issueServingCertificate(stored, { dnsNames: ["a.b.svc"] });
  assert.ok(issuedBy(leaf.certificate, ca.certificate));
  assert.equal(new X509Certificate(leaf.certificate).publicKey.asymmetricKeyType, "ec");
});

Deno.test("serial numbers are random, positive and 16 bytes", async () => {
  const ca = await createCertificateAuthority({ commonName: "ca" });
  const serials = new Set<string>();
  for (let i = 0; i < 5; i++) {
    const { certificate } = await issueClientCertificate(ca, { user: `u${i}` });
    const serial = readCertificate(certificate).serialNumber;
    assert.match(serial, /^[4-7][0-9a-f]{31}$/);
    serials.add(serial);
  }
  assert.equal(serials.size, 5);
});

Deno.test("validity: the dates asked are read back, and defaults stay within the CA's", async () => {
  const notBefore = new Date("2030-01-01T00:00:00Z");
  const notAfter = new Date("2030-04-01T00:00:00Z");
  const ca = await createCertificateAuthority({ commonName: "ca", notBefore, notAfter });
  const info = readCertificate(ca.certificate);
  assert.deepEqual(info.notBefore, notBefore);
  assert.deepEqual(info.notAfter, notAfter);
  assert.deepEqual(certificateExpiry(ca.certificate), notAfter);
  assert.deepEqual(new X509Certificate(ca.certificate).validToDate, notAfter);

  const leafAfter = new Date("2030-02-01T12:30:45Z");
  const leaf = await issueServingCertificate(ca, {
    dnsNames: ["x.svc"],
    notBefore,
    notAfter: leafAfter,
  });
  assert.deepEqual(certificateExpiry(leaf.certificate), leafAfter);

  // Without notAfter a leaf gets 90 days, cut to the CA's expiry.
  const now = Date.now();
  const longCa = await createCertificateAuthority({ commonName: "long" });
  const defaults = readCertificate(
    (await issueServingCertificate(longCa, { dnsNames: ["x.svc"] })).certificate,
  );
  assert.ok(Math.abs(defaults.notAfter.getTime() - (now + 90 * DAY_MS)) < 60_000);
  assert.ok(defaults.notBefore.getTime() < now, "backdated for clock skew");
  const shortCa = await createCertificateAuthority({
    commonName: "short",
    notAfter: new Date(now + 10 * DAY_MS),
  });
  const cut = await issueServingCertificate(shortCa, { dnsNames: ["x.svc"] });
  assert.deepEqual(certificateExpiry(cut.certificate), certificateExpiry(shortCa.certificate));
});

Deno.test("needsRotation() flips when the renewal window opens", async () => {
  const notBefore = new Date("2030-01-01T00:00:00Z");
  const notAfter = new Date(notBefore.getTime() + 90 * DAY_MS);
  const ca = await createCertificateAuthority({
    commonName: "ca",
    notBefore,
    notAfter: new Date(notBefore.getTime() + 365 * DAY_MS),
  });
  const { certificate } = await issueServingCertificate(ca, {
    dnsNames: ["x.svc"],
    notBefore,
    notAfter,
  });
  const at = (ms: number) => new Date(ms);
  // Default: the last third of its life (30 of 90 days).
  const window = notAfter.getTime() - 30 * DAY_MS;
  assert.equal(needsRotation(certificate, { now: notBefore }), false);
  assert.equal(needsRotation(certificate, { now: at(window - 1) }), false);
  assert.equal(needsRotation(certificate, { now: at(window) }), true);
  assert.equal(needsRotation(certificate, { now: at(notAfter.getTime() + DAY_MS) }), true);
  // An explicit window.
  const day = { renewBeforeMs: DAY_MS };
  assert.equal(
    needsRotation(certificate, { ...day, now: at(notAfter.getTime() - DAY_MS - 1) }),
    false,
  );
  assert.equal(needsRotation(certificate, { ...day, now: at(notAfter.getTime() - DAY_MS) }), true);
  // Default now: a certificate of 2030 is not due today, and one that expired is.
  assert.equal(needsRotation(certificate), false);
  const expired = await issueServingCertificate(ca, {
    dnsNames: ["x.svc"],
    notBefore,
    notAfter: new Date(notBefore.getTime() + 1000),
  });
  assert.equal(needsRotation(expired.certificate, { now: at(notBefore.getTime() + 1000) }), true);
});

Deno.test("generateKeyPair() gives a PKCS#8 private key and its SPKI public key", async () => {
  for (const algorithm of ALGORITHMS) {
    const pair = await generateKeyPair(algorithm);
    assert.match(pair.privateKey, /^-----BEGIN PRIVATE KEY-----\n/);
    assert.match(pair.publicKey, /^-----BEGIN PUBLIC KEY-----\n/);
    const privateKey = createPrivateKey(pair.privateKey);
    const publicKey = createPublicKey(pair.publicKey);
    assert.equal(privateKey.asymmetricKeyType, algorithm === "rsa-2048" ? "rsa" : "ec");
    if (algorithm === "rsa-2048") assert.equal(publicKey.asymmetricKeyDetails?.modulusLength, 2048);
    else assert.equal(publicKey.asymmetricKeyDetails?.namedCurve, "prime256v1");
    const data = new TextEncoder().encode("token");
    assert.ok(verify("sha256", data, publicKey, sign("sha256", data, privateKey)));
  }
});

Deno.test("errors say what cannot be made and why", async () => {
  const ca = await createCertificateAuthority({ commonName: "ca" });
  const other = await createCertificateAuthority({ commonName: "other" });
  const leaf = await issueServingCertificate(ca, { dnsNames: ["x.svc"] });
  const rejects = (promise: Promise<unknown>, message: RegExp) =>
    assert.rejects(promise, (error: unknown) => {
      assert.ok(error instanceof CertificateError);
      assert.match(error.message, message);
      return true;
    });
  await rejects(
    issueServingCertificate(ca, {}),
    /^Cannot create serving certificate "": a serving certificate needs at least one DNS name/,
  );
  await rejects(
    issueServingCertificate(ca, { ipAddresses: ["300.1.1.1"] }),
    /"300\.1\.1\.1" is not an IP address/,
  );
  await rejects(
    issueServingCertificate(ca, { dnsNames: ["bad name"] }),
    /"bad name" is not a DNS name/,
  );
  await rejects(
    issueServingCertificate({ certificate: ca.certificate, key: other.key }, {
      dnsNames: ["x.svc"],
    }),
    /^Cannot create serving certificate "x\.svc": the CA's private key does not belong/,
  );
  await rejects(
    issueClientCertificate(leaf, { user: "alice" }),
    /^Cannot create client certificate for "alice": "CN=x\.svc" is not a certificate authority/,
  );
  await rejects(
    issueClientCertificate({ certificate: "not a certificate", key: ca.key }, { user: "alice" }),
    /^Cannot read the CA certificate: /,
  );
  await rejects(
    issueClientCertificate(ca, {
      user: "alice",
      notAfter: new Date(certificateExpiry(ca.certificate).getTime() + 1000),
    }),
    /is past the expiry of its certificate authority/,
  );
  await rejects(
    createCertificateAuthority({
      commonName: "ca",
      notBefore: new Date("2030-01-01T00:00:00Z"),
      notAfter: new Date("2029-01-01T00:00:00Z"),
    }),
    /^Cannot create certificate authority "ca": notAfter 2029-01-01T00:00:00\.000Z is not after/,
  );
  assert.throws(() => readCertificate("garbage"), CertificateError);
  assert.throws(() => needsRotation(""), /^CertificateError: Cannot read certificate: /);
});

async function handshake(serving: CertifiedKey, caCertificate: string): Promise<string> {
  await using server = Deno.serve(
    {
      hostname: "127.0.0.1",
      port: 0,
      cert: serving.certificate,
      key: serving.key,
      onListen() {},
      onError: () => new Response("error", { status: 500 }),
    },
    () => new Response("hello over TLS"),
  );
  using client = Deno.createHttpClient({ caCerts: [caCertificate] });
  const res = await fetch(`https://127.0.0.1:${server.addr.port}/`, { client });
  return await res.text();
}

Deno.test("a serving certificate completes a TLS handshake, and only for its own CA", async () => {
  for (const keyAlgorithm of ALGORITHMS) {
    const ca = await createCertificateAuthority({ commonName: "tls-ca", keyAlgorithm });
    const other = await createCertificateAuthority({ commonName: "tls-ca", keyAlgorithm });
    const serving = await issueServingCertificate(ca, {
      dnsNames: ["localhost"],
      ipAddresses: ["127.0.0.1"],
      keyAlgorithm,
    });
    assert.equal(await handshake(serving, ca.certificate), "hello over TLS", keyAlgorithm);
    await assert.rejects(handshake(serving, other.certificate), (error: unknown) => {
      assert.ok(error instanceof TypeError);
      assert.match(String(error.cause ?? error.message), /certificate|UnknownIssuer|BadSignature/i);
      return true;
    });
  }
});

Deno.test("a serving certificate without the address asked for is refused", async () => {
  const ca = await createCertificateAuthority({ commonName: "tls-ca" });
  const serving = await issueServingCertificate(ca, { dnsNames: ["webhook.operators.svc"] });
  await assert.rejects(handshake(serving, ca.certificate), TypeError);
});
