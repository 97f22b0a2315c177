/**
 * The emulator's shared parts: a loopback HTTP listener, a request log, fault injection and an
 * optional per-action rate limit. Each emulated service (CloudWatch Logs, SLS, ACK, ECS, OSS
 * Tables, Tablestore, FC, KMS…) is a handler on its own port that speaks the real wire protocol and
 * verifies the real signature; the functions reach it only through the endpoint variables of
 * CONTRACT.md section 4.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface RecordedCall {
  service: string;
  action: string;
  /** Resource the call addressed, when the service knows it. */
  resource?: string;
  write: boolean;
  /** Status the emulator answered with. */
  status: number;
  at: number;
}

/** An injected failure: the next `times` calls of `action` get this answer instead of the real one. */
export interface Fault {
  status: number;
  code: string;
  message?: string;
  times: number;
  /** `reset`: destroy the socket (connection reset); `hang`: never answer (timeout). */
  transport?: 'reset' | 'hang';
  /** Answer `status` with exactly this body (a malformed success: `{}`, empty) instead of an error. */
  body?: string;
}

export type Answer = { status: number; body?: string | Buffer; headers?: Record<string, string> };

export interface RequestContext {
  req: IncomingMessage;
  body: Buffer;
  url: URL;
}

/** A service handler: decides the action, checks the signature, answers. */
export interface ServiceHandler {
  /** Which action this request is, for the log, faults and rate limits (e.g. `AssociateKmsKey`). */
  action(ctx: RequestContext): string;
  /** Whether the action changes state (counted as a write). */
  isWrite(action: string): boolean;
  /** The real answer. May throw ServiceFailure for protocol-level errors. */
  handle(ctx: RequestContext, action: string, log: (resource: string) => void): Answer | Promise<Answer>;
  /** Formats an error the way the real service does (JSON __type, XML Code, …). */
  error(status: number, code: string, message: string, requestId: string): Answer;
  /** The service's own throttling answer, used by rateLimit(). */
  throttle: { status: number; code: string };
}

let requestSeq = 0;
export const nextRequestId = (): string => {
  requestSeq += 1;
  return `emu-${Date.now().toString(36)}-${requestSeq.toString(36).padStart(6, '0')}`;
};

export class ServiceFailure extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'ServiceFailure';
  }
}

export class EmulatedService {
  readonly calls: RecordedCall[] = [];
  private readonly faults = new Map<string, Fault[]>();
  private readonly limits = new Map<string, { perSecond: number; window: number[] }>();
  private server?: ReturnType<typeof createServer>;
  url = '';
  /** The clock rate limits are measured on (a test may drive a fake one). */
  now: () => number = Date.now;

  constructor(
    readonly name: string,
    private readonly handler: ServiceHandler,
  ) {}

  /** Inject: the next `fault.times` calls of `action` fail with `fault`. Stacks in order. */
  failNext(action: string, fault: Fault): this {
    const list = this.faults.get(action) ?? [];
    list.push({ ...fault });
    this.faults.set(action, list);
    return this;
  }

  /** Answer throttling errors above `perSecond` calls of `action` in any sliding second. */
  rateLimit(action: string, perSecond: number): this {
    this.limits.set(action, { perSecond, window: [] });
    return this;
  }

  clearFaults(): void {
    this.faults.clear();
    this.limits.clear();
  }

  count(
    filter: Partial<Pick<RecordedCall, 'action' | 'write' | 'resource'>> & { ok?: boolean } = {},
  ): number {
    return this.calls.filter(
      (c) =>
        (filter.action === undefined || c.action === filter.action) &&
        (filter.write === undefined || c.write === filter.write) &&
        (filter.resource === undefined || c.resource === filter.resource) &&
        (filter.ok === undefined || c.status < 400 === filter.ok),
    ).length;
  }

  resetLog(): void {
    this.calls.length = 0;
  }

  async start(port = 0): Promise<string> {
    this.server = createServer((req, res) => void this.serve(req, res));
    await new Promise<void>((resolve) => this.server?.listen(port, '127.0.0.1', resolve));
    const { port: bound } = this.server.address() as AddressInfo;
    this.url = `http://127.0.0.1:${bound}`;
    return this.url;
  }

  async stop(): Promise<void> {
    const server = this.server;
    if (!server) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    this.server = undefined;
  }

  private takeFault(action: string): Fault | undefined {
    const list = this.faults.get(action);
    const fault = list?.[0];
    if (!list || !fault) return undefined;
    fault.times -= 1;
    if (fault.times <= 0) list.shift();
    return { ...fault };
  }

  private throttled(action: string, now: number): boolean {
    const limit = this.limits.get(action);
    if (!limit) return false;
    while (limit.window.length > 0 && (limit.window[0] ?? 0) <= now - 1000) limit.window.shift();
    if (limit.window.length >= limit.perSecond) return true;
    limit.window.push(now);
    return false;
  }

  private async serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const ctx: RequestContext = {
      req,
      body: Buffer.concat(chunks),
      url: new URL(req.url ?? '/', 'http://emulator'),
    };
    const requestId = nextRequestId();
    let action = 'Unknown';
    let resource: string | undefined;
    let answer: Answer;
    try {
      action = this.handler.action(ctx);
      const fault = this.takeFault(action);
      if (fault?.transport === 'reset') {
        this.record(action, resource, 0);
        req.socket.destroy();
        return;
      }
      if (fault?.transport === 'hang') {
        this.record(action, resource, 0);
        return;
      }
      if (fault?.body !== undefined)
        answer = {
          status: fault.status,
          body: fault.body,
          headers: {
            'content-type': 'application/json',
            'x-acs-request-id': requestId,
            'x-log-requestid': requestId,
            'x-oss-request-id': requestId,
            'x-amzn-requestid': requestId,
          },
        };
      else if (fault)
        answer = this.handler.error(
          fault.status,
          fault.code,
          fault.message ?? `injected ${fault.code}`,
          requestId,
        );
      else if (this.throttled(action, this.now()))
        answer = this.handler.error(
          this.handler.throttle.status,
          this.handler.throttle.code,
          'Rate exceeded',
          requestId,
        );
      else
        answer = await this.handler.handle(ctx, action, (r) => {
          resource = r;
        });
    } catch (error) {
      const failure =
        error instanceof ServiceFailure
          ? error
          : new ServiceFailure(500, 'InternalError', (error as Error).message);
      answer = this.handler.error(failure.status, failure.code, failure.message, requestId);
    }
    this.record(action, resource, answer.status);
    res.writeHead(answer.status, { 'x-emulator-request-id': requestId, ...answer.headers });
    res.end(answer.body ?? '');
  }

  private record(action: string, resource: string | undefined, status: number): void {
    this.calls.push({
      service: this.name,
      action,
      ...(resource !== undefined ? { resource } : {}),
      write: this.handler.isWrite(action),
      status,
      at: Date.now(),
    });
  }
}
