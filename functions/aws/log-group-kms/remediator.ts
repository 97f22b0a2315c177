/**
 * aws.log-group-kms — every new CloudWatch Logs log group encrypted with the configured KMS key.
 *
 * Trigger: CloudTrail `CreateLogGroup` (logs.amazonaws.com) delivered by EventBridge, source
 * `aws.logs`, detail-type "AWS API Call via CloudTrail". Tamper events (`enforce: "always"`, the
 * default): `DisassociateKmsKey`, and `AssociateKmsKey` with a key other than the configured one;
 * both restore the configured key, at most `maxRestoresPerHour` times an hour. An AssociateKmsKey
 * with the configured key (atrest's own write, typically) ends `ignored` without a read.
 * Calls: CloudWatch Logs `AssociateKmsKey` (the write); state read with `DescribeLogGroups`
 * by exact `logGroupIdentifiers: [name]` — never `logGroupNamePrefix`, which would also match
 * `/foo-bar` for `/foo`.
 *
 * parse / desire / evaluate are pure and exported for tests; read / apply / list do the I/O.
 */
import {
  AssociateKmsKeyCommand,
  type CloudWatchLogsClient,
  DescribeLogGroupsCommand,
} from '@aws-sdk/client-cloudwatch-logs';
import * as z from 'zod/mini';
import { type Config, excludedBy } from '#core/config';
import { ConfigError, UnexpectedResponseError } from '#core/errors';
import { once } from '#core/once';
import type { Desire, ListPage, Parsed, Remediator, Target, Verdict } from '#core/remediator';
import { listAll } from '#core/sweep';
import { setsConfiguredState, tamperOf } from '#core/tamper';
import { AWS_ACCOUNT, AWS_REGION, formatIssues, observedAtOf, withObservedAt } from '#core/validation';
import { logsClient } from '../clients.ts';
import { classifyAwsError } from '../errors.ts';
import { logGroupKmsConfig } from './config.ts';
import { DETAIL_TYPE, EVENT_NAMES, SOURCE } from './events.ts';

export const FUNCTION_ID = 'aws.log-group-kms' as const;

/** CloudWatch Logs' own constraint on log group names (CreateLogGroup API reference). */
export const LOG_GROUP_NAME = /^[.\-_/#A-Za-z0-9]{1,512}$/;

// The events it owns live in events.ts (read by its manifest without loading this module).
export { DETAIL_TYPE, EVENT_NAMES, SOURCE };

export interface LogGroupTarget extends Target {
  logGroupName: string;
  /** The key the creator passed to CreateLogGroup, if any. Informational: state is read anyway. */
  requestedKmsKeyId?: string;
}

export interface LogGroupState {
  /** The associated key ARN; absent when the group uses CloudWatch Logs' own encryption. */
  kmsKeyId?: string;
}

/** The key ARN to associate. */
export type DesiredKey = string;

// Loose objects: CloudTrail and EventBridge add fields over time; we validate only what we read.
const CloudTrailDetail = once(() =>
  z.looseObject({
    eventSource: z.optional(z.string()),
    eventName: z.optional(z.string()),
    eventID: z.optional(z.string()),
    eventTime: z.optional(z.string()),
    awsRegion: z.optional(z.string().check(z.regex(AWS_REGION))),
    recipientAccountId: z.optional(z.string().check(z.regex(AWS_ACCOUNT))),
    errorCode: z.optional(z.nullable(z.string())),
    errorMessage: z.optional(z.nullable(z.string())),
    requestParameters: z.optional(z.nullable(z.record(z.string(), z.unknown()))),
  }),
);

export const EventBridgeEnvelope = once(() =>
  z.looseObject({
    version: z.optional(z.string()),
    id: z.string().check(z.minLength(1), z.maxLength(256)),
    'detail-type': z.string(),
    source: z.string(),
    account: z.optional(z.string().check(z.regex(AWS_ACCOUNT))),
    time: z.optional(z.string()),
    region: z.optional(z.string().check(z.regex(AWS_REGION))),
    resources: z.optional(z.array(z.unknown())),
    detail: CloudTrailDetail(),
  }),
);

const CreateLogGroupParameters = once(() =>
  z.looseObject({
    logGroupName: z.string().check(z.regex(LOG_GROUP_NAME)),
    kmsKeyId: z.optional(z.string().check(z.minLength(1), z.maxLength(256))),
  }),
);

/**
 * Associate/DisassociateKmsKey name the group by `logGroupName` or by `resourceIdentifier` (a
 * log-group ARN, or `…:query-result:*` for Logs Insights results, which are not ours), never both.
 */
const KmsKeyCallParameters = once(() =>
  z.looseObject({
    logGroupName: z.optional(z.string().check(z.regex(LOG_GROUP_NAME))),
    resourceIdentifier: z.optional(z.string().check(z.minLength(1), z.maxLength(2048))),
    kmsKeyId: z.optional(z.string().check(z.minLength(1), z.maxLength(2048))),
  }),
);

const LOG_GROUP_ARN =
  /^arn:aws[a-z-]*:logs:([a-z0-9-]+):(\d{12}):log-group:([.\-_/#A-Za-z0-9]{1,512})(:\*)?$/;

/** Event content quoted in a reason is cut here: a hostile event must not flood logs and NDJSON lines. */
const quote = (value: unknown): string => String(value).slice(0, 128);

/** At most this many validation issues in a rejection reason: enough to fix the event, never a flood. */
const MAX_ISSUES = 5;

const reasonOf = (issues: Parameters<typeof formatIssues>[0], root: string): string => {
  const lines = formatIssues(issues, root);
  const extra = lines.length > MAX_ISSUES ? ` (+${lines.length - MAX_ISSUES} more)` : '';
  return lines.slice(0, MAX_ISSUES).join('; ') + extra;
};

/** The ARN partition of a region (aws-cn for China, aws-us-gov for GovCloud, the ISO partitions). */
export function partitionOf(region: string): string {
  if (region.startsWith('cn-')) return 'aws-cn';
  if (region.startsWith('us-gov-')) return 'aws-us-gov';
  if (region.startsWith('us-isob-')) return 'aws-iso-b';
  if (region.startsWith('us-iso-')) return 'aws-iso';
  if (region.startsWith('eu-isoe-')) return 'aws-iso-e';
  if (region.startsWith('us-isof-')) return 'aws-iso-f';
  return 'aws';
}

/** The log group ARN without the `:*` suffix DescribeLogGroups' `arn` carries. */
export function logGroupArn(region: string, account: string, name: string): string {
  return `arn:${partitionOf(region)}:logs:${region}:${account}:log-group:${name}`;
}

/** Routing: an EventBridge CloudTrail event from CloudWatch Logs. */
export function ownsEvent(event: unknown): boolean {
  if (typeof event !== 'object' || event === null) return false;
  const e = event as Record<string, unknown>;
  return e.source === SOURCE && e['detail-type'] === DETAIL_TYPE;
}

/**
 * Validates the delivered event into one target, or says why not. Pure; never throws. With the
 * config, tamper events honour `enforce` and an AssociateKmsKey with the configured key is ignored.
 */
export function parseEvent(event: unknown, config?: Config): Parsed<LogGroupTarget> {
  const envelope = EventBridgeEnvelope().safeParse(event);
  if (!envelope.success) {
    const id = (event as { id?: unknown } | null)?.id;
    return {
      kind: 'rejected',
      code: 'InvalidEvent',
      reason: reasonOf(envelope.error.issues, 'event'),
      ...(typeof id === 'string' && id.length <= 256 ? { eventId: id } : {}),
    };
  }
  const e = envelope.data;
  const d = e.detail;
  const region = d.awsRegion ?? e.region;
  const account = e.account ?? d.recipientAccountId;
  const facts = {
    eventId: e.id,
    ...(region !== undefined ? { region } : {}),
    ...(account !== undefined ? { account } : {}),
  };

  if (e.source !== SOURCE || e['detail-type'] !== DETAIL_TYPE)
    return { kind: 'ignored', reason: `not a CloudTrail API call from ${SOURCE}`, ...facts };
  const tamperName = EVENT_NAMES.tamper.find((n) => n === d.eventName);
  if (d.eventSource !== 'logs.amazonaws.com' || (d.eventName !== 'CreateLogGroup' && !tamperName))
    return {
      kind: 'ignored',
      reason: `not ${[...EVENT_NAMES.creation, ...EVENT_NAMES.tamper].join(', ')} (${quote(d.eventSource)} ${quote(d.eventName)})`,
      ...facts,
    };
  if (tamperName !== undefined && (d.errorCode === undefined || d.errorCode === null || d.errorCode === ''))
    return parseTamper(
      tamperName,
      d.requestParameters,
      { eventId: e.id, region, account, callId: d.eventID, observedAt: observedAtOf(d.eventTime, e.time) },
      config,
    );
  // A failed call (e.g. ResourceAlreadyExistsException) created or changed nothing.
  if (d.errorCode !== undefined && d.errorCode !== null && d.errorCode !== '')
    return {
      kind: 'ignored',
      reason: `${quote(d.eventName)} failed with ${quote(d.errorCode)}; nothing was created or changed`,
      ...facts,
    };

  const params = CreateLogGroupParameters().safeParse(d.requestParameters);
  if (!params.success)
    return {
      kind: 'rejected',
      code: 'InvalidEvent',
      reason: reasonOf(params.error.issues, 'event.detail.requestParameters'),
      ...facts,
    };
  if (region === undefined)
    return {
      kind: 'rejected',
      code: 'InvalidEvent',
      reason: 'event: no region (detail.awsRegion or region)',
      ...facts,
    };
  if (account === undefined)
    return {
      kind: 'rejected',
      code: 'InvalidEvent',
      reason: 'event: no account (account or detail.recipientAccountId)',
      ...facts,
    };

  const name = params.data.logGroupName;
  const requested = params.data.kmsKeyId;
  return {
    kind: 'targets',
    targets: [
      {
        eventId: e.id,
        account,
        region,
        resource: logGroupArn(region, account, name),
        logGroupName: name,
        // When the call happened: every delivery (and replay) of this creation is the work of the
        // run that began after it; a group deleted and re-created later is new work.
        ...withObservedAt(observedAtOf(d.eventTime, e.time)),
        ...(requested !== undefined ? { requestedKmsKeyId: requested } : {}),
      },
    ],
  };
}

interface CallFacts {
  eventId: string;
  region: string | undefined;
  account: string | undefined;
  /** CloudTrail's eventID of the call. */
  callId: string | undefined;
  /** When the call happened (`detail.eventTime`, else the envelope's `time`). */
  observedAt: string | undefined;
}

/** DisassociateKmsKey / AssociateKmsKey: which group, and whether it weakens the encryption. */
function parseTamper(
  name: (typeof EVENT_NAMES.tamper)[number],
  requestParameters: unknown,
  call: CallFacts,
  config: Config | undefined,
): Parsed<LogGroupTarget> {
  const facts = {
    eventId: call.eventId,
    ...(call.region !== undefined ? { region: call.region } : {}),
    ...(call.account !== undefined ? { account: call.account } : {}),
  };
  const reject = (reason: string): Parsed<LogGroupTarget> => ({
    kind: 'rejected',
    code: 'InvalidEvent',
    reason,
    ...facts,
  });
  const params = KmsKeyCallParameters().safeParse(requestParameters);
  if (!params.success) return reject(reasonOf(params.error.issues, 'event.detail.requestParameters'));
  let groupName = params.data.logGroupName;
  const identifier = params.data.resourceIdentifier;
  if (groupName === undefined && identifier !== undefined) {
    const arn = LOG_GROUP_ARN.exec(identifier);
    if (!arn) {
      if (/^arn:aws[a-z-]*:logs:[^:]*:\d{12}:query-result:/.test(identifier))
        return {
          kind: 'ignored',
          reason: `${name} on Logs Insights query results, not a log group`,
          ...facts,
        };
      return reject(
        `event.detail.requestParameters.resourceIdentifier: not a log group ARN (${quote(identifier)})`,
      );
    }
    // The ARN must describe the call's own account and region; never act elsewhere on its word.
    if (
      (call.region !== undefined && arn[1] !== call.region) ||
      (call.account !== undefined && arn[2] !== call.account)
    )
      return reject(
        'event.detail.requestParameters.resourceIdentifier: another account or region than the event',
      );
    groupName = arn[3];
  }
  if (groupName === undefined)
    return reject('event.detail.requestParameters: no logGroupName or resourceIdentifier');
  if (call.region === undefined) return reject('event: no region (detail.awsRegion or region)');
  if (call.account === undefined) return reject('event: no account (account or detail.recipientAccountId)');
  const resource = logGroupArn(call.region, call.account, groupName);
  const gate = tamperOf(logGroupKmsConfig.of(config), name, 'aws.logGroupKms', call.callId || call.eventId);
  if ('ignored' in gate) return { kind: 'ignored', reason: gate.ignored, ...facts, resource };
  const target: LogGroupTarget = {
    eventId: call.eventId,
    account: call.account,
    region: call.region,
    resource,
    logGroupName: groupName,
    // A tamper observed after the creation's run is new work (not swallowed by its record); a
    // redelivery of this very call is a duplicate.
    ...withObservedAt(call.observedAt),
    tamper: gate.tamper,
  };
  if (name === 'AssociateKmsKey' && config !== undefined) {
    const desire = desireFor(target, config);
    if (desire.kind === 'desired' && params.data.kmsKeyId === desire.desired)
      return {
        kind: 'ignored',
        reason: setsConfiguredState(name, `key ${desire.desired}`),
        ...facts,
        resource,
      };
  }
  return { kind: 'targets', targets: [target] };
}

/** The region a key ARN lives in: `arn:<partition>:kms:<region>:<account>:key/<id>`. */
const regionOfKey = (keyArn: string): string | undefined => keyArn.split(':')[3];

/** The key the config wants for this log group, or why none applies. Pure. */
export function desireFor(target: LogGroupTarget, config: Config): Desire<DesiredKey> {
  const section = logGroupKmsConfig.of(config);
  if (!section) return { kind: 'off' };
  const pattern = excludedBy(target.logGroupName, section.exclude);
  if (pattern !== undefined)
    return {
      kind: 'excluded',
      reason: `name matches aws.logGroupKms.exclude pattern ${JSON.stringify(pattern)}`,
    };
  const key = section.byRegion?.[target.region] ?? section.kmsKeyArn;
  // A KMS key is regional: AssociateKmsKey with another region's key can only fail.
  if (regionOfKey(key) !== target.region)
    return {
      kind: 'excluded',
      reason: `no key for region ${target.region}; set aws.logGroupKms.byRegion.${target.region}`,
    };
  return { kind: 'desired', desired: key, key };
}

/**
 * Compliant only with exactly the configured key. A group encrypted with a different key is
 * rewritten: AssociateKmsKey replaces the association (new data uses the configured key; data
 * already written stays readable with the old key as long as that key stays usable).
 */
export function evaluateState(state: LogGroupState, desired: DesiredKey): Verdict {
  return state.kmsKeyId === desired ? { kind: 'compliant' } : { kind: 'write' };
}

/** The account in a DescribeLogGroups `arn` (`arn:aws:logs:<region>:<account>:log-group:<name>:*`). */
const accountOfArn = (arn: string | undefined): string | undefined => {
  const account = arn?.split(':')[4];
  return account !== undefined && AWS_ACCOUNT.test(account) ? account : undefined;
};

export interface LogGroupKmsOptions {
  /** The CloudWatch Logs client of a region. Default: `logsClient` (one cached client per region). */
  client?: (region: string) => CloudWatchLogsClient;
  /** The account `list()` reports; default: taken from each log group's ARN (no STS call). */
  accountId?: string;
  /**
   * Accepted so every remediator factory takes the same options (the CLI passes it); unused here:
   * the AWS SDK reads its credentials and `AWS_ENDPOINT_URL_*` from the process environment.
   */
  env?: Record<string, string | undefined>;
}

/**
 * What DescribeLogGroups must answer: CloudWatch Logs returns `logGroups` (empty when nothing
 * matches) on every success, so a body without it is no answer about the group.
 */
const DescribeAnswer = once(() =>
  z.looseObject({
    logGroups: z.array(
      z.looseObject({
        logGroupName: z.optional(z.string()),
        kmsKeyId: z.optional(z.string()),
        arn: z.optional(z.string()),
        logGroupArn: z.optional(z.string()),
      }),
    ),
    nextToken: z.optional(z.string()),
  }),
);

/** The SDK's output checked against `schema`; a miss is a retryable UnexpectedResponse with the request id. */
function answerOf<T>(
  schema: z.ZodMiniType<T>,
  out: { $metadata?: { requestId?: string } },
  action: string,
): T {
  const result = schema.safeParse(out);
  if (result.success) return result.data;
  const requestId = out.$metadata?.requestId;
  throw new UnexpectedResponseError(
    `${action}: the answer lacks what the read needs (${formatIssues(result.error.issues, 'body').slice(0, 3).join('; ')})`,
    requestId !== undefined ? { requestId } : {},
  );
}

export function createRemediator(
  options: LogGroupKmsOptions = {},
): Remediator<LogGroupTarget, DesiredKey, LogGroupState> {
  const client = options.client ?? logsClient;

  /** One DescribeLogGroups page (50 groups); the cursor is its `nextToken`. */
  async function listPage(
    region: string,
    _config: Config,
    cursor?: string,
  ): Promise<ListPage<LogGroupTarget>> {
    if (!AWS_REGION.test(region))
      throw new ConfigError([`region: ${JSON.stringify(region)} is not a region`]);
    const page = answerOf(
      DescribeAnswer(),
      await client(region).send(
        new DescribeLogGroupsCommand({ limit: 50, ...(cursor ? { nextToken: cursor } : {}) }),
      ),
      'DescribeLogGroups',
    );
    const targets: LogGroupTarget[] = [];
    for (const group of page.logGroups) {
      const name = group.logGroupName;
      if (name === undefined || !LOG_GROUP_NAME.test(name)) continue;
      const account = options.accountId ?? accountOfArn(group.arn ?? group.logGroupArn);
      if (account === undefined)
        throw new ConfigError([`accountId: cannot tell the account of log group ${name}; pass accountId`]);
      targets.push({
        eventId: `sweep:${name}`,
        account,
        region,
        resource: logGroupArn(region, account, name),
        logGroupName: name,
      });
    }
    return { targets, ...(page.nextToken ? { next: page.nextToken } : {}) };
  }

  return {
    id: FUNCTION_ID,
    owns: ownsEvent,
    // When CreateLogGroup already carried the desired key, the engine still reads once: we trust
    // the state, not the event (the call may have been made with an alias, or changed since).
    parse: (event, config) => parseEvent(event, config),
    desire: desireFor,

    async read(target) {
      const out = await client(target.region).send(
        new DescribeLogGroupsCommand({ logGroupIdentifiers: [target.logGroupName] }),
      );
      // `{}` would read as "no such group" and end `gone`: only a real list (maybe empty) says so.
      const page = answerOf(DescribeAnswer(), out, 'DescribeLogGroups');
      const group = page.logGroups.find((g) => g.logGroupName === target.logGroupName);
      if (!group) return { kind: 'gone' };
      return { kind: 'found', state: group.kmsKeyId !== undefined ? { kmsKeyId: group.kmsKeyId } : {} };
    },

    evaluate: (state, desired) => evaluateState(state, desired),

    async apply(target, desired) {
      await client(target.region).send(
        new AssociateKmsKeyCommand({ logGroupName: target.logGroupName, kmsKeyId: desired }),
      );
    },

    classify: classifyAwsError,

    listPage,
    list: listAll(listPage),
  };
}
