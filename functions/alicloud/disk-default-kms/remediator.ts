/**
 * alicloud.disk-default-kms — the account-level default disk encryption key of each region (what
 * every new ECS/EBS disk is encrypted with) is the configured KMS key.
 *
 * Triggers: ActionTrail `EnableDiskEncryptionByDefault` and `ModifyDiskDefaultKMSKeyId` (someone
 * changed the default: drift), as API calls, console operations or service events (events.ts),
 * delivered as EventBridge CloudEvents, bare trail records or records of an SLS-trigger range —
 * whether ECS attributes them to `ecs:` or `ebs:` is UNCONFIRMED, so routing keys on the type
 * suffix `:ActionTrail:<eventType>` and the event name — plus an FC timer trigger (`{"triggerTime","triggerName","payload"}`) that
 * checks every configured region (`regions`, else the keys of `byRegion`).
 * Reads: ECS `DescribeDiskEncryptionByDefaultStatus` (`Encrypted`) then, when encrypted,
 * `DescribeDiskDefaultKMSKeyId` (`KMSKeyId`): one logical read is up to two API calls.
 * Writes: ECS `ModifyDiskDefaultKMSKeyId` (query `RegionId`, `KMSKeyId`); with `enableIfDisabled`,
 * `EnableDiskEncryptionByDefault` first.
 *
 * Resource id: `acs:ecs:<region>:<account>:disk-default-encryption`. The setting is one per
 * account and region and has no id of its own; this ARN-shaped name keeps outcome lines, logs and
 * idempotency keys unambiguous across accounts and regions (the suffix is ours, not an ECS type).
 *
 * Idempotency: events and timer ticks share one key per account and region, so a tick and a
 * drift event at once make one write (the other waits on the lock). Each carries when it was
 * observed (`eventTime`, a tick's `triggerTime`): a drift observed after the last completed run
 * began is new work even on a resource done before, a re-delivery of the same event is not. Our
 * own Modify produces such an event too: it ends `compliant` after one read, with no write.
 * Caveat (API reference): "Only Alibaba Cloud accounts can call" ModifyDiskDefaultKMSKeyId; if
 * that holds for RAM roles too, the write fails `Forbidden*` → `failed`, and the outcome's message
 * says so with the fix (explainModifyDenied); `atrest doctor` warns first.
 */
import * as z from 'zod/mini';
import type { Config } from '#core/config';
import { DeniedError, GoneError, InvalidError, type RemediationError } from '#core/errors';
import { once } from '#core/once';
import type { Desire, EventFacts, Parsed, Remediator, Target, Verdict } from '#core/remediator';
import { tamperOf } from '#core/tamper';
import { ALICLOUD_REGION, formatIssues, observedAtOf, withObservedAt } from '#core/validation';
import { type AlicloudCredentials, credentialsFrom } from '../clients.ts';
import {
  ActionTrailCloudEvent,
  accountOf,
  apiNameOf,
  asTrailCloudEvent,
  isActionTrailCall,
  pick,
  regionOf,
  type TrailEventType,
  trailEventType,
} from '../events.ts';
import { type AlicloudApi, API_VERSIONS, answerOf, classifyAlicloud, createAlicloudApi } from '../openapi.ts';
import { type DiskDefaultKmsConfig, diskDefaultKmsConfig } from './config.ts';
import { TAMPER_EVENTS, TRAIL_EVENTS } from './events.ts';
import { MODIFY_ACCOUNT_ONLY } from './permissions.ts';

export const FUNCTION_ID = 'alicloud.disk-default-kms' as const;
export const EVENT_NAMES = TRAIL_EVENTS.names;

export type DiskTarget = Target;

export interface DiskDesired {
  kmsKeyId: string;
  enableIfDisabled: boolean;
}

export interface DiskState {
  encrypted: boolean;
  /** The current default key; only read when default encryption is on. */
  kmsKeyId?: string;
}

export interface DiskRemediatorOptions {
  /** Asked before every request (FC's STS credentials rotate). Default: the standard environment variables. */
  credentials?: () => AlicloudCredentials;
  /** Endpoint overrides are read here. Default: process.env. */
  env?: Record<string, string | undefined>;
  /** Account for timer and sweep targets (they name none). Default: $FC_ACCOUNT_ID, else ''. */
  account?: string;
  /** The signed-call layer; tests may substitute it. Default: createAlicloudApi. */
  api?: AlicloudApi;
}

export const resourceOf = (region: string, account: string): string =>
  `acs:ecs:${region}:${account}:disk-default-encryption`;

// ------------------------------------------------------------------------------------------------
// parse (pure)
// ------------------------------------------------------------------------------------------------

const ISO_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$/;

/** The FC timer trigger's event. */
export const TimerEvent = once(() =>
  z.looseObject({
    triggerTime: z.string().check(z.regex(ISO_TIME)),
    triggerName: z.string().check(z.minLength(1), z.maxLength(128)),
    payload: z.optional(z.string().check(z.maxLength(4096))),
  }),
);

/** Routing check for the timer: its two fields, and no CloudEvent envelope. */
export function isTimerEvent(event: unknown): boolean {
  if (typeof event !== 'object' || event === null) return false;
  const e = event as Record<string, unknown>;
  return (
    typeof e.triggerTime === 'string' &&
    typeof e.triggerName === 'string' &&
    !('specversion' in e || 'data' in e)
  );
}

const facts = (event: unknown): EventFacts => {
  if (typeof event !== 'object' || event === null) return {};
  const id = (event as { id?: unknown }).id;
  return typeof id === 'string' && id.length <= 256 ? { eventId: id } : {};
};

/** The regions a timer tick checks: `regions`, else the keys of `byRegion`. */
export function configuredRegions(section: DiskDefaultKmsConfig): string[] {
  return section.regions ?? Object.keys(section.byRegion ?? {});
}

export function parseEvent(delivered: unknown, config: Config, account: string): Parsed<DiskTarget> {
  if (isTimerEvent(delivered)) return parseTimer(delivered, config, account);
  // A bare trail record gets the envelope EventBridge would have given it.
  const event = asTrailCloudEvent(delivered);
  const base = facts(event);
  const result = ActionTrailCloudEvent().safeParse(event);
  if (!result.success)
    return {
      kind: 'rejected',
      code: 'InvalidEvent',
      reason: `neither an ActionTrail CloudEvent nor a timer event: ${formatIssues(result.error.issues, 'event').slice(0, 5).join('; ')}`,
      ...base,
    };
  const e = result.data;
  const params = e.data.requestParameters;
  const paramRegion = pick(params, 'RegionId', 'regionId');
  const region =
    regionOf(e) ??
    (typeof paramRegion === 'string' && ALICLOUD_REGION.test(paramRegion) ? paramRegion : undefined);
  const eventAccount = accountOf(e);
  const known = {
    eventId: e.id,
    ...(region !== undefined ? { region } : {}),
    ...(eventAccount !== undefined ? { account: eventAccount } : {}),
    ...(region !== undefined && eventAccount !== undefined
      ? { resource: resourceOf(region, eventAccount) }
      : {}),
  };
  const name = apiNameOf(trailEventType(e.type) as TrailEventType, e.data, TRAIL_EVENTS);
  if (name === undefined)
    return {
      kind: 'ignored',
      reason: `not an ${EVENT_NAMES.join(' or ')} event (${e.data.eventName.slice(0, 128)})`,
      ...known,
    };
  if (e.data.errorCode)
    return {
      kind: 'ignored',
      reason: `${name} failed (${e.data.errorCode.slice(0, 128)}): nothing changed`,
      ...known,
    };
  if (region === undefined)
    return {
      kind: 'rejected',
      code: 'InvalidEvent',
      reason: 'no region (data.acsRegion / aliyunregionid / RegionId)',
      ...known,
    };
  if (eventAccount === undefined)
    return {
      kind: 'rejected',
      code: 'InvalidEvent',
      reason: 'no account (userIdentity.accountId / aliyunaccountid)',
      ...known,
    };
  const callId = e.data.eventId && e.data.eventId !== '' ? e.data.eventId : e.id;
  const resource = resourceOf(region, eventAccount);
  let tamper: Target['tamper'];
  if ((TAMPER_EVENTS.names as readonly string[]).includes(name)) {
    const gate = tamperOf(diskDefaultKmsConfig.of(config), name, 'alicloud.diskDefaultKms', callId);
    if ('ignored' in gate) return { kind: 'ignored', reason: gate.ignored, ...known };
    tamper = gate.tamper;
  }
  return {
    kind: 'targets',
    targets: [
      {
        eventId: e.id,
        account: eventAccount,
        region,
        resource,
        ...withObservedAt(observedAtOf(e.data.eventTime, e.time)),
        ...(tamper ? { tamper } : {}),
      },
    ],
  };
}

function parseTimer(event: unknown, config: Config, account: string): Parsed<DiskTarget> {
  const result = TimerEvent().safeParse(event);
  if (!result.success)
    return {
      kind: 'rejected',
      code: 'InvalidEvent',
      reason: `not a valid timer event: ${formatIssues(result.error.issues, 'event').slice(0, 5).join('; ')}`,
    };
  const { triggerName, triggerTime } = result.data;
  const eventId = `timer:${triggerName}@${triggerTime}`;
  const section = diskDefaultKmsConfig.of(config);
  if (!section) return { kind: 'ignored', reason: `${FUNCTION_ID} is not configured`, eventId };
  const regions = configuredRegions(section);
  if (regions.length === 0)
    return {
      kind: 'ignored',
      reason: 'no region to check: set alicloud.diskDefaultKms.regions or byRegion',
      eventId,
    };
  // Observed when the tick fired: work completed before it is checked again, a retried tick is not.
  return {
    kind: 'targets',
    targets: regions.map((region) => ({
      eventId,
      account,
      region,
      resource: resourceOf(region, account),
      ...withObservedAt(observedAtOf(triggerTime)),
    })),
  };
}

// ------------------------------------------------------------------------------------------------
// desire / evaluate / classify (pure)
// ------------------------------------------------------------------------------------------------

export function desireFor(target: DiskTarget, config: Config): Desire<DiskDesired> {
  const section = diskDefaultKmsConfig.of(config);
  if (!section) return { kind: 'off' };
  // A KMS key lives in one region: a per-region key wins over the default one.
  const kmsKeyId = section.byRegion?.[target.region] ?? section.kmsKeyId;
  const enableIfDisabled = section.enableIfDisabled ?? false;
  return {
    kind: 'desired',
    desired: { kmsKeyId, enableIfDisabled },
    key: enableIfDisabled ? `${kmsKeyId}+enable` : kmsKeyId,
  };
}

export function evaluateState(state: DiskState, desired: DiskDesired, target?: DiskTarget): Verdict {
  if (!state.encrypted)
    return desired.enableIfDisabled
      ? { kind: 'write' }
      : {
          kind: 'excluded',
          reason:
            target?.tamper?.event === 'DisableDiskEncryptionByDefault'
              ? 'DisableDiskEncryptionByDefault switched default disk encryption off; atrest turns it back on only with alicloud.diskDefaultKms.enableIfDisabled'
              : 'default disk encryption is off; set enableIfDisabled',
        };
  return state.kmsKeyId === desired.kmsKeyId ? { kind: 'compliant' } : { kind: 'write' };
}

/** The generic mapping, except that an account-level setting cannot be "gone". */
export function classifyDiskError(error: unknown): RemediationError {
  const classified = classifyAlicloud(error);
  // `InvalidDefaultEncryption.NotFound` means default encryption is off (e.g. switched off between
  // our read and our write), and a region ECS does not serve this in is a bad request, not a denial.
  if (classified instanceof GoneError || /RegionNotSupport/.test(classified.code))
    return new InvalidError(
      classified.message,
      {
        code: classified.code,
        ...(classified.requestId !== undefined ? { requestId: classified.requestId } : {}),
        ...(classified.status !== undefined ? { status: classified.status } : {}),
      },
      { cause: error },
    );
  return classified;
}

/**
 * A permission failure of the Modify write, told as what it most likely is, with the fix. Other
 * errors pass through unchanged. Pure.
 */
export function explainModifyDenied(
  error: RemediationError,
  region: string,
  kmsKeyId: string,
): RemediationError {
  // Not the caller's standing: the key's own authorisation, a whitelist, or bad credentials.
  if (!(error instanceof DeniedError) || /KMS|WhiteList|AccessKey|Signature|SecurityToken/i.test(error.code))
    return error;
  const fix = `fix: set the key once with the account's own credentials (aliyun ecs ModifyDiskDefaultKMSKeyId --RegionId ${region} --KMSKeyId ${kmsKeyId}); this function then keeps checking it and reports drift, or grant the role AliyunECSFullAccess if your account lets RAM identities call it`;
  return new DeniedError(
    `${error.message} — ${MODIFY_ACCOUNT_ONLY}; ${fix}`,
    {
      code: error.code,
      ...(error.requestId !== undefined ? { requestId: error.requestId } : {}),
      ...(error.status !== undefined ? { status: error.status } : {}),
    },
    { cause: error },
  );
}

// ------------------------------------------------------------------------------------------------
// the remediator
// ------------------------------------------------------------------------------------------------

/** DescribeDiskEncryptionByDefaultStatus: `Encrypted` is the whole point of the answer. */
const StatusAnswer = once(() =>
  z.looseObject({
    RequestId: z.optional(z.string()),
    Encrypted: z.union([z.boolean(), z.enum(['true', 'false'])]),
  }),
);

/**
 * DescribeDiskDefaultKMSKeyId: `KMSKeyId` may be empty (the service key), so the request id —
 * present in every ECS answer — is what tells an answer from an empty body.
 */
const KeyAnswer = once(() =>
  z.looseObject({
    RequestId: z.string().check(z.minLength(1)),
    KMSKeyId: z.optional(z.nullable(z.string())),
  }),
);

export function createRemediator(
  options: DiskRemediatorOptions = {},
): Remediator<DiskTarget, DiskDesired, DiskState> {
  const env = options.env ?? process.env;
  const credentials = options.credentials ?? (() => credentialsFrom(undefined, env));
  const account = options.account ?? env.FC_ACCOUNT_ID ?? '';
  const api = options.api ?? createAlicloudApi({ credentials, env });
  const call = (region: string, action: string, extra: Record<string, string> = {}) =>
    api.rpc('ECS', region, action, API_VERSIONS.ECS, { RegionId: region, ...extra });

  return {
    id: FUNCTION_ID,
    owns: (event) => isActionTrailCall(event, TRAIL_EVENTS) || isTimerEvent(event),
    parse: (event, config) => parseEvent(event, config, account),
    desire: desireFor,

    async read(target) {
      // `{}` would read as "encryption off" and end `excluded`: the answer must say which.
      const status = answerOf(
        StatusAnswer(),
        await call(target.region, 'DescribeDiskEncryptionByDefaultStatus'),
        'DescribeDiskEncryptionByDefaultStatus',
      );
      const encrypted = status.Encrypted === true || status.Encrypted === 'true';
      // No default key to read while encryption is off: one call instead of two.
      if (!encrypted) return { kind: 'found', state: { encrypted: false } };
      const key = answerOf(
        KeyAnswer(),
        await call(target.region, 'DescribeDiskDefaultKMSKeyId'),
        'DescribeDiskDefaultKMSKeyId',
      );
      const kmsKeyId = typeof key.KMSKeyId === 'string' && key.KMSKeyId !== '' ? key.KMSKeyId : undefined;
      return { kind: 'found', state: { encrypted: true, ...(kmsKeyId ? { kmsKeyId } : {}) } };
    },

    evaluate: (state, desired, target) => evaluateState(state, desired, target),

    async apply(target, desired, state) {
      if (!state.encrypted) {
        await call(target.region, 'EnableDiskEncryptionByDefault');
        // The engine retries apply() with this same state object: remember the enable already
        // happened so a retried Modify does not enable twice.
        state.encrypted = true;
      }
      try {
        await call(target.region, 'ModifyDiskDefaultKMSKeyId', { KMSKeyId: desired.kmsKeyId });
      } catch (error) {
        throw explainModifyDenied(classifyDiskError(error), target.region, desired.kmsKeyId);
      }
    },

    classify: classifyDiskError,

    async *list(region) {
      yield { eventId: `sweep:${region}`, account, region, resource: resourceOf(region, account) };
    },
  };
}
