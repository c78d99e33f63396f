// PEM fixtures for configuration tests: real certificates and keys (made with openssl once, for
// these tests only; they secure nothing), since a configuration is refused when its PEM does not
// parse.

/** A self-signed CA certificate. */
export const CA_PEM = `-----BEGIN CERTIFICATE-----
MIIBjzCCATWgAwIBAgIUdX/YMJqmywNoxgp+HSvxYj1shS4wCgYIKoZIzj0EAwIw
HDEaMBgGA1UEAwwRcm9wZXJhdG9yLXRlc3QtY2EwIBcNMjYxMjAxMjEzMDUxWhgP
MjEyNjExMDcyMTMwNTFaMBwxGjAYBgNVBAMMEXJvcGVyYXRvci10ZXN0LWNhMFkw
EwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEIh5Gelczf3rHNOZeSLj1HpSnFNvY02rZ
nGMh6zEnIEkbF6kZV2j0jA+xQ7P9E2xgZavV8IdSU8Yk4kgW4wYQn6NTMFEwHQYD
VR0OBBYEFDlM+KmG6zdsQaBUUfqsyx+tDx4CMB8GA1UdIwQYMBaAFDlM+KmG6zds
QaBUUfqsyx+tDx4CMA8GA1UdEwEB/wQFMAMBAf8wCgYIKoZIzj0EAwIDSAAwRQIh
AIYPAB1/JxUSQX9DNR75Y1+31jhoWKRH0IVKNKrTMoZOAiAs3A7vqfUZmybV4NO2
II6hhmIH2MULxhGLzMmJyiw30g==
-----END CERTIFICATE-----
`;

/** A second, unrelated CA certificate (RSA), for bundles of more than one certificate. */
export const CA2_PEM = `-----BEGIN CERTIFICATE-----
MIIDHzCCAgegAwIBAgIUIS1mYRgdp//WtkR88vocPJfIsXAwDQYJKoZIhvcNAQEL
BQAwHjEcMBoGA1UEAwwTcm9wZXJhdG9yLXRlc3QtY2EtMjAgFw0yNjEyMDEyMTMx
MzdaGA8yMTI2MTEwNzIxMzEzN1owHjEcMBoGA1UEAwwTcm9wZXJhdG9yLXRlc3Qt
Y2EtMjCCASIwDQYJKoZIhvcNAQEBBQADggEPADCCAQoCggEBAIO9iTbUyU0GlaQG
qqHKGY+i7urEWzqYVMvdxIQcS+AH0t4IMsPGjkBlVnXVk+RySffst3XXspnNh7u2
p7XGWFOCUT1K2HRDd4PArWxuAxiS/ARDfPlAyIfOxidCFy7LsUsYoGerr4PE+Ut0
oQNgqH+TPWr9Lm0Kh9UjEmkcJh+fhrXLvAqhmwQWUt652mvHOMZ89plNmCuBcq5G
Froivk9WChilxLDdUZmWpw7eAgY1SUNqXfTJt01swsKBuuUMSceqnOQa3xt24sP+
LDY8GuzV5dZ0jAB64B8KelZY52xYpaA4V2r8ryptu4ZrGJ7p3EaEVpskGvfPrAn+
sVOq1pkCAwEAAaNTMFEwHQYDVR0OBBYEFFtGGS31s3Uce71Dd4B8Cuvo87epMB8G
A1UdIwQYMBaAFFtGGS31s3Uce71Dd4B8Cuvo87epMA8GA1UdEwEB/wQFMAMBAf8w
DQYJKoZIhvcNAQELBQADggEBAHMxqqPsrVGE1Qja57yJv0+qpre5ggdnOHZ9GBh3
Pb8EvcLrsU1qVY+3EDRCTUuEr9fIic92XbmhySpjt+AIMpe8wJxrKigcXnkix9Y1
SZbV4yewOhDv8LZFKUpgmY72V+JYKnDOUzawPbSXDtUbthKgUheMPl7BpxJ2H42a
+uzzaTdUwWVN4+208OZN85wW8cs3blZy1z+dsAlHAK3IEX9lRrhUNcamxC1q12WJ
lKbJ5lqVkCc7MYRkh9nkjOvv7ZFTL/S06hye0OzLRwDEfjm6zf07xSX29khGDAsZ
Tx/03e6QEdMknrq+0sALDBXCRd279gTJeW5ha4BQJQxqVLE=
-----END CERTIFICATE-----
`;

/** A client certificate (self-signed, EC P-256) for {@linkcode KEY_PEM}. */
export const CERT_PEM = `-----BEGIN CERTIFICATE-----
MIIBeDCCAR2gAwIBAgIUbLRWiJYIOsKY9HhQUHxY6TgIzxwwCgYIKoZIzj0EAwIw
EDEOMAwGA1UEAwwFYWxpY2UwIBcNMjYxMjAxMjEzMDUxWhgPMjEyNjExMDcyMTMw
NTFaMBAxDjAMBgNVBAMMBWFsaWNlMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE
1tjFdvlQ5GJUEf8bRMHuQ2g4cKXZgZKXD+YDfzwHpr6NeLizlV0ThpSAwRESOD5t
PL/EqDv6d2rW95DCNU93YaNTMFEwHQYDVR0OBBYEFKUZhtRi9DG6DTw0D6zTJsqJ
stuzMB8GA1UdIwQYMBaAFKUZhtRi9DG6DTw0D6zTJsqJstuzMA8GA1UdEwEB/wQF
MAMBAf8wCgYIKoZIzj0EAwIDSQAwRgIhAK5GuXniA8sN3Xpd4cYYSvYOzpZlX/Ub
ztSLAaCgZj9PAiEAooQE3XfDdfUvKUwos6MNy6CqM0KVTTj29tPyszQIdsI=
-----END CERTIFICATE-----
`;

/** The private key of {@linkcode CERT_PEM}, PKCS#8. */
export const KEY_PEM = `-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgVtScBrKqIq4AOGph
X1D2MiOU7uIaRbwwdqr+lZf8uXqhRANCAATW2MV2+VDkYlQR/xtEwe5DaDhwpdmB
kpcP5gN/PAemvo14uLOVXROGlIDBERI4Pm08v8SoO/p3atb3kMI1T3dh
-----END PRIVATE KEY-----
`;

/** The same key as {@linkcode KEY_PEM}, SEC1 (`EC PRIVATE KEY`). */
export const SEC1_KEY_PEM = `-----BEGIN EC PRIVATE KEY-----
MHcCAQEEIFbUnAayqiKuADhqYV9Q9jIjlO7iGkW8MHaq/pWX/Ll6oAoGCCqGSM49
AwEHoUQDQgAE1tjFdvlQ5GJUEf8bRMHuQ2g4cKXZgZKXD+YDfzwHpr6NeLizlV0T
hpSAwRESOD5tPL/EqDv6d2rW95DCNU93YQ==
-----END EC PRIVATE KEY-----
`;

/** An RSA key, PKCS#1 (`RSA PRIVATE KEY`). */
export const RSA_KEY_PEM = `-----BEGIN RSA PRIVATE KEY-----
MIICXQIBAAKBgQCr2gXkzZsCh53UWZlvBnnXRzW2y6Mke0noGVt2+qYs9EmC17uG
4QA17TdAPGTHrM4R4HdfTIHIqWG642U8FQe+9QUdYBz4lK5RvShP/NU4RzSVeUnX
jpoXH/hc/D2W9vYNgupZeUPbv3OJm8RLxdqI3UMxGz8Bp+6im1Cnxn4oFwIDAQAB
AoGBAKlI1bFz0BSH3zOFJ520tWUZYpI0uvp+8GjQQcdMVVHHOnrHZJUTI4/7oweF
9oizczMs+KpJxTcTk4/z3I947+zQI8xaYD6adgPrGfY1Az4wcIFmVXIZgk2VNPgk
TeaqmuUJ1fpBcpkQkO1sdBid4SLzQFYBeHXqvbkXMc9J9QTBAkEA2HLpTo8NMoDC
s5n3sD3QZAFSAt0E5q/6T3JMqDdhb5oV4u0yjsf1sw73qodCt4PIIaFEw/iwnlkW
IdzqgPm0BwJBAMtA7xnnN4xya7uQg0XJ99l/gOI71xfpk60aMN8TYuYuqOR5xu5d
4Nldo3jTgNHmGYh9QP7gI0uiPR9iwel6h3ECQAl/oXVtGasps2GmVBRL4iVBWZP+
lwR4nId4AJ0xMPlwzZ0Tw7A4XjPpaDz3ipn7EoFHTnk7JKUOS8ZYp4HZc2kCQQCl
ceuuqBj9R74N5SoVyrrm3fSpMpB5NHYyt1kEnCEqwNxVbhLRwLTf+mqwVWlMcgJi
qaIYVZYlYKBkRd0WEdjhAkBmYPvSbQd6z7qfaQh+CgTx9jGQyDJ1GnH3O5XdlUBQ
SxFBRS9A6QRqw5k3/zYzVHIfIII1JcXBIdg48ALOCQlv
-----END RSA PRIVATE KEY-----
`;

/** One line of the base64 body of {@linkcode CERT_PEM}: must never appear in a message. */
export const CERT_BODY: string = CERT_PEM.split("\n")[2]!;

/** One line of the base64 body of {@linkcode KEY_PEM}: must never appear in a message. */
export const KEY_BODY: string = KEY_PEM.split("\n")[2]!;

/**
 * Damages PEM text so that it keeps its shape (BEGIN and END lines) but no longer parses: the
 * body's first line is cut in half.
 *
 * @param pem the PEM text
 * @returns the damaged text
 */
export function damaged(pem: string): string {
  const lines = pem.split("\n");
  lines[1] = lines[1]!.slice(0, 20);
  return lines.join("\n");
}
