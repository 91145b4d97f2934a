/**
 * The demo role: the smallest complete example of a role's shape. A template
 * rendered into a file, a handler notified only when it changed, and a verify
 * check that reads the live host.
 */
import { ref } from "../../lib/facts/types.js";
import { fileContent } from "../../lib/facts/files.js";
import { defineRole } from "../../lib/role.js";
import { command, file } from "../../lib/operations/index.js";
import { motdDefaults } from "./defaults.js";
import type { VarsOf } from "../../lib/defaults.js";

export type MotdVars = VarsOf<typeof motdDefaults>;

/** Where the rendered message goes; Debian's pam_motd prints /etc/motd at login. */
export const MOTD_PATH = "/etc/motd";
/** A stamp the handler writes, so tests can see that it ran (and how often). */
export const MOTD_STAMP = "/var/lib/mailstead/motd.stamp";

export const motd = defineRole<MotdVars>({
  name: "motd",
  settings: motdDefaults,
  // Off: /etc/motd is left as it is.
  switch: { setting: "motd_enabled" },
  steps: (ctx) => [
    {
      title: `Render ${MOTD_PATH}`,
      action: file({ path: MOTD_PATH, content: ctx.template("motd"), mode: "0644" }),
      notify: "record motd change",
    },
  ],
  handlers: () => [
    {
      name: "record motd change",
      // Idempotent by design: a handler runs only when notified.
      action: command({ run: `mkdir -p /var/lib/mailstead && sha256sum ${MOTD_PATH} > ${MOTD_STAMP}` }),
    },
  ],
  verifyFacts: () => [ref(fileContent, MOTD_PATH)],
  verify: (ctx) => {
    const text = ctx.fact(ref(fileContent, MOTD_PATH));
    return [
      {
        name: "motd shows the managed message",
        ok: text !== null && text.includes(ctx.vars.motd_message),
        detail: text === null ? `${MOTD_PATH} is missing` : `${MOTD_PATH} does not contain motd_message`,
      },
    ];
  },
});
