/** The transport an inventory host is reached through: its own machine (connection: local) or SSH. */
import type { HostSpec } from "../inventory/index.js";
import { LocalTransport } from "./local.js";
import { SshTransport } from "./ssh.js";
import type { Transport } from "./types.js";

export function transportFor(h: HostSpec, acceptNewHostKeys: boolean): Transport {
  if (h.connection === "local") return new LocalTransport(h.ssh.timeoutMs);
  return new SshTransport({
    host: h.address,
    port: h.ssh.port,
    user: h.ssh.user,
    keyPath: h.ssh.key,
    knownHostsPath: h.ssh.knownHosts,
    acceptNewHostKeys,
    timeoutMs: h.ssh.timeoutMs,
    connectTimeoutMs: h.ssh.connectTimeoutMs,
  });
}
