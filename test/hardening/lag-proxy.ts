/**
 * Two faults no emulator can inject by itself, as a loopback proxy in front of it:
 * - `lag`: after the first successful write, the next read of each read action is answered once
 *   with the answer that action gave before the write (the read-back "still shows the old state
 *   once": eventual consistency);
 * - `lose-write-answer`: the first write reaches the service and is applied, but its answer never
 *   reaches the client (the connection drops): the client cannot tell whether it landed.
 * Everything else is forwarded byte for byte, so the emulator still checks every signature.
 *
 * Host headers are forwarded as sent (SigV4 and ACS3 sign them), except SLS's
 * `<project>.<proxy host>`, which becomes `<project>.<emulator host>` (LOG v1 does not sign Host).
 */
import { createServer, type IncomingHttpHeaders, type IncomingMessage, request } from 'node:http';
import type { AddressInfo } from 'node:net';

export type CallKind = 'read' | 'write' | undefined;

interface Recorded {
  status: number;
  headers: Record<string, string>;
  body: Buffer;
}

const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'transfer-encoding', 'content-length']);

/** The action a request names: `x-amz-target`, `x-acs-action`, else method and path. */
export function actionOf(req: IncomingMessage): string {
  const target = req.headers['x-amz-target'] ?? req.headers['x-acs-action'];
  if (typeof target === 'string' && target !== '') return target;
  return `${req.method ?? 'GET'} ${(req.url ?? '/').split('?')[0]}`;
}

export interface LagProxy {
  url: string;
  /** How many reads were answered with a stale (pre-write) answer, or write answers were lost. */
  staleAnswers(): number;
  stop(): Promise<void>;
}

export type ProxyMode = 'lag' | 'lose-write-answer';

export async function startLagProxy(
  upstream: string,
  kindOf: (req: IncomingMessage) => CallKind,
  mode: ProxyMode = 'lag',
) {
  const target = new URL(upstream);
  const before = new Map<string, Recorded>();
  const lagging = new Set<string>();
  let written = false;
  let stale = 0;
  let ownHost = '';

  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const kind = kindOf(req);
      const action = actionOf(req);
      const old = kind === 'read' && lagging.has(action) ? before.get(action) : undefined;
      if (old) {
        lagging.delete(action);
        stale += 1;
        res.writeHead(old.status, { ...old.headers, 'content-length': String(old.body.length) });
        res.end(old.body);
        return;
      }
      const headers: IncomingHttpHeaders = { ...req.headers };
      const host = headers.host ?? '';
      if (host.endsWith(`.${ownHost}`)) headers.host = `${host.slice(0, -ownHost.length)}${target.host}`;
      const forward = request(
        { hostname: target.hostname, port: target.port, method: req.method, path: req.url, headers },
        (answer) => {
          const body: Buffer[] = [];
          answer.on('data', (chunk: Buffer) => body.push(chunk));
          answer.on('end', () => {
            const recorded: Recorded = {
              status: answer.statusCode ?? 502,
              headers: Object.fromEntries(
                Object.entries(answer.headers)
                  .filter(([name, value]) => !HOP_BY_HOP.has(name) && typeof value === 'string')
                  .map(([name, value]) => [name, value as string]),
              ),
              body: Buffer.concat(body),
            };
            const ok = recorded.status >= 200 && recorded.status < 300;
            if (mode === 'lose-write-answer' && kind === 'write' && ok && !written) {
              written = true;
              stale += 1;
              res.socket?.destroy();
              return;
            }
            if (mode === 'lag' && kind === 'read' && ok && !written) before.set(action, recorded);
            if (mode === 'lag' && kind === 'write' && ok && !written) {
              written = true;
              for (const read of before.keys()) lagging.add(read);
            }
            res.writeHead(recorded.status, {
              ...recorded.headers,
              'content-length': String(recorded.body.length),
            });
            res.end(recorded.body);
          });
        },
      );
      forward.on('error', () => res.socket?.destroy());
      forward.end(Buffer.concat(chunks));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  ownHost = `127.0.0.1:${(server.address() as AddressInfo).port}`;
  const proxy: LagProxy = {
    url: `http://${ownHost}`,
    staleAnswers: () => stale,
    async stop() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  return proxy;
}
