import assert from "node:assert/strict";
import { X509Certificate } from "node:crypto";
import { createCertificateAuthority, createSigningKey, issueCertificate } from "./certs.ts";

Deno.test("the testkit's certificates are made in-process: no openssl on PATH needed", async () => {
  const dir = await Deno.makeTempDir({ prefix: "roperator-certs-test-" });
  const path = Deno.env.get("PATH");
  Deno.env.set("PATH", dir); // an empty directory: no openssl, no other command
  try {
    const ca = await createCertificateAuthority(dir, "ca");
    const serving = await issueCertificate(ca, "server", {
      commonName: "kube-apiserver",
      usage: "serverAuth",
      dnsNames: ["localhost"],
      ipAddresses: ["127.0.0.1"],
      days: 2,
    });
    const user = await issueCertificate(ca, "user", {
      commonName: "alice",
      organizations: ["developers"],
      usage: "clientAuth",
    });
    const signer = await createSigningKey(`${dir}/sa`);

    assert.equal(await Deno.readTextFile(ca.certificatePath), ca.certificate);
    assert.equal(await Deno.readTextFile(serving.keyPath), serving.key);
    assert.equal(ca.certificatePath, `${dir}/ca.crt`);
    assert.equal(user.keyPath, `${dir}/user.key`);
    assert.equal((await Deno.stat(user.keyPath)).mode! & 0o077, 0, "keys are private");
    const caCert = new X509Certificate(ca.certificate);
    const server = new X509Certificate(serving.certificate);
    assert.ok(server.checkIssued(caCert) && server.verify(caCert.publicKey));
    assert.equal(server.subjectAltName, "DNS:localhost, IP Address:127.0.0.1");
    const days = (server.validToDate.getTime() - Date.now()) / 86_400_000;
    assert.ok(days > 1.99 && days <= 2, `valid for the days asked (${days})`);
    assert.equal(new X509Certificate(user.certificate).subject, "O=developers\nCN=alice");
    assert.match(await Deno.readTextFile(signer.keyPath), /^-----BEGIN PRIVATE KEY-----\n/);
    assert.match(await Deno.readTextFile(signer.publicKeyPath), /^-----BEGIN PUBLIC KEY-----\n/);
  } finally {
    if (path === undefined) Deno.env.delete("PATH");
    else Deno.env.set("PATH", path);
    await Deno.remove(dir, { recursive: true });
  }
});
