import assert from "node:assert/strict";
import { ClientConfigError } from "./config_error.ts";
import { type Kubeconfig, parseKubeconfig } from "./kubeconfig_parse.ts";

Deno.test("parseKubeconfig: empty text, duplicate names, typed result", () => {
  assert.deepEqual(parseKubeconfig(""), { clusters: [], users: [], contexts: [] });
  assert.deepEqual(parseKubeconfig("# only a comment\n"), {
    clusters: [],
    users: [],
    contexts: [],
  });
  const config: Kubeconfig = parseKubeconfig(
    `clusters:
- {name: c, cluster: {server: "https://one"}}
- {name: c, cluster: {server: "https://two", disable-compression: "yes"}}
users:
- name: u
contexts: []
`,
  );
  assert.deepEqual(config.clusters, [
    { name: "c", cluster: { server: "https://two", "disable-compression": true } },
  ]);
  assert.deepEqual(config.users, [{ name: "u", user: {} }]);
  const error = (() => {
    try {
      parseKubeconfig("users:\n- user: {}\n", { path: "/k/config" });
    } catch (e) {
      return e;
    }
    return undefined;
  })();
  assert.ok(error instanceof ClientConfigError);
  assert.equal(error.file, "/k/config");
  assert.equal(error.field, "users[0].name");
});
