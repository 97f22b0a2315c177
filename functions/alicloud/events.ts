/**
 * Alibaba Cloud EventBridge delivers ActionTrail records as CloudEvents 1.0: the envelope
 * (`id`, `source`, `type` = `<service>:ActionTrail:ApiCall`, `aliyunregionid`, `aliyunaccountid`, …)
 * and the ActionTrail record under `data`. The envelope is parsed once here; each function then
 * parses its own `requestParameters` / `responseElements`.
 */
import * as z from 'zod/mini';
import type { EventFacts } from '#core/remediator';
import {
  ALICLOUD_ACCOUNT,
  ALICLOUD_REGION,
  formatIssues,
  observedAtOf,
  withObservedAt,
} from '#core/validation';

const id = z.string().check(z.minLength(1), z.maxLength(256));

/** The ActionTrail record (loose: ActionTrail adds fields over time; we read only these). */
export const ActionTrailRecord = z.looseObject({
  eventId: z.optional(z.string().check(z.maxLength(256))),
  eventTime: z.optional(z.string().check(z.maxLength(64))),
  eventName: z.string().check(z.minLength(1), z.maxLength(128)),
  eventType: z.optional(z.string()),
  eventRW: z.optional(z.string()),
  serviceName: z.optional(z.string()),
  acsRegion: z.optional(z.string().check(z.regex(ALICLOUD_REGION))),
  requestId: z.optional(z.string()),
  errorCode: z.optional(z.nullable(z.string())),
  errorMessage: z.optional(z.nullable(z.string())),
  userIdentity: z.optional(
    z.looseObject({
      accountId: z.optional(z.string().check(z.regex(ALICLOUD_ACCOUNT))),
      type: z.optional(z.string()),
      principalId: z.optional(z.string()),
      userName: z.optional(z.string()),
    }),
  ),
  requestParameters: z.optional(z.nullable(z.record(z.string(), z.unknown()))),
  responseElements: z.optional(z.nullable(z.record(z.string(), z.unknown()))),
  referencedResources: z.optional(z.nullable(z.record(z.string(), z.array(z.string())))),
});

export const ActionTrailCloudEvent = z.looseObject({
  id,
  specversion: z.optional(z.string()),
  source: z.string().check(z.minLength(1), z.maxLength(256)),
  type: z
    .string()
    .check(z.regex(/^[A-Za-z0-9_-]+:ActionTrail:(ApiCall|ConsoleOperation|AliyunServiceEvent)$/)),
  subject: z.optional(z.string()),
  time: z.optional(z.string()),
  aliyunaccountid: z.optional(z.string().check(z.regex(ALICLOUD_ACCOUNT))),
  aliyunregionid: z.optional(z.string().check(z.regex(ALICLOUD_REGION))),
  data: ActionTrailRecord,
});

export type ActionTrailCloudEvent = z.infer<typeof ActionTrailCloudEvent>;
export type ActionTrailRecord = z.infer<typeof ActionTrailRecord>;

/** Routing check: an ActionTrail CloudEvent whose data.eventName is one of `names`. */
export function isActionTrailCall(event: unknown, names: readonly string[]): boolean {
  if (typeof event !== 'object' || event === null) return false;
  const e = event as { type?: unknown; data?: { eventName?: unknown } };
  return (
    typeof e.type === 'string' &&
    e.type.endsWith(':ActionTrail:ApiCall') &&
    typeof e.data?.eventName === 'string' &&
    names.includes(e.data.eventName)
  );
}

/** The region of the call: the record's own `acsRegion`, else the envelope's. Both are pattern-checked. */
export function regionOf(event: ActionTrailCloudEvent): string | undefined {
  return event.data.acsRegion ?? event.aliyunregionid;
}

/** The account the resource lives in. */
export function accountOf(event: ActionTrailCloudEvent): string | undefined {
  return event.data.userIdentity?.accountId ?? event.aliyunaccountid;
}

/** Case-insensitive lookup in requestParameters / responseElements (ActionTrail's casing varies by API). */
export function pick(record: Record<string, unknown> | null | undefined, ...names: string[]): unknown {
  if (!record) return undefined;
  for (const name of names) {
    if (name in record) return record[name];
    const hit = Object.keys(record).find((k) => k.toLowerCase() === name.toLowerCase());
    if (hit !== undefined) return record[hit];
  }
  return undefined;
}

/** A successful ActionTrail API call, with the facts every function needs, or why it is not one. */
export type TrailCall =
  | {
      kind: 'call';
      event: ActionTrailCloudEvent;
      region: string;
      account: string;
      /** The API call's own id (ActionTrail `eventId`): the same for every delivery of one call. */
      callId: string;
      /** When the call happened (`data.eventTime`, else the envelope's `time`): the Target's `observedAt`. */
      observedAt?: string;
      /** What outcome lines may already say about the event. */
      known: EventFacts;
    }
  | ({ kind: 'ignored'; reason: string } & EventFacts)
  | ({ kind: 'rejected'; code: string; reason: string } & EventFacts);

export interface TrailCallOptions {
  /** Where the region may also come from (e.g. ECS calls carry `RegionId`). */
  fallbackRegion?: (event: ActionTrailCloudEvent) => string | undefined;
  /** Facts derived once region and account are known (e.g. the resource id). */
  facts?: (region: string, account: string) => EventFacts;
  /** Names the caller in the rejection reason. Default "an ActionTrail CloudEvent". */
  expected?: string;
}

const MAX_QUOTED = 128;

/**
 * The envelope checks every ActionTrail-driven function makes, in one order: a valid CloudEvent,
 * an API call named in `eventNames`, not failed, with a region and an account. Pure; never throws.
 */
export function parseTrailCall(
  event: unknown,
  eventNames: readonly string[],
  options: TrailCallOptions = {},
): TrailCall {
  const id = typeof event === 'object' && event !== null ? (event as { id?: unknown }).id : undefined;
  const base: EventFacts = typeof id === 'string' && id.length <= 256 ? { eventId: id } : {};
  const parsed = ActionTrailCloudEvent.safeParse(event);
  if (!parsed.success)
    return {
      kind: 'rejected',
      code: 'InvalidEvent',
      reason: `not ${options.expected ?? 'an ActionTrail CloudEvent'}: ${formatIssues(parsed.error.issues, 'event').slice(0, 5).join('; ')}`,
      ...base,
    };
  const e = parsed.data;
  const region = regionOf(e) ?? options.fallbackRegion?.(e);
  const account = accountOf(e);
  const known: EventFacts = {
    eventId: e.id,
    ...(region !== undefined ? { region } : {}),
    ...(account !== undefined ? { account } : {}),
    ...(region !== undefined && account !== undefined ? options.facts?.(region, account) : {}),
  };
  const name = e.data.eventName;
  if (!e.type.endsWith(':ActionTrail:ApiCall') || !eventNames.includes(name))
    return {
      kind: 'ignored',
      reason: `not a ${eventNames.join(' or ')} API call (${name.slice(0, MAX_QUOTED)})`,
      ...known,
    };
  // A failed call created or changed nothing.
  if (e.data.errorCode)
    return {
      kind: 'ignored',
      reason: `${name} failed (${e.data.errorCode.slice(0, MAX_QUOTED)}): nothing was created or changed`,
      ...known,
    };
  if (region === undefined)
    return {
      kind: 'rejected',
      code: 'InvalidEvent',
      reason: 'no region (data.acsRegion / aliyunregionid)',
      ...known,
    };
  if (account === undefined)
    return {
      kind: 'rejected',
      code: 'InvalidEvent',
      reason: 'no account (userIdentity.accountId / aliyunaccountid)',
      ...known,
    };
  const callId = e.data.eventId && e.data.eventId !== '' ? e.data.eventId.slice(0, 256) : e.id;
  return {
    kind: 'call',
    event: e,
    region,
    account,
    callId,
    known,
    ...withObservedAt(observedAtOf(e.data.eventTime, e.time)),
  };
}
