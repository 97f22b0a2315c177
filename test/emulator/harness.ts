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
  /** The account whose state the call used (per-account services, see AccountDirectory). */
  account?: string;
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
  handle(
    ctx: RequestContext,
    action: string,
    log: (resource: string, account?: string) => void,
  ): Answer | Promise<Answer>;
  /** The quota a request counts against (`<account>/<region>`), for `rateLimit(…, { perScope: true })`. */
  scope?(ctx: RequestContext): string;
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
  private readonly limits = new Map<
    string,
    { perSecond: number; perScope: boolean; windows: Map<string, number[]> }
  >();
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

  /**
   * Answer throttling errors above `perSecond` calls of `action` in any sliding second; with
   * `perScope`, counted per account and region (the handler's `scope()`), as the clouds' quotas are.
   */
  rateLimit(action: string, perSecond: number, options: { perScope?: boolean } = {}): this {
    this.limits.set(action, { perSecond, perScope: options.perScope ?? false, windows: new Map() });
    return this;
  }

  clearFaults(): void {
    this.faults.clear();
    this.limits.clear();
  }

  count(
    filter: Partial<Pick<RecordedCall, 'action' | 'write' | 'resource' | 'account'>> & { ok?: boolean } = {},
  ): number {
    return this.calls.filter(
      (c) =>
        (filter.action === undefined || c.action === filter.action) &&
        (filter.write === undefined || c.write === filter.write) &&
        (filter.resource === undefined || c.resource === filter.resource) &&
        (filter.account === undefined || c.account === filter.account) &&
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

  private throttled(action: string, now: number, ctx: RequestContext): boolean {
    const limit = this.limits.get(action);
    if (!limit) return false;
    const scope = limit.perScope ? (this.handler.scope?.(ctx) ?? '') : '';
    let window = limit.windows.get(scope);
    if (!window) {
      window = [];
      limit.windows.set(scope, window);
    }
    while (window.length > 0 && (window[0] ?? 0) <= now - 1000) window.shift();
    if (window.length >= limit.perSecond) return true;
    window.push(now);
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
    let account: string | undefined;
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
      else if (this.throttled(action, this.now(), ctx)) {
        // Throttled before the handler ran: the scope names the account the quota belongs to.
        account = this.handler.scope?.(ctx).split('/')[0] || undefined;
        answer = this.handler.error(
          this.handler.throttle.status,
          this.handler.throttle.code,
          'Rate exceeded',
          requestId,
        );
      } else
        answer = await this.handler.handle(ctx, action, (r, a) => {
          resource = r;
          if (a !== undefined) account = a;
        });
    } catch (error) {
      const failure =
        error instanceof ServiceFailure
          ? error
          : new ServiceFailure(500, 'InternalError', (error as Error).message);
      answer = this.handler.error(failure.status, failure.code, failure.message, requestId);
    }
    this.record(action, resource, answer.status, account);
    res.writeHead(answer.status, { 'x-emulator-request-id': requestId, ...answer.headers });
    res.end(answer.body ?? '');
  }

  private record(action: string, resource: string | undefined, status: number, account?: string): void {
    this.calls.push({
      service: this.name,
      action,
      ...(resource !== undefined ? { resource } : {}),
      ...(account !== undefined ? { account } : {}),
      write: this.handler.isWrite(action),
      status,
      at: Date.now(),
    });
  }
}

// ---------------------------------------------------------------------------------------------
// Accounts: which access key belongs to which account, and state kept per account
// ---------------------------------------------------------------------------------------------

/** One access key the emulators accept, and the account (and expiry) it belongs to. */
export interface IssuedKey {
  accessKeyId: string;
  secret: string;
  /** Session / security token the requests must carry (STS-issued keys). */
  token?: string;
  account: string;
  /** ms since the epoch on the directory's clock; absent: never expires. */
  expiresAt?: number;
  /** The role session the key was issued for (`arn:aws:sts::A:assumed-role/R/S`, `acs:ram::A:role/R`). */
  principal?: string;
}

/**
 * The emulators' identity service: every access key they accept, with the account it belongs to.
 * The base (dummy) keys belong to the default account; the STS fakes (sts.ts, alicloud-sts.ts)
 * issue keys for other accounts. The AWS fakes read `awsSecrets` and the Alibaba Cloud fakes read
 * `alicloudCredentials`, both live views, so a key issued by STS is accepted at once everywhere
 * and each service picks the state of the key's account (`PerAccount`).
 */
export class AccountDirectory {
  private readonly keys = new Map<string, IssuedKey>();
  /** Live access key id → secret (the form verifySigV4 takes). */
  readonly awsSecrets = new Map<string, string>();
  /** Live list (the form Acs3Verifier and the SLS/OSS verifiers take). */
  readonly alicloudCredentials: Array<{
    accessKeyId: string;
    accessKeySecret: string;
    securityToken?: string;
  }> = [];
  now: () => number;

  constructor(
    readonly defaultAccount: string,
    options: { now?: () => number } = {},
  ) {
    this.now = options.now ?? Date.now;
  }

  /** Registers an AWS key (SigV4 services). */
  addAws(key: IssuedKey): this {
    this.keys.set(key.accessKeyId, key);
    this.awsSecrets.set(key.accessKeyId, key.secret);
    return this;
  }

  /** Registers an Alibaba Cloud key (ACS3 / SLS / OSS services). */
  addAlicloud(key: IssuedKey): this {
    this.keys.set(key.accessKeyId, key);
    const i = this.alicloudCredentials.findIndex((c) => c.accessKeyId === key.accessKeyId);
    const entry = {
      accessKeyId: key.accessKeyId,
      accessKeySecret: key.secret,
      ...(key.token !== undefined ? { securityToken: key.token } : {}),
    };
    if (i >= 0) this.alicloudCredentials[i] = entry;
    else this.alicloudCredentials.push(entry);
    return this;
  }

  key(accessKeyId: string): IssuedKey | undefined {
    return this.keys.get(accessKeyId);
  }

  /** The account of a key the service accepted (the default account for keys not issued by STS). */
  accountOf(accessKeyId: string): string {
    return this.keys.get(accessKeyId)?.account ?? this.defaultAccount;
  }

  /** Whether an accepted key has expired (STS keys only). */
  expired(accessKeyId: string): boolean {
    const at = this.keys.get(accessKeyId)?.expiresAt;
    return at !== undefined && this.now() >= at;
  }

  /**
   * For a service handler, after the signature checked out: the account of the key, or the
   * service's own error for an expired or token-less STS key (`expired`, `badToken` name them).
   */
  admit(
    accessKeyId: string,
    token: string | undefined,
    errors: { expired: () => Error; badToken: () => Error },
  ): string {
    const key = this.keys.get(accessKeyId);
    if (key?.token !== undefined && token !== key.token) throw errors.badToken();
    if (this.expired(accessKeyId)) throw errors.expired();
    return this.accountOf(accessKeyId);
  }
}

/** A service's state per account, made on first use; the default account's is the one single-account tests use. */
export class PerAccount<S> {
  private readonly states = new Map<string, S>();

  constructor(
    readonly defaultAccount: string,
    readonly defaultState: S,
    private readonly make: (account: string) => S,
  ) {
    this.states.set(defaultAccount, defaultState);
  }

  of(account: string): S {
    let state = this.states.get(account);
    if (state === undefined) {
      state = this.make(account);
      this.states.set(account, state);
    }
    return state;
  }

  /** Accounts that have state (the default one included). */
  accounts(): string[] {
    return [...this.states.keys()];
  }
}

/** The access key id and session token a request carries (before its signature is checked). */
export interface PresentedKey {
  accessKeyId?: string;
  token?: string;
}

/** Reads the key from the Authorization forms the Alibaba Cloud fakes verify (ACS3, OSS4, SLS `LOG`). */
export function alicloudKeyOf(ctx: RequestContext): PresentedKey {
  const header = (name: string): string | undefined => {
    const v = ctx.req.headers[name];
    return Array.isArray(v) ? v.join(',') : v;
  };
  const auth = header('authorization') ?? '';
  const id = /Credential=([^/,]+)/.exec(auth)?.[1] ?? /^LOG ([^:]+):/.exec(auth)?.[1];
  const token = header('x-acs-security-token') ?? header('x-oss-security-token');
  return { ...(id !== undefined ? { accessKeyId: id } : {}), ...(token !== undefined ? { token } : {}) };
}

/**
 * One handler per account behind one port: picks the account of the presented key (after the
 * directory checked its token and expiry), then lets that account's handler — holding that
 * account's state — verify the signature and answer. The log records the account of every call.
 */
export class PerAccountHandler<H extends ServiceHandler> implements ServiceHandler {
  readonly throttle: ServiceHandler['throttle'];

  constructor(
    private readonly directory: AccountDirectory,
    readonly handlers: PerAccount<H>,
    private readonly keyOf: (ctx: RequestContext) => PresentedKey,
    private readonly errors: { expired: () => Error; badToken: () => Error },
    private readonly regionOf: (ctx: RequestContext) => string = () => '',
  ) {
    this.throttle = handlers.defaultState.throttle;
  }

  private accountOf(ctx: RequestContext): string {
    const { accessKeyId, token } = this.keyOf(ctx);
    return accessKeyId === undefined
      ? this.directory.defaultAccount
      : this.directory.admit(accessKeyId, token, this.errors);
  }

  action(ctx: RequestContext): string {
    return this.handlers.defaultState.action(ctx);
  }

  isWrite(action: string): boolean {
    return this.handlers.defaultState.isWrite(action);
  }

  scope(ctx: RequestContext): string {
    const id = this.keyOf(ctx).accessKeyId;
    return `${id === undefined ? this.directory.defaultAccount : this.directory.accountOf(id)}/${this.regionOf(ctx)}`;
  }

  handle(ctx: RequestContext, action: string, log: (resource: string, account?: string) => void) {
    const account = this.accountOf(ctx);
    return this.handlers.of(account).handle(ctx, action, (resource) => log(resource, account));
  }

  error(status: number, code: string, message: string, requestId: string): Answer {
    return this.handlers.defaultState.error(status, code, message, requestId);
  }
}

/** What an STS handler (either cloud) keeps: the seeded roles by `roleKey`, and the keys it issued. */
export interface RoleIssuer<R> extends ServiceHandler {
  readonly roles: Map<string, R>;
  issued: number;
  /** The key a role is seeded and looked up under (RAM role names are case-insensitive, IAM's are not). */
  roleKey(account: string, roleName: string): string;
}

/** A running STS fake: AssumeRole issues keys into an AccountDirectory for the roles seeded here. */
export interface StsFake<R> {
  service: EmulatedService;
  /** The value for the STS endpoint variable (`AWS_ENDPOINT_URL_STS`, `ALIBABA_CLOUD_ENDPOINT_STS`). */
  url: string;
  /** Makes the account's role assumable (or, with `deny`, refused). */
  seedRole(account: string, roleName: string, record?: R): void;
  /** AssumeRole calls that issued credentials. */
  issued(): number;
  stop(): Promise<void>;
}

/** Starts an STS handler on a loopback port. */
export async function startStsFake<R extends object>(handler: RoleIssuer<R>, port = 0): Promise<StsFake<R>> {
  const service = new EmulatedService('sts', handler);
  const url = await service.start(port);
  return {
    service,
    url,
    seedRole: (account, roleName, record = {} as R) => {
      handler.roles.set(handler.roleKey(account, roleName), record);
    },
    issued: () => handler.issued,
    stop: () => service.stop(),
  };
}
