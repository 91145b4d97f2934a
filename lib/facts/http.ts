/**
 * An HTTP(S) request the host makes to itself (127.0.0.1, or one of its own addresses): what a local web
 * server answers for a name and a path, read like any other fact. The TLS
 * handshake is not verified here (certificate checks have their own fact).
 */
import { quote } from "../shell.js";
import type { Fact } from "./types.js";

export interface HttpRequest {
  /** The name asked for: the Host header and, over TLS, the SNI. */
  host: string;
  path: string;
  port: number;
  tls: boolean;
  method?: "GET" | "HEAD" | "POST";
  /** The local address to connect to (default 127.0.0.1). */
  address?: string;
}

export interface HttpResponse {
  status: number;
  /** Header names lowercased; a repeated header keeps its last value. */
  headers: Record<string, string>;
  body: string;
}

/** Parse a raw HTTP/1.x response (pure). null when nothing answered. */
export function parseHttpResponse(raw: string): HttpResponse | null {
  if (!raw) return null;
  const split = raw.indexOf("\r\n\r\n");
  const head = split < 0 ? raw : raw.slice(0, split);
  const body = split < 0 ? "" : raw.slice(split + 4);
  const [statusLine = "", ...lines] = head.split("\r\n");
  const m = /^HTTP\/1\.[01] (\d{3})/.exec(statusLine);
  if (!m) return null;
  const headers: Record<string, string> = {};
  for (const l of lines) {
    const i = l.indexOf(":");
    if (i > 0) headers[l.slice(0, i).trim().toLowerCase()] = l.slice(i + 1).trim();
  }
  return { status: Number(m[1]), headers, body };
}

export const httpRequest: Fact<HttpResponse | null, HttpRequest> = {
  name: "http.request",
  command(r) {
    const req = quote(`${r.method ?? "GET"} ${r.path} HTTP/1.0\\r\\nHost: ${r.host}\\r\\nUser-Agent: mailstead-verify\\r\\nContent-Length: 0\\r\\n\\r\\n`);
    // printf %b turns the \r\n escapes into bytes; base64 keeps the answer whole through the batch.
    const send = `printf '%b' ${req}`;
    const addr = r.address ?? "127.0.0.1";
    const talk = r.tls
      ? `${send} | timeout 10 openssl s_client -quiet -connect ${quote(addr.includes(":") ? `[${addr}]:${r.port}` : `${addr}:${r.port}`)} -servername ${quote(r.host)} 2>/dev/null`
      : `timeout 10 bash -c ${quote(`exec 3<>/dev/tcp/${addr}/${r.port} && ${send} >&3 && cat <&3`)} 2>/dev/null`;
    return `{ ${talk}; } | base64 -w0; echo`;
  },
  parse: (stdout) => parseHttpResponse(Buffer.from(stdout.trim(), "base64").toString("utf8")),
};
