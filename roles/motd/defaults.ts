import { defineDefaults } from "../../lib/defaults.js";
import { formats } from "../../lib/formats.js";

/** Settings of the demo `motd` role: the smallest complete example of a role. */
export const motdDefaults = defineDefaults("motd", {
  motd_enabled: {
    default: true,
    why: "The demo role is harmless (one text file), so it is on unless turned off.",
    schema: { type: "boolean" },
  },
  motd_message: {
    default: "This host is managed by mailstead. Local changes to managed files are overwritten.",
    why: "Tell whoever logs in that hand edits will be overwritten by the next converge.",
    schema: { type: "string", minLength: 1, maxLength: 2000 },
  },
  motd_contact: {
    format: formats.singleLine(),
    default: "",
    why: "Who to ask before changing the host; empty leaves the line out.",
    schema: { type: "string", maxLength: 200 },
  },
});
