/**
 * Hostile HTTP endpoints on loopback, for the deadline and body-cap tests: each answers every
 * request the same way, whatever the client sent.
 * - `trickle`: a 200 with its headers at once, then one byte every 20 ms, for ever;
 * - `stall`: a 200 with its headers, then nothing;
 * - `huge`: a 200 streaming a 300 MB body (chunked); `huge-declared` says so in Content-Length.
 * The huge body comes from a stream that stops as soon as the client hangs up, and `bytesSent()`
 * reports how much went out — so a test can show the client stopped reading at its cap.
 */
import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';

export type HostileMode = 'trickle' | 'stall' | 'huge' | 'huge-declared';

export interface HostileServer {
  url: string;
  /** Body bytes handed to the socket so far, all requests together. */
  bytesSent(): number;
  /** Requests received. */
  requests(): number;
  stop(): Promise<void>;
}

export const HUGE_BYTES = 300 * 1024 * 1024;
const CHUNK = Buffer.alloc(64 * 1024, 0x20);

export async function startHostile(mode: HostileMode): Promise<HostileServer> {
  let sent = 0;
  let received = 0;
  const timers = new Set<NodeJS.Timeout>();
  const open = new Set<ServerResponse>();
  const server = createServer((req, res) => {
    received++;
    open.add(res);
    res.on('close', () => open.delete(res));
    req.resume();
    const headers: Record<string, string | number> = {
      'content-type': 'application/json',
      'x-log-requestid': 'hostile',
      'x-amzn-requestid': 'hostile',
    };
    if (mode === 'huge-declared') headers['content-length'] = HUGE_BYTES;
    res.writeHead(200, headers);
    res.flushHeaders();
    if (mode === 'stall') return;
    if (mode === 'trickle') {
      const timer = setInterval(() => {
        if (res.destroyed) return clearInterval(timer);
        sent += 1;
        res.write(' ');
      }, 20);
      timers.add(timer);
      res.on('close', () => {
        clearInterval(timer);
        timers.delete(timer);
      });
      return;
    }
    let left = HUGE_BYTES;
    const body = new Readable({
      read() {
        if (res.destroyed || left <= 0) {
          this.push(null);
          return;
        }
        const chunk = left >= CHUNK.length ? CHUNK : CHUNK.subarray(0, left);
        left -= chunk.length;
        sent += chunk.length;
        this.push(chunk);
      },
    });
    res.on('close', () => body.destroy());
    body.pipe(res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    bytesSent: () => sent,
    requests: () => received,
    stop: async () => {
      for (const timer of timers) clearInterval(timer);
      for (const res of open) res.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
