/** Version helpers shared by the mail roles (pure; unit-tested). */
import type { Step } from "../../lib/role.js";
import { refuse } from "../../lib/operations/index.js";

/** Upstream part of a Debian version: "1:2.4.1+dfsg1-6+deb13u7" -> "2.4.1", "3.7.11-0+deb12u1" -> "3.7.11". */
export function debianUpstream(deb: string): string {
  return deb.replace(/^\d+:/, "").replace(/-[^-]*$/, "").replace(/[+~].*$/, "");
}

/** Compare dotted numeric versions: <0, 0, >0. */
export function compareVersions(a: string, b: string): number {
  const pa = a.split(".").map((x) => Number.parseInt(x, 10) || 0);
  const pb = b.split(".").map((x) => Number.parseInt(x, 10) || 0);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}

/**
 * Whether a Postfix version has the SMTP smuggling fix (CVE-2023-51764,
 * `smtpd_forbid_bare_newline`): 3.5.23, 3.6.13, 3.7.9, 3.8.4 stable updates added
 * it and 3.7.10/3.8.5 made `normalize` work; 3.9 and later have it built in.
 * We require the versions the issue names: 3.7 ≥ 3.7.10, 3.8 ≥ 3.8.5, ≥ 3.9.
 */
export function hasSmugglingFix(version: string): boolean {
  const [maj = 0, min = 0] = version.split(".").map(Number);
  if (maj > 3 || (maj === 3 && min >= 9)) return true;
  if (maj === 3 && min === 8) return compareVersions(version, "3.8.5") >= 0;
  if (maj === 3 && min === 7) return compareVersions(version, "3.7.10") >= 0;
  return false;
}

/** A step that fails with a clear message, also in check mode (Plan.error); nothing runs. */
export function failStep(title: string, message: string): Step {
  return { title, action: refuse(`mailstead: ${message}`) };
}
