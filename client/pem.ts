/**
 * Checks that PEM text parses: certificates with `X509Certificate`, private keys with
 * `createPrivateKey` (both from `node:crypto`), so that a damaged certificate or key in a
 * configuration is refused when it is loaded rather than at the first request.
 *
 * @module
 */
import { createPrivateKey, X509Certificate } from "node:crypto";

const CERTIFICATE_BLOCKS = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

/**
 * Says why PEM text that looks like certificates or a private key cannot be used, without
 * quoting it (a key is a secret).
 *
 * @param text the PEM text
 * @param kind `certificate` (one or more, as in a CA bundle; each must parse) or `private key`
 *   (PKCS#1, PKCS#8 or SEC1, unencrypted)
 * @returns the problem, or `undefined` when the text parses
 */
export function unparseablePem(
  text: string,
  kind: "certificate" | "private key",
): string | undefined {
  if (kind === "certificate") {
    const blocks = text.match(CERTIFICATE_BLOCKS) ?? [];
    if (blocks.length === 0) return "it holds no PEM certificate";
    for (const [i, block] of blocks.entries()) {
      try {
        new X509Certificate(block);
      } catch {
        return blocks.length === 1
          ? "the certificate cannot be parsed"
          : `certificate ${i + 1} of ${blocks.length} cannot be parsed`;
      }
    }
    return undefined;
  }
  if (/-----BEGIN ENCRYPTED PRIVATE KEY-----/.test(text)) {
    return "the private key is encrypted, and Deno cannot use an encrypted key";
  }
  try {
    createPrivateKey(text);
  } catch {
    return "the private key cannot be parsed (PKCS#1, PKCS#8 and SEC1 PEM keys are supported)";
  }
  return undefined;
}
