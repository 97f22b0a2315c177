/**
 * A small Simple Log Service (SLS) client with exactly the four calls atrest makes: GetLogStore,
 * UpdateLogStoreEncryption, ListProject and ListLogStores. It signs with LOG v1 exactly as
 * @alicloud/gateway-sls 0.3.2 does (the default of @alicloud/sls20201230). We do not use that SDK:
 * it bundles to 1.4 MiB, and it builds the host as `<project>.<endpoint>`, which cannot reach an
 * override address such as the emulator's `127.0.0.1:port` (CONTRACT.md section 4).
 *
 * Where: `https://<project>.<region>.log.aliyuncs.com`, or with `ALIBABA_CLOUD_ENDPOINT_SLS` the
 * override address, sent with `Host: <project>.<override host:port>` (SLS reads the project from
 * Host; the LOG v1 string-to-sign does not include Host, so the redirect keeps the signature valid).
 */
import { createHash, createHmac } from 'node:crypto';
import * as z from 'zod/mini';
import { httpStatusCode, InvalidError, UnexpectedResponseError } from '#core/errors';
import { once } from '#core/once';
import { formatIssues } from '#core/validation';
import { type AlicloudCredentials, type Endpoint, endpointFor } from './clients.ts';
import { DEFAULT_MAX_BODY_BYTES, LIST_MAX_BODY_BYTES, send } from './http.ts';
import {
  AlicloudServiceError,
  AlicloudTransportError,
  type ErrorRule,
  tableClassifier,
} from './service-errors.ts';

/** Project names (SLS "Manage a project"): 3–63 chars, lowercase letters, digits, hyphens; alphanumeric ends. */
export const SLS_PROJECT = /^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$/;
/** Logstore names (SLS "Logstore" naming rules): 3–63 chars, lowercase letters, digits, `-`, `_`; alphanumeric ends. */
export const SLS_LOGSTORE = /^[a-z0-9][a-z0-9_-]{1,61}[a-z0-9]$/;

const API_VERSION = '0.6.0';
const DEFAULT_TIMEOUT_MS = 10_000;

// ---------------------------------------------------------------------------------------------
// LOG v1 signature
// ---------------------------------------------------------------------------------------------

export interface LogV1Request {
  method: string;
  /** The path without query, e.g. `/logstores/ls1`. */
  path: string;
  /** Unencoded query values; the canonical resource lists them sorted by name, values raw. */
  query?: Readonly<Record<string, string>>;
  /** Lower-case header names. Read: content-md5, content-type, date, and every x-log-* / x-acs-*. */
  headers: Readonly<Record<string, string>>;
}

/**
 * `METHOD\nContent-MD5\nContent-Type\nDate\n` + the x-log-/x-acs- headers sorted by name as
 * `name:value\n` + the path with its query sorted by name (`?a=1&b=2`, values not encoded).
 */
export function logV1StringToSign(request: LogV1Request): string {
  const h = request.headers;
  const logHeaders = Object.keys(h)
    .filter((name) => name.includes('x-log-') || name.includes('x-acs-'))
    .sort()
    .map((name) => `${name}:${h[name]}\n`)
    .join('');
  const query = request.query ?? {};
  const params = Object.keys(query)
    .sort()
    .map((name) => `${name}=${query[name]}`)
    .join('&');
  const resource = params === '' ? request.path : `${request.path}?${params}`;
  return `${request.method}\n${h['content-md5'] ?? ''}\n${h['content-type'] ?? ''}\n${h.date ?? ''}\n${logHeaders}${resource}`;
}

/** The `Authorization` header value: `LOG <AccessKeyId>:<base64 HMAC-SHA256 of the string to sign>`. */
export function logV1Authorization(
  request: LogV1Request,
  accessKeyId: string,
  accessKeySecret: string,
): string {
  const signature = createHmac('sha256', accessKeySecret).update(logV1StringToSign(request)).digest('base64');
  return `LOG ${accessKeyId}:${signature}`;
}

// ---------------------------------------------------------------------------------------------
// Errors as the wire gives them; classifySlsError maps them onto the core hierarchy.
// ---------------------------------------------------------------------------------------------

/** An SLS error answer: body `{"errorCode","errorMessage"}`, request id in `x-log-requestid`. */
export class SlsServiceError extends AlicloudServiceError {
  override name = 'SlsServiceError';
}

/** No answer: connection refused or reset, timeout. `code` is Node's (`ECONNRESET`, …) or `RequestTimeout`. */
export class SlsNetworkError extends AlicloudTransportError {
  override name = 'SlsNetworkError';
}

const GONE = new Set(['LogStoreNotExist', 'ProjectNotExist']);
const DENIED = new Set([
  'Unauthorized',
  'SignatureNotMatch',
  'InvalidAccessKeyId',
  'AccessDenied',
  'Forbidden',
  'SecurityTokenExpired',
]);
/**
 * SLS answers both a rate limit and a hard count quota with `ExceedQuota` (HTTP 403): the Java
 * producer retries it as throttling, while the Java SDK's tests expect `ExceedQuota` / "domain
 * quota exceed" for a count. The code alone cannot tell them apart, so only here, in this one
 * table row, the service's own message decides: a rate (qps, inflow, per second/minute, "Rate
 * exceeded") is throttling, anything else is a quota that no retry will lift.
 */
const RATE_MESSAGE = /qps|inflow|rate|per (second|minute)|frequen|too many/i;
const THROTTLED = new Set(['WriteQuotaExceed', 'ReadQuotaExceed', 'QuotaExceed', 'TooManyRequests']);
const TRANSIENT = new Set(['ServerBusy', 'InternalServerError', 'ServiceUnavailable', 'RequestTimeout']);

/** SLS's codes and statuses, in order: the first matching row classifies. */
const SLS_RULES: readonly ErrorRule[] = [
  {
    kind: 'gone',
    when: ({ code, status }) => GONE.has(code) || (status === 404 && code.endsWith('NotExist')),
  },
  {
    kind: 'quota',
    when: ({ code, message }) => code === 'ExceedQuota' && !RATE_MESSAGE.test(message),
    advice: '(a hard SLS quota, not a rate: raise it in the Simple Log Service console, then replay)',
  },
  {
    kind: 'throttled',
    when: ({ code, status }) =>
      THROTTLED.has(code) || code === 'ExceedQuota' || code.startsWith('Throttling') || status === 429,
  },
  { kind: 'transient', when: ({ code, status }) => TRANSIENT.has(code) || status >= 500 },
  { kind: 'denied', when: ({ code, status }) => DENIED.has(code) || status === 401 || status === 403 },
  { kind: 'conflict', when: ({ status }) => status === 409 },
  {
    kind: 'invalid',
    when: ({ code, status }) =>
      status === 400 || code.startsWith('InvalidParameter') || code === 'ParameterInvalid',
  },
];

/** Maps anything the SLS client threw onto the core error classes (service-errors.ts, SLS_RULES). */
export const classifySlsError = tableClassifier(SlsServiceError, SlsNetworkError, SLS_RULES);

// ---------------------------------------------------------------------------------------------
// The client
// ---------------------------------------------------------------------------------------------

/** Encryption as GetLogStore reports it (`encrypt_conf`, snake_case on the wire). */
export interface SlsEncryptConf {
  enable: boolean;
  encryptType?: string;
  userCmkInfo?: { keyId?: string; roleArn?: string; regionId?: string };
}

export interface SlsLogstore {
  logstoreName: string;
  /** Absent when the logstore was never given an encryption configuration. */
  encryptConf?: SlsEncryptConf;
}

/** The UpdateLogStoreEncryption body (camelCase on the wire, unlike the read shape). */
export interface SlsEncryptionUpdate {
  enable: boolean;
  encryptType: string;
  userCmkInfo?: { keyId: string; roleArn: string; regionId: string };
}

export interface SlsProjectSummary {
  projectName: string;
  region?: string;
  /** The owning account (UID), when SLS reports it. */
  owner?: string;
}

export interface SlsPage {
  offset: number;
  /** Page size; SLS allows at most 500. */
  size: number;
}

export interface SlsClient {
  getLogStore(project: string, logstore: string): Promise<SlsLogstore>;
  updateLogStoreEncryption(project: string, logstore: string, update: SlsEncryptionUpdate): Promise<void>;
  listProjects(page: SlsPage): Promise<{ projects: SlsProjectSummary[]; total: number }>;
  listLogStores(project: string, page: SlsPage): Promise<{ logstores: string[]; total: number }>;
}

export interface SlsClientOptions {
  /** Region of the projects this client addresses; pattern-checked before a host is built. */
  region: string;
  /** Called per request: STS credentials from the FC context rotate. */
  credentials: () => AlicloudCredentials;
  /** Where `ALIBABA_CLOUD_ENDPOINT_SLS` is read. Default: process.env. */
  env?: Record<string, string | undefined>;
  /** Deadline per request, body included (not an idle timeout). Default 10 000 ms. */
  timeoutMs?: number;
  /** Clock for the `Date` header. Default: now. */
  now?: () => Date;
}

const UserCmkRead = once(() =>
  z.looseObject({
    cmk_key_id: z.optional(z.nullable(z.string())),
    arn: z.optional(z.nullable(z.string())),
    region_id: z.optional(z.nullable(z.string())),
  }),
);
// GetLogStore always names the logstore; without it the answer is not about one.
const LogstoreBody = once(() =>
  z.looseObject({
    logstoreName: z.string().check(z.minLength(1)),
    encrypt_conf: z.optional(
      z.nullable(
        z.looseObject({
          enable: z.optional(z.nullable(z.boolean())),
          encrypt_type: z.optional(z.nullable(z.string())),
          user_cmk_info: z.optional(z.nullable(UserCmkRead())),
        }),
      ),
    ),
  }),
);
// A listing page must carry its list: an answer without one would end a sweep early, silently.
const ProjectsBody = once(() =>
  z.looseObject({
    total: z.optional(z.number()),
    projects: z.nullable(
      z.array(
        z.looseObject({
          projectName: z.string(),
          region: z.optional(z.nullable(z.string())),
          owner: z.optional(z.nullable(z.string())),
        }),
      ),
    ),
  }),
);
const LogstoresBody = once(() =>
  z.looseObject({
    total: z.optional(z.number()),
    logstores: z.nullable(z.array(z.string())),
  }),
);

interface Call {
  action: string;
  method: 'GET' | 'PUT';
  project?: string;
  path: string;
  query?: Record<string, string>;
  body?: unknown;
}

/**
 * Where a request goes. The project rides in the Host header (`<project>.<endpoint>`). On the real
 * service we also connect to that name, as the SDK does; with an override we connect to the
 * override address and only the Host header names the project (CONTRACT.md section 4).
 */
export function slsRoute(endpoint: Endpoint, project: string | undefined): { connect: string; host: string } {
  const host = project === undefined ? endpoint.host : `${project}.${endpoint.host}`;
  return { connect: endpoint.overridden ? endpoint.host : host, host };
}

export function createSlsClient(options: SlsClientOptions): SlsClient {
  const env = options.env ?? process.env;
  const endpoint = endpointFor('SLS', options.region, env);
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const now = options.now ?? (() => new Date());

  async function call(c: Call): Promise<{ body: unknown; requestId?: string }> {
    const credentials = options.credentials();
    const body = c.body === undefined ? undefined : Buffer.from(JSON.stringify(c.body), 'utf8');
    const headers: Record<string, string> = {
      accept: 'application/json',
      'user-agent': 'atrest (+sls)',
      'x-log-apiversion': API_VERSION,
      'x-log-bodyrawsize': String(body?.length ?? 0),
      'x-log-signaturemethod': 'hmac-sha256',
      date: now().toUTCString(),
    };
    if (credentials.securityToken) headers['x-acs-security-token'] = credentials.securityToken;
    if (body) {
      headers['content-type'] = 'application/json';
      headers['content-md5'] = createHash('md5').update(body).digest('hex').toUpperCase();
      headers['content-length'] = String(body.length);
    }
    headers.authorization = logV1Authorization(
      { method: c.method, path: c.path, ...(c.query ? { query: c.query } : {}), headers },
      credentials.accessKeyId,
      credentials.accessKeySecret,
    );
    const route = slsRoute(endpoint, c.project);
    headers.host = route.host;
    const search = c.query ? `?${new URLSearchParams(c.query).toString()}` : '';
    const response = await send({
      protocol: endpoint.protocol,
      address: route.connect,
      method: c.method,
      path: `${c.path}${search}`,
      headers,
      ...(body !== undefined ? { body } : {}),
      timeoutMs,
      // GetLogStore is one logstore (~1 KiB); a ListProject / ListLogStores page of 500 entries
      // stays far under 4 MiB.
      maxBodyBytes: c.action.startsWith('List') ? LIST_MAX_BODY_BYTES : DEFAULT_MAX_BODY_BYTES,
      // TLS must name the virtual host SLS serves (the project's host), not the bare endpoint.
      servername: route.host.replace(/:\d+$/, ''),
      networkError: (code, message, cause) => new SlsNetworkError(code, `SLS ${message}`, { cause }),
    });
    const requestId = response.headers['x-log-requestid'];
    const rid = typeof requestId === 'string' ? requestId : undefined;
    if (response.status >= 400) throw toServiceError(c.action, response.status, response.body, rid);
    const ctx = { status: response.status, ...(rid !== undefined ? { requestId: rid } : {}) };
    if (response.body.length === 0) return { body: undefined, ...ctx };
    try {
      return { body: JSON.parse(response.body.toString('utf8')), ...ctx };
    } catch {
      throw new UnexpectedResponseError(
        `${c.action}: answered HTTP ${response.status} with a body that is not JSON`,
        ctx,
      );
    }
  }

  function checkNames(project: string, logstore?: string): void {
    if (!SLS_PROJECT.test(project))
      throw new InvalidError(`invalid SLS project name ${JSON.stringify(project)}`, {
        code: 'InvalidProjectName',
      });
    if (logstore !== undefined && !SLS_LOGSTORE.test(logstore))
      throw new InvalidError(`invalid SLS logstore name ${JSON.stringify(logstore)}`, {
        code: 'InvalidLogstoreName',
      });
  }

  /** A success answer must carry what the caller reads; `{}` or an empty body is not a state. */
  function parsed<T>(
    schema: z.ZodMiniType<T>,
    answer: { body: unknown; requestId?: string },
    action: string,
  ): T {
    const result = schema.safeParse(answer.body);
    if (!result.success)
      throw new UnexpectedResponseError(
        `${action}: the answer lacks what the read needs (${formatIssues(result.error.issues, 'body').slice(0, 3).join('; ')})`,
        answer.requestId !== undefined ? { requestId: answer.requestId } : {},
      );
    return result.data;
  }

  return {
    async getLogStore(project, logstore) {
      checkNames(project, logstore);
      const answer = await call({
        action: 'GetLogStore',
        method: 'GET',
        project,
        path: `/logstores/${logstore}`,
      });
      const body = parsed(LogstoreBody(), answer, 'GetLogStore');
      const conf = body.encrypt_conf;
      if (!conf) return { logstoreName: body.logstoreName ?? logstore };
      const cmk = conf.user_cmk_info;
      return {
        logstoreName: body.logstoreName ?? logstore,
        encryptConf: {
          enable: conf.enable === true,
          ...(conf.encrypt_type ? { encryptType: conf.encrypt_type } : {}),
          ...(cmk
            ? {
                userCmkInfo: {
                  ...(cmk.cmk_key_id ? { keyId: cmk.cmk_key_id } : {}),
                  ...(cmk.arn ? { roleArn: cmk.arn } : {}),
                  ...(cmk.region_id ? { regionId: cmk.region_id } : {}),
                },
              }
            : {}),
        },
      };
    },

    async updateLogStoreEncryption(project, logstore, update) {
      checkNames(project, logstore);
      // Field order as the SDK serialises it; SLS reads JSON, so order is cosmetic.
      const body = {
        enable: update.enable,
        encryptType: update.encryptType,
        ...(update.userCmkInfo
          ? {
              userCmkInfo: {
                keyId: update.userCmkInfo.keyId,
                roleArn: update.userCmkInfo.roleArn,
                regionId: update.userCmkInfo.regionId,
              },
            }
          : {}),
      };
      await call({
        action: 'UpdateLogStoreEncryption',
        method: 'PUT',
        project,
        path: `/logstores/${logstore}/encryption`,
        body,
      });
    },

    async listProjects(page) {
      const answer = await call({
        action: 'ListProject',
        method: 'GET',
        path: '/',
        query: { offset: String(page.offset), size: String(page.size) },
      });
      const body = parsed(ProjectsBody(), answer, 'ListProject');
      const projects = (body.projects ?? []).map((p) => ({
        projectName: p.projectName,
        ...(p.region ? { region: p.region } : {}),
        ...(p.owner ? { owner: p.owner } : {}),
      }));
      return { projects, total: body.total ?? projects.length };
    },

    async listLogStores(project, page) {
      checkNames(project);
      const answer = await call({
        action: 'ListLogStores',
        method: 'GET',
        project,
        path: '/logstores',
        query: { offset: String(page.offset), size: String(page.size) },
      });
      const body = parsed(LogstoresBody(), answer, 'ListLogStores');
      const logstores = body.logstores ?? [];
      return { logstores, total: body.total ?? logstores.length };
    },
  };
}

export function toServiceError(
  action: string,
  status: number,
  body: Buffer,
  requestId?: string,
): SlsServiceError {
  let code = httpStatusCode(status);
  let message = `${action} failed with HTTP ${status} (the body is not an SLS error)`;
  try {
    const parsed = JSON.parse(body.toString('utf8')) as { errorCode?: unknown; errorMessage?: unknown };
    if (typeof parsed.errorCode === 'string' && parsed.errorCode !== '') code = parsed.errorCode;
    if (typeof parsed.errorMessage === 'string') message = `${action}: ${parsed.errorMessage}`;
  } catch {
    // Not JSON (a proxy's HTML page): keep the status-derived code.
  }
  return new SlsServiceError(code, message, status, requestId);
}
