/**
 * Where and as whom Alibaba Cloud calls go. Endpoints come only from fixed host templates filled
 * with a pattern-checked region, or from the override variables of CONTRACT.md section 4 — never
 * from event content. Credentials come from the FC context (STS) or the standard environment
 * variables, never from config, and are never logged.
 */
import { ConfigError } from '#core/errors';
import { ALICLOUD_ACCOUNT, ALICLOUD_REGION } from '#core/validation';

export type AlicloudService =
  | 'SLS'
  | 'CS'
  | 'ECS'
  | 'OSS_TABLES'
  | 'FC'
  | 'KMS'
  // `atrest doctor` only: ActionTrail trails, EventBridge rules.
  | 'ACTIONTRAIL'
  | 'EVENTBRIDGE'
  // the org-wide CLI: the caller's identity, the Resource Directory's accounts.
  | 'STS'
  | 'RESOURCEMANAGER';

const HOSTS: Record<AlicloudService, (region: string, account?: string) => string> = {
  SLS: (region) => `${region}.log.aliyuncs.com`,
  CS: (region) => `cs.${region}.aliyuncs.com`,
  ECS: (region) => `ecs.${region}.aliyuncs.com`,
  OSS_TABLES: (region) => `${region}.oss-tables.aliyuncs.com`,
  FC: (region, account) => `${account}.${region}.fc.aliyuncs.com`,
  KMS: (region) => `kms.${region}.aliyuncs.com`,
  ACTIONTRAIL: (region) => `actiontrail.${region}.aliyuncs.com`,
  EVENTBRIDGE: (region) => `eventbridge.${region}.aliyuncs.com`,
  // Global endpoints: the caller's identity and the Resource Directory are not regional.
  STS: () => 'sts.aliyuncs.com',
  RESOURCEMANAGER: () => 'resourcemanager.aliyuncs.com',
};

export interface Endpoint {
  protocol: 'http' | 'https';
  /** host[:port] */
  host: string;
  /** True when it came from an override variable (emulator, VPC endpoint). */
  overridden: boolean;
}

/**
 * The endpoint of `service` in `region`. `ALIBABA_CLOUD_ENDPOINT_<SERVICE>` (a URL) wins; the
 * region is checked against the region pattern before any host is built from it.
 */
export function endpointFor(
  service: AlicloudService,
  region: string,
  env: Record<string, string | undefined> = process.env,
  account?: string,
): Endpoint {
  const override = env[`ALIBABA_CLOUD_ENDPOINT_${service}`];
  if (override !== undefined && override !== '') {
    const url = overrideUrl(`ALIBABA_CLOUD_ENDPOINT_${service}`, override);
    return { protocol: url.protocol === 'http:' ? 'http' : 'https', host: url.host, overridden: true };
  }
  if (!ALICLOUD_REGION.test(region))
    throw new ConfigError([`region: ${JSON.stringify(region)} is not a region id`]);
  if (service === 'FC' && (account === undefined || !ALICLOUD_ACCOUNT.test(account)))
    throw new ConfigError(['account: the Function Compute endpoint needs the account id']);
  return { protocol: 'https', host: HOSTS[service](region, account), overridden: false };
}

/** An override variable's URL, or a ConfigError naming the variable. */
function overrideUrl(name: string, value: string): URL {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new ConfigError([`${name}: not a URL (${JSON.stringify(value)})`]);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    throw new ConfigError([`${name}: scheme must be http or https (${JSON.stringify(value)})`]);
  if (url.host === '') throw new ConfigError([`${name}: no host (${JSON.stringify(value)})`]);
  return url;
}

/**
 * Checks every `ALIBABA_CLOUD_ENDPOINT_*` variable that is set, at start-up (CLI before any verb
 * runs, FC when the instance starts): a typo such as `ftp://…` is one config error naming the
 * variable (CLI exit 2), not a `failed` line per event.
 */
export function checkEndpointOverrides(env: Record<string, string | undefined> = process.env): void {
  const issues: string[] = [];
  for (const [name, value] of Object.entries(env)) {
    if (!name.startsWith('ALIBABA_CLOUD_ENDPOINT_') || value === undefined || value === '') continue;
    try {
      overrideUrl(name, value);
    } catch (error) {
      issues.push(...(error as ConfigError).issues);
    }
  }
  if (issues.length > 0) throw new ConfigError(issues.sort());
}

export interface AlicloudCredentials {
  accessKeyId: string;
  accessKeySecret: string;
  securityToken?: string;
}

/** FC passes STS credentials in the invocation context. */
export interface FcContextCredentials {
  accessKeyId?: string;
  accessKeySecret?: string;
  securityToken?: string;
}

/** The parts of the FC 3.0 Node.js context we use. */
export interface FcContext {
  requestId?: string;
  credentials?: FcContextCredentials;
  function?: { name?: string; timeout?: number; qualifier?: string };
  region?: string;
  accountId?: string;
}

/** From the FC context when present, else the standard environment variables. */
export function credentialsFrom(
  context?: { credentials?: FcContextCredentials },
  env: Record<string, string | undefined> = process.env,
): AlicloudCredentials {
  const c = context?.credentials;
  if (c?.accessKeyId && c.accessKeySecret)
    return {
      accessKeyId: c.accessKeyId,
      accessKeySecret: c.accessKeySecret,
      ...(c.securityToken ? { securityToken: c.securityToken } : {}),
    };
  const id = env.ALIBABA_CLOUD_ACCESS_KEY_ID;
  const secret = env.ALIBABA_CLOUD_ACCESS_KEY_SECRET;
  if (!id || !secret)
    throw new ConfigError([
      'credentials: set ALIBABA_CLOUD_ACCESS_KEY_ID and ALIBABA_CLOUD_ACCESS_KEY_SECRET (and ALIBABA_CLOUD_SECURITY_TOKEN for STS), or run in Function Compute with a role',
    ]);
  const token = env.ALIBABA_CLOUD_SECURITY_TOKEN;
  return { accessKeyId: id, accessKeySecret: secret, ...(token ? { securityToken: token } : {}) };
}

/** One client per region, made on first use (clients are cheap, but not free on every call). */
export function perRegion<C>(make: (region: string) => C): (region: string) => C {
  const clients = new Map<string, C>();
  return (region) => {
    let client = clients.get(region);
    if (client === undefined) {
      client = make(region);
      clients.set(region, client);
    }
    return client;
  };
}
