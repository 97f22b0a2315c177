/**
 * alicloud.table-bucket-encryption — every new OSS Tables table bucket gets the configured
 * default encryption.
 *
 * Trigger: ActionTrail `CreateTableBucket` (API call, console operation or service event; the
 * names are in events.ts), as an EventBridge CloudEvent, a bare trail record, or a record of an
 * SLS-trigger range on the trail path. Whether OSS Tables calls reach EventBridge at all is
 * UNCONFIRMED, so both paths are deployed by default; `atrest sweep
 * alicloud.table-bucket-encryption` (ListTableBuckets) is the backstop either way.
 * Tamper events (`enforce: "always"`, the default): `DeleteTableBucketEncryption`, and
 * `PutTableBucketEncryption` with another configuration, restore the configured one, at most
 * `maxRestoresPerHour` times an hour; a Put of the configured one (atrest's own) ends `ignored`.
 * Reads: `GetTableBucketEncryption`. Writes: `PutTableBucketEncryption`.
 *
 * Resource id: the bucket ARN `acs:osstables:<region>:<account>:bucket/<name>`, built only from
 * pattern-checked parts. Exclude patterns match the bucket name.
 *
 * A Put replaces the bucket's default encryption; tables created before it keep theirs (only new
 * tables inherit the bucket default), which is why this runs as soon as the bucket exists.
 */

import type { Config } from '#core/config';
import { excludedBy } from '#core/config';
import type { RemediationError } from '#core/errors';
import type {
  Desire,
  EventFacts,
  ListPage,
  Observed,
  Parsed,
  Remediator,
  Target,
  Verdict,
} from '#core/remediator';
import { listAll } from '#core/sweep';
import { setsConfiguredState, tamperOf } from '#core/tamper';
import { withObservedAt } from '#core/validation';
import { type AlicloudCredentials, credentialsFrom, perRegion } from '../clients.ts';
import { isActionTrailCall, parseTrailCall, pick } from '../events.ts';
import {
  classifyOssTablesError,
  createOssTablesClient,
  type OssTablesClient,
  parseTableBucketArn,
  TABLE_BUCKET_NAME,
  type TableBucketEncryption,
  tableBucketArn,
} from '../oss-tables.ts';
import { tableBucketEncryptionConfig } from './config.ts';
import { TRAIL_EVENTS } from './events.ts';

export const FUNCTION_ID = 'alicloud.table-bucket-encryption' as const;

export interface TableBucketTarget extends Target {
  /** The bucket ARN (also `resource`). */
  arn: string;
  name: string;
}

export interface TableBucketDesired {
  sseAlgorithm: 'AES256' | 'KMS';
  kmsKeyArn?: string;
}

export type TableBucketState = TableBucketEncryption;

export interface TableBucketRemediatorOptions {
  /** Asked before every request (FC's STS credentials rotate). Default: the standard environment variables. */
  credentials?: () => AlicloudCredentials;
  env?: Record<string, string | undefined>;
  client?: (region: string) => OssTablesClient;
}

// ------------------------------------------------------------------------------------------------
// parse
// ------------------------------------------------------------------------------------------------

const _facts = (event: unknown): EventFacts => {
  if (typeof event !== 'object' || event === null) return {};
  const id = (event as { id?: unknown }).id;
  return typeof id === 'string' && id.length <= 256 ? { eventId: id } : {};
};

const asRecord = (value: unknown): Record<string, unknown> | undefined =>
  typeof value === 'object' && value !== null && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : undefined;

/** The configuration a PutTableBucketEncryption asked for: `encryptionConfiguration{sseAlgorithm,kmsKeyArn}`. */
function requestedConfiguration(
  params: Record<string, unknown> | null | undefined,
): TableBucketState | undefined {
  const conf = asRecord(pick(params, 'encryptionConfiguration', 'EncryptionConfiguration'));
  const algorithm = pick(conf, 'sseAlgorithm', 'SSEAlgorithm');
  if (typeof algorithm !== 'string') return undefined;
  const key = pick(conf, 'kmsKeyArn', 'KMSKeyArn', 'kmsKeyId');
  return { sseAlgorithm: algorithm, ...(typeof key === 'string' && key !== '' ? { kmsKeyArn: key } : {}) };
}

export function parseEvent(event: unknown, config?: Config): Parsed<TableBucketTarget> {
  const call = parseTrailCall(event, TRAIL_EVENTS);
  if (call.kind !== 'call') return call;
  const { event: e, region, account, known } = call;
  const tamper = call.apiName !== 'CreateTableBucket';

  const named = pick(e.data.requestParameters, 'name', 'Name', 'tableBucketName', 'TableBucketName');
  // A creation returns the ARN; the encryption calls take it as their path parameter.
  const arnValue = tamper
    ? pick(e.data.requestParameters, 'tableBucketARN', 'tableBucketArn', 'TableBucketArn', 'arn')
    : pick(e.data.responseElements, 'arn', 'Arn', 'tableBucketARN', 'TableBucketArn');
  let name = typeof named === 'string' ? named : undefined;
  if (typeof arnValue === 'string') {
    const parts = parseTableBucketArn(arnValue);
    // The ARN must describe the very call the event reports; never trust one that does not.
    if (
      !parts ||
      parts.region !== region ||
      parts.account !== account ||
      (name !== undefined && name !== parts.name)
    )
      return {
        kind: 'rejected',
        code: 'InvalidEvent',
        reason: 'responseElements.arn does not match the event',
        ...known,
      };
    name = parts.name;
  }
  if (name === undefined)
    return {
      kind: 'rejected',
      code: 'InvalidEvent',
      reason: 'no table bucket name or ARN in the event',
      ...known,
    };
  if (!TABLE_BUCKET_NAME.test(name))
    return {
      kind: 'rejected',
      code: 'InvalidEvent',
      reason: `not a valid table bucket name: ${JSON.stringify(name.slice(0, 80))}`,
      ...known,
    };
  const arn = tableBucketArn(region, account, name);
  if (tamper) return parseTamper(call.apiName, e.data.requestParameters, call, arn, name, config);
  // When the call happened: redeliveries are one piece of work, a later re-creation is new work.
  return {
    kind: 'targets',
    targets: [
      { eventId: e.id, account, region, resource: arn, arn, name, ...withObservedAt(call.observedAt) },
    ],
  };
}

/** DeleteTableBucketEncryption, or a Put of another configuration than the configured one. */
function parseTamper(
  name: string,
  params: Record<string, unknown> | null | undefined,
  call: Extract<ReturnType<typeof parseTrailCall>, { kind: 'call' }>,
  arn: string,
  bucket: string,
  config: Config | undefined,
): Parsed<TableBucketTarget> {
  const known = { ...call.known, resource: arn };
  const gate = tamperOf(
    tableBucketEncryptionConfig.of(config),
    name,
    'alicloud.tableBucketEncryption',
    call.callId,
  );
  if ('ignored' in gate) return { kind: 'ignored', reason: gate.ignored, ...known };
  const target: TableBucketTarget = {
    eventId: call.event.id,
    account: call.account,
    region: call.region,
    resource: arn,
    arn,
    name: bucket,
    // A tamper observed after the last completed run is new work; its redelivery is not.
    ...withObservedAt(call.observedAt),
    tamper: gate.tamper,
  };
  const asked = name === 'PutTableBucketEncryption' ? requestedConfiguration(params) : undefined;
  if (asked !== undefined && config !== undefined) {
    const desire = desireFor(target, config);
    if (desire.kind === 'desired' && evaluateState(asked, desire.desired).kind === 'compliant')
      return { kind: 'ignored', reason: setsConfiguredState(name, desire.key), ...known };
  }
  return { kind: 'targets', targets: [target] };
}

// ------------------------------------------------------------------------------------------------
// desire / evaluate (pure)
// ------------------------------------------------------------------------------------------------

export function desireFor(target: TableBucketTarget, config: Config): Desire<TableBucketDesired> {
  const section = tableBucketEncryptionConfig.of(config);
  if (!section) return { kind: 'off' };
  const pattern = excludedBy(target.name, section.exclude);
  if (pattern !== undefined) return { kind: 'excluded', reason: `${target.name} matches exclude ${pattern}` };
  const desired: TableBucketDesired =
    section.sseAlgorithm === 'KMS' && section.kmsKeyArn
      ? { sseAlgorithm: 'KMS', kmsKeyArn: section.kmsKeyArn }
      : { sseAlgorithm: section.sseAlgorithm };
  return {
    kind: 'desired',
    desired,
    key: desired.kmsKeyArn ? `KMS:${desired.kmsKeyArn}` : desired.sseAlgorithm,
  };
}

/** Compliant when the algorithm matches and, for KMS, the key does too. No config at all is a write. */
export function evaluateState(state: TableBucketState, desired: TableBucketDesired): Verdict {
  if (state.sseAlgorithm !== desired.sseAlgorithm) return { kind: 'write' };
  if (desired.sseAlgorithm === 'KMS' && (state.kmsKeyArn ?? '') !== (desired.kmsKeyArn ?? ''))
    return { kind: 'write' };
  return { kind: 'compliant' };
}

// ------------------------------------------------------------------------------------------------
// the remediator
// ------------------------------------------------------------------------------------------------

export function createRemediator(
  options: TableBucketRemediatorOptions = {},
): Remediator<TableBucketTarget, TableBucketDesired, TableBucketState> {
  const credentials = options.credentials ?? (() => credentialsFrom(undefined, options.env));
  const clientFor = perRegion(
    (region): OssTablesClient =>
      options.client?.(region) ??
      createOssTablesClient({ region, credentials, ...(options.env ? { env: options.env } : {}) }),
  );

  /** One ListTableBuckets page (up to 1,000 buckets); the cursor is its continuationToken. */
  async function listPage(
    region: string,
    _config: Config,
    cursor?: string,
  ): Promise<ListPage<TableBucketTarget>> {
    const page = await clientFor(region).listTableBuckets({
      maxBuckets: 1000,
      ...(cursor ? { continuationToken: cursor } : {}),
    });
    const targets: TableBucketTarget[] = [];
    for (const bucket of page.tableBuckets) {
      const parts = parseTableBucketArn(bucket.arn);
      // Only buckets of this region whose ARN is well-formed become targets.
      if (!parts || parts.region !== region) continue;
      const arn = tableBucketArn(parts.region, parts.account, parts.name);
      targets.push({
        eventId: `sweep:${arn}`,
        account: parts.account,
        region,
        resource: arn,
        arn,
        name: parts.name,
      });
    }
    return { targets, ...(page.continuationToken ? { next: page.continuationToken } : {}) };
  }

  return {
    id: FUNCTION_ID,
    owns: (event) => isActionTrailCall(event, TRAIL_EVENTS),
    parse: (event, config) => parseEvent(event, config),
    desire: desireFor,
    evaluate: (state, desired) => evaluateState(state, desired),
    classify: (error): RemediationError => classifyOssTablesError(error),

    async read(target): Promise<Observed<TableBucketState>> {
      return { kind: 'found', state: await clientFor(target.region).getTableBucketEncryption(target.arn) };
    },

    async apply(target, desired) {
      await clientFor(target.region).putTableBucketEncryption(target.arn, desired);
    },

    listPage,
    list: listAll(listPage),
  };
}
