/**
 * Emulated Simple Log Service (SLS): ListProject, ListLogStores, GetLogStore,
 * UpdateLogStoreEncryption, GetCursor and PullLogs on their real paths, LOG v1 signed, with
 * projects, logstores and their shards' log groups held in memory. The project comes from the Host header, as on the real service (`<project>.<endpoint>`):
 * a client pointed at `http://127.0.0.1:<port>` must send `Host: <project>.127.0.0.1:<port>`.
 *
 * The signature check is rebuilt here from the server's side (string-to-sign from the received
 * method, headers, path and query) rather than imported from the client, so a client bug cannot
 * verify itself. Errors are SLS's: `{"errorCode","errorMessage"}` with `x-log-requestid`.
 *
 * Modelled rules: encryption type and key are immutable once set (only `enable` may change);
 * the Date header must be within 15 minutes; Content-MD5 and x-log-bodyrawsize must match the body.
 */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { deflateSync } from 'node:zlib';
import { perAccountAlicloud } from './accounts.ts';
import { type Acs3Credential, EMULATOR_CREDENTIALS } from './acs3.ts';
import {
  type AccountDirectory,
  type Answer,
  EmulatedService,
  nextRequestId,
  type PerAccount,
  type RequestContext,
  ServiceFailure,
  type ServiceHandler,
} from './harness.ts';

export interface SlsEncryptConfState {
  enable: boolean;
  encrypt_type: string;
  user_cmk_info?: { cmk_key_id: string; arn: string; region_id: string };
}

export interface SlsLogstoreState {
  logstoreName: string;
  createTime: number;
  encrypt_conf?: SlsEncryptConfState;
  /** Each shard's log groups, oldest first (PullLogs reads them by cursor). */
  shards?: Map<number, EmulatedLogGroup[]>;
}

/** One log group as PutLogs would have written it. */
export interface EmulatedLogGroup {
  topic?: string;
  source?: string;
  logs: { time: number; contents: Record<string, string> }[];
}

/**
 * Cursors are opaque base64 text on the real service (`MTUyOTQ4MDIwOTY1NTk3ODQ2Mw==`, a number
 * in decimal); here the number is a fixed base plus the log group's index in its shard.
 */
const CURSOR_BASE = 1_529_480_209_655_978_000n;
export const emulatorCursor = (index: number): string =>
  Buffer.from(String(CURSOR_BASE + BigInt(index))).toString('base64');
function cursorIndex(cursor: string | null): number | undefined {
  if (cursor === null || !/^[A-Za-z0-9+/]+=*$/.test(cursor)) return undefined;
  const text = Buffer.from(cursor, 'base64').toString('utf8');
  if (!/^\d{19}$/.test(text)) return undefined;
  const index = BigInt(text) - CURSOR_BASE;
  return index >= 0n && index <= 10_000_000n ? Number(index) : undefined;
}

export interface SlsProjectState {
  projectName: string;
  region: string;
  owner: string;
  logstores: Map<string, SlsLogstoreState>;
}

const ENCRYPT_TYPES = new Set([
  'default',
  'm4',
  'sm4_ecb',
  'sm4_cbc',
  'sm4_gcm',
  'aes_ecb',
  'aes_cbc',
  'aes_cfb',
  'aes_ofb',
  'aes_gcm',
]);

export class SlsState {
  readonly projects = new Map<string, SlsProjectState>();
  /** Every Host header received, in order (tests assert the project travels in it). */
  readonly hosts: string[] = [];

  seedProject(projectName: string, options: { region?: string; owner?: string } = {}): SlsProjectState {
    const existing = this.projects.get(projectName);
    if (existing) return existing;
    const project = {
      projectName,
      region: options.region ?? 'cn-hangzhou',
      owner: options.owner ?? '1234567890123456',
      logstores: new Map<string, SlsLogstoreState>(),
    };
    this.projects.set(projectName, project);
    return project;
  }

  /** Adds (or replaces) a logstore, creating its project when needed. */
  seedLogstore(
    projectName: string,
    logstoreName: string,
    encryptConf?: SlsEncryptConfState,
  ): SlsLogstoreState {
    const project = this.seedProject(projectName);
    const logstore: SlsLogstoreState = {
      logstoreName,
      createTime: Math.floor(Date.now() / 1000),
      ...(encryptConf ? { encrypt_conf: encryptConf } : {}),
    };
    project.logstores.set(logstoreName, logstore);
    return logstore;
  }

  /**
   * Appends one log group to a shard (as PutLogs would), creating project, logstore and shard when
   * needed. Returns the cursors before and after it: the range an SLS trigger would hand over.
   */
  appendLogs(
    projectName: string,
    logstoreName: string,
    shard: number,
    group: EmulatedLogGroup,
  ): { beginCursor: string; endCursor: string } {
    const logstore = this.logstore(projectName, logstoreName) ?? this.seedLogstore(projectName, logstoreName);
    logstore.shards ??= new Map();
    const groups = logstore.shards.get(shard) ?? [];
    logstore.shards.set(shard, groups);
    groups.push(group);
    return { beginCursor: emulatorCursor(groups.length - 1), endCursor: emulatorCursor(groups.length) };
  }

  logstore(projectName: string, logstoreName: string): SlsLogstoreState | undefined {
    return this.projects.get(projectName)?.logstores.get(logstoreName);
  }

  deleteLogstore(projectName: string, logstoreName: string): void {
    this.projects.get(projectName)?.logstores.delete(logstoreName);
  }
}

export interface SlsEmulatorOptions {
  /** Accepted credentials. Default: EMULATOR_CREDENTIALS. */
  credentials?: Acs3Credential[];
  /** Keep projects per account for the keys of this directory (Alibaba Cloud STS issues them). */
  accounts?: AccountDirectory;
  now?: () => number;
  port?: number;
}

const json = (status: number, body: unknown, requestId = nextRequestId()): Answer => ({
  status,
  body: body === undefined ? '' : JSON.stringify(body),
  headers: { 'content-type': 'application/json', 'x-log-requestid': requestId },
});

const headerOf = (ctx: RequestContext, name: string): string | undefined => {
  const value = ctx.req.headers[name];
  return Array.isArray(value) ? value.join(',') : value;
};

class SlsHandler implements ServiceHandler {
  readonly throttle = { status: 403, code: 'ExceedQuota' };
  private readonly credentials: Acs3Credential[];
  private readonly now: () => number;

  constructor(
    private readonly state: SlsState,
    options: SlsEmulatorOptions,
    private readonly ownHost: () => string,
  ) {
    this.credentials = options.credentials ?? [EMULATOR_CREDENTIALS];
    this.now = options.now ?? Date.now;
  }

  action(ctx: RequestContext): string {
    const path = ctx.url.pathname;
    const method = ctx.req.method ?? 'GET';
    if (method === 'GET' && path === '/') return 'ListProject';
    if (method === 'GET' && path === '/logstores') return 'ListLogStores';
    if (method === 'GET' && /^\/logstores\/[^/]+$/.test(path)) return 'GetLogStore';
    if (method === 'PUT' && /^\/logstores\/[^/]+\/encryption$/.test(path)) return 'UpdateLogStoreEncryption';
    if (method === 'GET' && /^\/logstores\/[^/]+\/shards\/[^/]+$/.test(path)) {
      const type = ctx.url.searchParams.get('type');
      if (type === 'log') return 'PullLogs';
      if (type === 'cursor') return 'GetCursor';
    }
    return `Unsupported:${method} ${path}`;
  }

  isWrite(action: string): boolean {
    return action === 'UpdateLogStoreEncryption';
  }

  error(status: number, code: string, message: string, requestId: string): Answer {
    return json(status, { errorCode: code, errorMessage: message }, requestId);
  }

  handle(ctx: RequestContext, action: string, log: (resource: string) => void): Answer {
    const host = headerOf(ctx, 'host') ?? '';
    this.state.hosts.push(host);
    this.verify(ctx);
    if (action.startsWith('Unsupported:'))
      throw new ServiceFailure(400, 'ParameterInvalid', `unsupported API ${action.slice(12)}`);
    if (action === 'ListProject') return this.listProjects(ctx);

    const projectName = this.projectFromHost(host);
    const project = this.state.projects.get(projectName);
    if (!project) throw new ServiceFailure(404, 'ProjectNotExist', `Project ${projectName} does not exist`);
    if (action === 'ListLogStores') return this.listLogstores(ctx, project);

    const name = decodeURIComponent(ctx.url.pathname.split('/')[2] ?? '');
    log(`${projectName}/${name}`);
    const logstore = project.logstores.get(name);
    if (!logstore) throw new ServiceFailure(404, 'LogStoreNotExist', `logstore ${name} does not exist`);
    if (action === 'PullLogs' || action === 'GetCursor') return this.readShard(ctx, action, logstore);
    if (action === 'GetLogStore')
      return json(200, {
        logstoreName: logstore.logstoreName,
        ttl: 30,
        shardCount: 2,
        autoSplit: true,
        maxSplitShard: 64,
        createTime: logstore.createTime,
        lastModifyTime: logstore.createTime,
        ...(logstore.encrypt_conf ? { encrypt_conf: logstore.encrypt_conf } : {}),
      });
    this.updateEncryption(ctx, logstore);
    return json(200, undefined);
  }

  /**
   * GetCursor (`from=begin|end`) and PullLogs. PullLogs answers only in protobuf (API reference:
   * "supports reading data in only the Protocol Buffer format"), so a request that does not
   * accept `application/x-protobuf` is refused; the LogGroupList is deflated (zlib) when the
   * client accepts `deflate`, with `x-log-compresstype`, `x-log-bodyrawsize`, `x-log-cursor` and
   * `x-log-count` as the SDKs read them.
   */
  private readShard(ctx: RequestContext, action: string, logstore: SlsLogstoreState): Answer {
    const shardText = ctx.url.pathname.split('/')[4] ?? '';
    const shard = /^\d{1,6}$/.test(shardText) ? Number(shardText) : -1;
    const groups = logstore.shards?.get(shard);
    if (!groups) throw new ServiceFailure(404, 'ShardNotExist', `shard ${shardText} does not exist`);
    const params = ctx.url.searchParams;
    if (action === 'GetCursor') {
      const from = params.get('from');
      if (from !== 'begin' && from !== 'end')
        throw new ServiceFailure(400, 'ParameterInvalid', 'from must be begin, end or a unix time');
      return json(200, { cursor: emulatorCursor(from === 'begin' ? 0 : groups.length) });
    }
    if (!(headerOf(ctx, 'accept') ?? '').includes('application/x-protobuf'))
      throw new ServiceFailure(400, 'ParameterInvalid', 'PullLogs answers only application/x-protobuf');
    const start = cursorIndex(params.get('cursor'));
    if (start === undefined || start > groups.length)
      throw new ServiceFailure(400, 'InvalidCursor', `cursor ${params.get('cursor')} is invalid`);
    const endParam = params.get('end_cursor');
    const end = endParam === null ? groups.length : cursorIndex(endParam);
    if (end === undefined || end > groups.length || end < start)
      throw new ServiceFailure(400, 'InvalidCursor', `end_cursor ${endParam} is invalid`);
    const count = Number(params.get('count') ?? '');
    if (!Number.isInteger(count) || count < 1 || count > 1000)
      throw new ServiceFailure(400, 'ParameterInvalid', 'count must be 1..1000');
    const stop = Math.min(end, start + count);
    const raw = encodeLogGroupList(groups.slice(start, stop));
    const deflate = (headerOf(ctx, 'accept-encoding') ?? '').split(',').some((e) => e.trim() === 'deflate');
    return {
      status: 200,
      body: deflate ? deflateSync(raw) : raw,
      headers: {
        'content-type': 'application/x-protobuf',
        'x-log-requestid': nextRequestId(),
        'x-log-cursor': emulatorCursor(stop),
        'x-log-count': String(stop - start),
        'x-log-bodyrawsize': String(raw.length),
        ...(deflate ? { 'x-log-compresstype': 'deflate' } : {}),
      },
    };
  }

  /** `p1.127.0.0.1:4510` → `p1`; a Host without a project prefix names none. */
  private projectFromHost(host: string): string {
    const own = this.ownHost();
    if (!host.endsWith(`.${own}`))
      throw new ServiceFailure(400, 'InvalidHost', `Host header ${host} does not name a project`);
    return host.slice(0, -own.length - 1);
  }

  private listProjects(ctx: RequestContext): Answer {
    const { offset, size } = page(ctx);
    const all = [...this.state.projects.values()].sort((a, b) => a.projectName.localeCompare(b.projectName));
    const projects = all.slice(offset, offset + size).map((p) => ({
      projectName: p.projectName,
      region: p.region,
      owner: p.owner,
      status: 'Normal',
      description: '',
      createTime: '1714550400',
      lastModifyTime: '1714550400',
    }));
    return json(200, { count: projects.length, total: all.length, projects });
  }

  private listLogstores(ctx: RequestContext, project: SlsProjectState): Answer {
    const { offset, size } = page(ctx);
    const all = [...project.logstores.keys()].sort();
    const logstores = all.slice(offset, offset + size);
    return json(200, { count: logstores.length, total: all.length, logstores });
  }

  private updateEncryption(ctx: RequestContext, logstore: SlsLogstoreState): void {
    let body: { enable?: unknown; encryptType?: unknown; userCmkInfo?: unknown };
    try {
      body = JSON.parse(ctx.body.toString('utf8')) as typeof body;
    } catch {
      throw new ServiceFailure(400, 'PostBodyInvalid', 'The request body is not valid JSON object.');
    }
    if (typeof body !== 'object' || body === null || typeof body.enable !== 'boolean')
      throw new ServiceFailure(400, 'ParameterInvalid', 'enable is required and must be a boolean');
    const cmk = parseCmk(body.userCmkInfo);
    const current = logstore.encrypt_conf;
    if (current) {
      const sameType = body.encryptType === undefined || body.encryptType === current.encrypt_type;
      const sameKey =
        body.userCmkInfo === undefined
          ? true
          : cmk?.cmk_key_id === current.user_cmk_info?.cmk_key_id &&
            cmk?.region_id === current.user_cmk_info?.region_id;
      if (!sameType || !sameKey)
        throw new ServiceFailure(
          400,
          'ParameterInvalid',
          'encryptType and userCmkInfo cannot be modified once set',
        );
      current.enable = body.enable;
      return;
    }
    if (typeof body.encryptType !== 'string' || !ENCRYPT_TYPES.has(body.encryptType))
      throw new ServiceFailure(
        400,
        'ParameterInvalid',
        `invalid encryptType ${JSON.stringify(body.encryptType)}`,
      );
    logstore.encrypt_conf = {
      enable: body.enable,
      encrypt_type: body.encryptType,
      ...(cmk ? { user_cmk_info: cmk } : {}),
    };
  }

  /** LOG v1, verified from what arrived: `LOG <ak>:<base64 hmac-sha256>`. */
  private verify(ctx: RequestContext): void {
    const auth = headerOf(ctx, 'authorization');
    const m = auth ? /^LOG ([^:]+):(.+)$/.exec(auth) : null;
    if (!m) throw new ServiceFailure(401, 'Unauthorized', 'no LOG authorization header');
    const [, accessKeyId = '', signature = ''] = m;
    const credential = this.credentials.find((c) => c.accessKeyId === accessKeyId);
    if (!credential) throw new ServiceFailure(401, 'Unauthorized', `AccessKeyId not found: ${accessKeyId}`);
    if (
      credential.securityToken !== undefined &&
      headerOf(ctx, 'x-acs-security-token') !== credential.securityToken
    )
      throw new ServiceFailure(401, 'Unauthorized', 'The security token you provided is invalid.');
    if (headerOf(ctx, 'x-log-apiversion') !== '0.6.0')
      throw new ServiceFailure(400, 'ParameterInvalid', 'Http extend x-log-apiversion is invalid');
    if (headerOf(ctx, 'x-log-signaturemethod') !== 'hmac-sha256')
      throw new ServiceFailure(400, 'ParameterInvalid', 'Http extend x-log-signaturemethod is invalid');
    const date = headerOf(ctx, 'date');
    const at = date === undefined ? Number.NaN : Date.parse(date);
    if (Number.isNaN(at))
      throw new ServiceFailure(400, 'InvalidRequestTime', `Request time ${date} not follow RFC822 spec.`);
    if (Math.abs(this.now() - at) > 15 * 60_000)
      throw new ServiceFailure(400, 'RequestTimeExpired', `Request time ${date} has been expired`);
    const md5 = headerOf(ctx, 'content-md5') ?? '';
    if (ctx.body.length > 0 && md5 !== createHash('md5').update(ctx.body).digest('hex').toUpperCase())
      throw new ServiceFailure(400, 'ParameterInvalid', 'Http extend content-md5 does not match the body');
    if (headerOf(ctx, 'x-log-bodyrawsize') !== String(ctx.body.length))
      throw new ServiceFailure(400, 'ParameterInvalid', 'Http extend x-log-bodyrawsize is invalid');

    const logHeaders = Object.keys(ctx.req.headers)
      .filter((name) => name.includes('x-log-') || name.includes('x-acs-'))
      .sort()
      .map((name) => `${name}:${headerOf(ctx, name)}\n`)
      .join('');
    const params = [...ctx.url.searchParams.keys()]
      .sort()
      .map((k) => `${k}=${ctx.url.searchParams.get(k)}`)
      .join('&');
    const resource = params === '' ? ctx.url.pathname : `${ctx.url.pathname}?${params}`;
    const stringToSign = `${ctx.req.method}\n${md5}\n${headerOf(ctx, 'content-type') ?? ''}\n${date}\n${logHeaders}${resource}`;
    const expected = createHmac('sha256', credential.accessKeySecret).update(stringToSign).digest();
    const given = Buffer.from(signature, 'base64');
    if (given.length !== expected.length || !timingSafeEqual(given, expected))
      throw new ServiceFailure(401, 'SignatureNotMatch', `Signature ${signature} not matched.`);
  }
}

// LogGroupList encoding (SLS "Data encoding", proto2), written here from the schema rather than
// imported from the client's decoder, so a decoder bug cannot agree with itself.
function varint(value: number): Buffer {
  const bytes: number[] = [];
  let v = value;
  while (v >= 0x80) {
    bytes.push((v % 0x80) | 0x80);
    v = Math.floor(v / 0x80);
  }
  bytes.push(v);
  return Buffer.from(bytes);
}
const field = (number: number, payload: Buffer): Buffer =>
  Buffer.concat([varint(number * 8 + 2), varint(payload.length), payload]);
const text = (number: number, value: string): Buffer => field(number, Buffer.from(value, 'utf8'));
const keyValue = (key: string, value: string): Buffer => Buffer.concat([text(1, key), text(2, value)]);

export function encodeLogGroupList(groups: readonly EmulatedLogGroup[]): Buffer {
  return Buffer.concat(
    groups.map((group) =>
      field(
        1,
        Buffer.concat([
          ...group.logs.map((log) =>
            field(
              1,
              Buffer.concat([
                varint(8), // field 1 (Time), wire type 0
                varint(log.time),
                ...Object.entries(log.contents).map(([k, v]) => field(2, keyValue(k, v))),
              ]),
            ),
          ),
          ...(group.topic !== undefined ? [text(3, group.topic)] : []),
          ...(group.source !== undefined ? [text(4, group.source)] : []),
        ]),
      ),
    ),
  );
}

function page(ctx: RequestContext): { offset: number; size: number } {
  const offset = Number(ctx.url.searchParams.get('offset') ?? '0');
  const size = Number(ctx.url.searchParams.get('size') ?? '100');
  if (!Number.isInteger(offset) || offset < 0 || !Number.isInteger(size) || size < 1 || size > 500)
    throw new ServiceFailure(400, 'ParameterInvalid', 'offset/size out of range (size 1..500)');
  return { offset, size };
}

function parseCmk(value: unknown): SlsEncryptConfState['user_cmk_info'] {
  if (value === undefined) return undefined;
  const v = value as { keyId?: unknown; roleArn?: unknown; regionId?: unknown };
  if (
    typeof v !== 'object' ||
    v === null ||
    typeof v.keyId !== 'string' ||
    typeof v.roleArn !== 'string' ||
    typeof v.regionId !== 'string'
  )
    throw new ServiceFailure(400, 'ParameterInvalid', 'userCmkInfo needs keyId, roleArn and regionId');
  return { cmk_key_id: v.keyId, arn: v.roleArn, region_id: v.regionId };
}

export interface SlsEmulator {
  service: EmulatedService;
  /** `http://127.0.0.1:<port>`: the value for `ALIBABA_CLOUD_ENDPOINT_SLS`. */
  url: string;
  state: SlsState;
  /** The projects of each account; `state` is the default account's. */
  states: PerAccount<SlsState>;
  stop(): Promise<void>;
}

/** Starts the SLS emulator on a loopback port; point `ALIBABA_CLOUD_ENDPOINT_SLS` at `url`. */
export async function startSls(options: SlsEmulatorOptions = {}): Promise<SlsEmulator> {
  const state = new SlsState();
  let ownHost = '';
  const { handler, states } = perAccountAlicloud({
    accounts: options.accounts,
    credentials: options.credentials,
    state,
    makeState: () => new SlsState(),
    makeHandler: (s, credentials) =>
      new SlsHandler(s, { ...options, ...(credentials ? { credentials } : {}) }, () => ownHost),
  });
  const service = new EmulatedService('sls', handler);
  const url = await service.start(options.port);
  ownHost = new URL(url).host;
  return { service, url, state, states, stop: () => service.stop() };
}
