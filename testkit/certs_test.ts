import assert from "node:assert/strict";
import { X509Certificate } from "node:crypto";

Deno.test("the testkit's certificates are made in-process: no openssl on PATH needed", async () => {
  const dir = await Deno.makeTempDir({ prefix: "roperator-certs-test-" });
  try {
    // In a process of its own whose PATH is an empty directory (no openssl, no other command):
    // the PATH of this process is shared by the test files running in parallel.
    const certs = new URL("./certs.ts", import.meta.url).href;
    const script = `
      import { createCertificateAuthority, createSigningKey, issueCertificate } from ${
      JSON.stringify(certs)
    };
      const dir = ${JSON.stringify(dir)};
      const ca = await createCertificateAuthority(dir, "ca");
      await issueCertificate(ca, "server", {
        commonName: "kube-apiserver",
        usage: "serverAuth",
        dnsNames: ["localhost"],
        ipAddresses: ["127.0.0.1"],
        days: 2,
      });
      await issueCertificate(ca, "user", {
        commonName: "alice",
        organizations: ["developers"],
        usage: "clientAuth",
      });
      await createSigningKey(dir + "/sa");
    `;
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["eval", "--ext=ts", script],
      cwd: new URL("../", import.meta.url),
      env: { PATH: dir },
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.ok(out.success, new TextDecoder().decode(out.stderr));

    const read = (name: string) => Deno.readTextFile(`${dir}/${name}`);
    assert.equal((await Deno.stat(`${dir}/user.key`)).mode! & 0o077, 0, "keys are private");
    const caCert = new X509Certificate(await read("ca.crt"));
    const server = new X509Certificate(await read("server.crt"));
    assert.ok(server.checkIssued(caCert) && server.verify(caCert.publicKey));
    assert.equal(server.subjectAltName, "DNS:localhost, IP Address:127.0.0.1");
    const days = (server.validToDate.getTime() - Date.now()) / 86_400_000;
    assert.ok(days > 1.99 && days <= 2, `valid for the days asked (${days})`);
    assert.equal(new X509Certificate(await read("user.crt")).subject, "O=developers\nCN=alice");
    assert.match(await read("server.key"), /^-----BEGIN PRIVATE KEY-----\n/);
    assert.match(await read("sa.key"), /^-----BEGIN PRIVATE KEY-----\n/);
    assert.match(await read("sa.pub"), /^-----BEGIN PUBLIC KEY-----\n/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
