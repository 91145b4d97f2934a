/**
 * The few DNS questions the checks ask, behind an interface so the checks are
 * pure and testable with fixtures. `nodeResolver` answers them with node:dns
 * (optionally against one given server: verify.ts --resolver).
 */
import { Resolver } from "node:dns/promises";

export interface DnsLookup {
  /** Addresses of a name ([] when it has none or does not exist). */
  a(name: string): Promise<string[]>;
  aaaa(name: string): Promise<string[]>;
  mx(name: string): Promise<{ exchange: string; priority: number }[]>;
  /** TXT records, each with its strings joined. */
  txt(name: string): Promise<string[]>;
  /** PTR names of an address. */
  ptr(ip: string): Promise<string[]>;
}

const EMPTY = new Set(["ENOTFOUND", "ENODATA", "NOTFOUND", "NODATA"]);

export function nodeResolver(server?: string, timeoutMs = 4000): DnsLookup {
  const r = new Resolver({ timeout: timeoutMs, tries: 2 });
  if (server) r.setServers([server]);
  const empty = <T>(p: Promise<T[]>): Promise<T[]> =>
    p.catch((e: NodeJS.ErrnoException) => {
      if (e.code && EMPTY.has(e.code)) return [];
      throw e;
    });
  return {
    a: (n) => empty(r.resolve4(n)),
    aaaa: (n) => empty(r.resolve6(n)),
    mx: (n) => empty(r.resolveMx(n)),
    txt: (n) => empty(r.resolveTxt(n)).then((rs) => rs.map((chunks) => chunks.join(""))),
    ptr: (ip) => empty(r.reverse(ip)),
  };
}

/** A fixture resolver for tests: records by "name TYPE". */
export function fixtureResolver(records: Record<string, string[]>): DnsLookup {
  const get = (k: string) => Promise.resolve(records[k.toLowerCase()] ?? records[k] ?? []);
  return {
    a: (n) => get(`${n} A`),
    aaaa: (n) => get(`${n} AAAA`),
    mx: async (n) => (await get(`${n} MX`)).map((v) => ({ priority: Number(v.split(" ")[0]), exchange: v.split(" ")[1]!.replace(/\.$/, "") })),
    txt: (n) => get(`${n} TXT`),
    ptr: (ip) => get(`${ip} PTR`).then((l) => l.map((x) => x.replace(/\.$/, ""))),
  };
}
