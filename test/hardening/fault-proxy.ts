/**
 * A loopback proxy in front of a store emulator (dynalite, the Tablestore fake) that fails chosen
 * calls the way the real service does, which the emulators cannot do by themselves:
 * - `error`: answer the call with the service's error (status, JSON `__type` body, request id
 *   header) without forwarding it — a missing permission on DeleteItem, a throttled claim;
 * - `lose-answer`: forward the call (it lands) and drop the connection before the answer.
 * Everything else is forwarded byte for byte. Calls are named by `x-amz-target` (`PutItem`, …) or,
 * for Tablestore, the path (`DeleteRow`, …).
 */
import { createServer, type IncomingMessage, request } from 'node:http';
import type { AddressInfo } from 'node:net';

export type ProxyFault =
  | { kind: 'error'; status: number; code: string; message: string; requestId: string }
  | { kind: 'lose-answer' };

export interface FaultProxy {
  url: string;
  /** The next `times` calls of `action` get `fault`. */
  fail(action: string, fault: ProxyFault, times?: number): void;
  clear(): void;
  /** Every call's action, in order, with what the proxy did. */
  calls: { action: string; fault?: ProxyFault['kind'] }[];
  stop(): Promise<void>;
}

const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'transfer-encoding', 'content-length']);

/** `DynamoDB_20120810.PutItem` → `PutItem`; `/DeleteRow` → `DeleteRow`. */
export function actionName(req: IncomingMessage): string {
  const target = req.headers['x-amz-target'];
  if (typeof target === 'string' && target !== '') return target.split('.').pop() ?? target;
  return (req.url ?? '/').split('?')[0]?.replace(/^\//, '') ?? '';
}

export async function startFaultProxy(upstream: string): Promise<FaultProxy> {
  const target = new URL(upstream);
  const faults = new Map<string, { fault: ProxyFault; left: number }>();
  const calls: FaultProxy['calls'] = [];

  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const action = actionName(req);
      const armed = faults.get(action);
      const fault = armed && armed.left > 0 ? armed.fault : undefined;
      if (armed && fault) armed.left -= 1;
      calls.push({ action, ...(fault ? { fault: fault.kind } : {}) });
      if (fault?.kind === 'error') {
        // The AWS JSON 1.0 error shape DynamoDB answers with; the SDK reads the code after '#'.
        const body = JSON.stringify({
          __type: `com.amazonaws.dynamodb.v20120810#${fault.code}`,
          message: fault.message,
        });
        res.writeHead(fault.status, {
          'content-type': 'application/x-amz-json-1.0',
          'x-amzn-requestid': fault.requestId,
          'content-length': String(Buffer.byteLength(body)),
        });
        res.end(body);
        return;
      }
      const forward = request(
        {
          hostname: target.hostname,
          port: target.port,
          method: req.method,
          path: req.url,
          headers: req.headers,
        },
        (answer) => {
          const body: Buffer[] = [];
          answer.on('data', (chunk: Buffer) => body.push(chunk));
          answer.on('end', () => {
            if (fault?.kind === 'lose-answer') {
              res.socket?.destroy();
              return;
            }
            const headers = Object.fromEntries(
              Object.entries(answer.headers).filter(([name]) => !HOP_BY_HOP.has(name)),
            );
            const payload = Buffer.concat(body);
            res.writeHead(answer.statusCode ?? 502, { ...headers, 'content-length': String(payload.length) });
            res.end(payload);
          });
        },
      );
      forward.on('error', () => res.socket?.destroy());
      forward.end(Buffer.concat(chunks));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    fail(action, fault, times = 1) {
      faults.set(action, { fault, left: times });
    },
    clear() {
      faults.clear();
    },
    calls,
    async stop() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
