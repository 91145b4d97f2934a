/**
 * Edits of iptables-save files (/etc/iptables/rules.v4, rules.v6) that other
 * tools own, e.g. Oracle Cloud's Ubuntu images: insert accept rules before the
 * chain's first REJECT/DROP, leave every other line (their instance-service
 * rules) exactly as it was. Pure and idempotent.
 */

export interface InsertResult {
  text: string;
  /** Rules added by this call (empty when all were present). */
  added: string[];
}

/**
 * Insert `rules` (full `-A CHAIN ...` lines) into table `*filter` before the
 * first rule of `chain` that jumps to REJECT or DROP (or, when there is none,
 * after the chain's last rule). Rules already present anywhere in the table
 * are not added again.
 */
export function insertBeforeReject(text: string, chain: string, rules: string[]): InsertResult {
  const lines = text.split("\n");
  const start = lines.findIndex((l) => l.trim() === "*filter");
  // No filter table (an empty rules.v6 as iptables-persistent saves it): nothing rejects, nothing to open.
  if (start < 0) return { text, added: [] };
  let end = lines.findIndex((l, i) => i > start && l.trim() === "COMMIT");
  if (end < 0) throw new Error("the *filter table has no COMMIT line");
  const present = new Set(lines.slice(start, end).map((l) => l.trim()));
  const missing = rules.filter((r) => !present.has(r.trim()));
  if (!missing.length) return { text, added: [] };
  const prefix = `-A ${chain} `;
  let at = lines.findIndex((l, i) => i > start && i < end && l.startsWith(prefix) && /\s-j\s+(REJECT|DROP)\b/.test(l));
  if (at < 0) {
    const last = lines.map((l, i) => (i > start && i < end && l.startsWith(prefix) ? i : -1)).filter((i) => i >= 0).pop();
    at = last !== undefined ? last + 1 : end;
  }
  lines.splice(at, 0, ...missing);
  end += missing.length;
  return { text: lines.join("\n"), added: missing };
}
