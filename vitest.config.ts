import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { defineConfig } from "vitest/config";

// Unit tests converge `connection: local` hosts on this machine: mailstead's own host state
// (pending handlers) goes to a temp dir, never to this machine's /var/lib/mailstead.
const unitStateDir = mkdtempSync(join(tmpdir(), "mailstead-state-"));

export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: "unit",
          include: ["tests/unit/**/*.test.ts"],
          environment: "node",
          env: { MAILSTEAD_STATE_DIR: unitStateDir },
          // `npm test` runs the unit tests beside the e2e suite on a 2-core machine: a test that
          // runs openssl or a converge locally took over vitest's 5 s default there (certbot's
          // deploy test, CI of stop 24). A hung test still fails, after 60 s.
          testTimeout: 60_000,
        },
      },
      {
        test: {
          name: "e2e",
          include: ["tests/e2e/**/*.test.ts"],
          environment: "node",
          // Real VMs: converges take tens of seconds; the lab is shared, so files run one at a time.
          testTimeout: 600_000,
          hookTimeout: 900_000,
          pool: "forks",
          poolOptions: { forks: { singleFork: true } },
        },
      },
      {
        test: {
          name: "lifecycle",
          include: ["tests/lifecycle/**/*.test.ts"],
          environment: "node",
          testTimeout: 600_000,
          hookTimeout: 900_000,
          pool: "forks",
          poolOptions: { forks: { singleFork: true } },
        },
      },
    ],
  },
});
