/**
 * ActionTrail records, in the two forms they reach a function:
 * - Alibaba Cloud EventBridge delivers them as CloudEvents 1.0: the envelope (`id`, `source`,
 *   `type` = `<service>:ActionTrail:<eventType>`, `aliyunregionid`, `aliyunaccountid`, …) and the
 *   record under `data`. `eventType` is `ApiCall` (an API call), `ConsoleOperation` (the console
 *   and buy pages) or `AliyunServiceEvent` (a service acting on the user's behalf) — EventBridge's
 *   "ActionTrail events" page lists exactly these three types.
 * - A trail delivers the record alone (the `data` object) to an SLS logstore or OSS; the trail
 *   path (trail.ts) reads it from there. `asTrailCloudEvent` wraps such a bare record in the
 *   envelope EventBridge would have given it, so every parser below sees one shape.
 * The envelope is parsed once here; each function then parses its own `requestParameters` /
 * `responseElements`. Which event names a function owns sits in its own `events.ts`.
 */
import * as z from 'zod/mini';
import { once } from '#core/once';
import type { EventFacts } from '#core/remediator';
import {
  ALICLOUD_ACCOUNT,
  ALICLOUD_REGION,
  formatIssues,
  observedAtOf,
  withObservedAt,
} from '#core/validation';

/** The ActionTrail record (loose: ActionTrail adds fields over time; we read only these). */
export const ActionTrailRecord = once(() =>
  z.looseObject({
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
  }),
);

export const ActionTrailCloudEvent = once(() =>
  z.looseObject({
    id: z.string().check(z.minLength(1), z.maxLength(256)),
    specversion: z.optional(z.string()),
    source: z.string().check(z.minLength(1), z.maxLength(256)),
    type: z
      .string()
      .check(z.regex(/^[A-Za-z0-9_-]+:ActionTrail:(ApiCall|ConsoleOperation|AliyunServiceEvent)$/)),
    subject: z.optional(z.string()),
    time: z.optional(z.string()),
    aliyunaccountid: z.optional(z.string().check(z.regex(ALICLOUD_ACCOUNT))),
    aliyunregionid: z.optional(z.string().check(z.regex(ALICLOUD_REGION))),
    data: ActionTrailRecord(),
  }),
);

export type ActionTrailCloudEvent = z.infer<ReturnType<typeof ActionTrailCloudEvent>>;
export type ActionTrailRecord = z.infer<ReturnType<typeof ActionTrailRecord>>;

/** How records reach a function: EventBridge rules, or an FC SLS trigger on a trail's logstore. */
export type DeliveryPath = 'eventbridge' | 'trail';

/** The ActionTrail event types that can create or change a resource (CONTRACT.md section 6). */
const TRAIL_EVENT_TYPES = ['ApiCall', 'ConsoleOperation', 'AliyunServiceEvent'] as const;
export type TrailEventType = (typeof TRAIL_EVENT_TYPES)[number];

/**
 * Another name under which ActionTrail records one of a function's APIs. The console's buy pages
 * record purchases as `Create` with the product's own `eventSource` (real trail samples: Hologres,
 * Lindorm, Kafka, Elasticsearch, ACR, Redis), so a generic name is accepted only for its service.
 */
export interface TrailAlias {
  /** The eventName as ActionTrail records it. */
  readonly name: string;
  /** The API it stands for (one of the function's `names`). */
  readonly means: string;
  /** The event types it appears with. */
  readonly types: readonly TrailEventType[];
  /** Tested against `serviceName` and the host of `eventSource`. */
  readonly service: RegExp;
}

/**
 * The ActionTrail records a function owns: `names` under every event type (the API's own name is
 * what API calls, most console operations and service actions record), plus `aliases`.
 */
export interface TrailEvents {
  readonly names: readonly string[];
  readonly aliases?: readonly TrailAlias[];
}

const specOf = (events: readonly string[] | TrailEvents): TrailEvents =>
  Array.isArray(events) ? { names: events as readonly string[] } : (events as TrailEvents);

/** Every eventName a function's rules accept, for EventBridge rule patterns. */
/**
 * The trigger settings of a function backed up by the daily sweep. ActionTrail delivery is best
 * effort: once a day, 03:00 UTC, every resource of the region is swept (stopping 20 s before the
 * timeout: 300 s covers ~1400 calls at the default 5/s).
 */
export const DAILY_SWEEP = { timer: '0 0 3 * * *', sweeps: true, timeoutSeconds: 300 } as const;

export function trailEventNames(events: readonly string[] | TrailEvents): string[] {
  const spec = specOf(events);
  return [...new Set([...spec.names, ...(spec.aliases ?? []).map((a) => a.name)])];
}

const TYPE_SUFFIX = /:ActionTrail:(ApiCall|ConsoleOperation|AliyunServiceEvent)$/;

/** The event type of a CloudEvent `type` (`cs:ActionTrail:ConsoleOperation` → `ConsoleOperation`). */
export function trailEventType(type: unknown): TrailEventType | undefined {
  if (typeof type !== 'string') return undefined;
  return TYPE_SUFFIX.exec(type)?.[1] as TrailEventType | undefined;
}

/**
 * The API a record stands for under `events`, or undefined when the function does not own it.
 * Pure; reads only `eventName`, and `serviceName` / `eventSource` for an alias.
 */
export function apiNameOf(
  type: TrailEventType,
  record: { eventName?: unknown; serviceName?: unknown; eventSource?: unknown },
  events: readonly string[] | TrailEvents,
): string | undefined {
  const name = record.eventName;
  if (typeof name !== 'string') return undefined;
  const spec = specOf(events);
  if (spec.names.includes(name)) return name;
  const source = typeof record.eventSource === 'string' ? record.eventSource : '';
  const service = typeof record.serviceName === 'string' ? record.serviceName : '';
  const alias = spec.aliases?.find(
    (a) => a.name === name && a.types.includes(type) && (a.service.test(service) || a.service.test(source)),
  );
  return alias?.means;
}

/** Routing check: an ActionTrail record (CloudEvent or bare) of one of the three types that `events` owns. */
export function isActionTrailCall(event: unknown, events: readonly string[] | TrailEvents): boolean {
  const e = asTrailCloudEvent(event);
  if (typeof e !== 'object' || e === null) return false;
  const { type, data } = e as { type?: unknown; data?: unknown };
  const eventType = trailEventType(type);
  if (eventType === undefined || typeof data !== 'object' || data === null) return false;
  return apiNameOf(eventType, data as Record<string, unknown>, events) !== undefined;
}

/**
 * Routing check: the shape of a Function Compute SLS (log) trigger invocation, a cursor range on a
 * logstore (`{"source":{…,"logstoreName","beginCursor","endCursor"},"jobName",…}`); trail.ts
 * parses and reads it. Here because it is as cheap as the other envelope checks.
 */
export function isSlsTriggerEvent(event: unknown): boolean {
  if (typeof event !== 'object' || event === null) return false;
  const e = event as { source?: unknown };
  if (typeof e.source !== 'object' || e.source === null || !('jobName' in e)) return false;
  const s = e.source as Record<string, unknown>;
  return 'logstoreName' in s && 'beginCursor' in s && 'endCursor' in s;
}

/** True for a bare ActionTrail record (no CloudEvent envelope): what a trail delivers. */
export function isBareTrailRecord(event: unknown): event is Record<string, unknown> {
  if (typeof event !== 'object' || event === null || Array.isArray(event)) return false;
  const e = event as Record<string, unknown>;
  return (
    typeof e.eventName === 'string' &&
    typeof e.eventType === 'string' &&
    !('data' in e) &&
    !('specversion' in e) &&
    !('detail-type' in e)
  );
}

const SERVICE_PREFIX = /^[A-Za-z0-9_-]{1,64}$/;

/** A JSON text field of a trail record as the object it encodes, else the value as given. */
function decodeJsonField(value: unknown): unknown {
  if (typeof value !== 'string' || value.length > 1_000_000) return value;
  try {
    return JSON.parse(value);
  } catch {
    return value;
  }
}

/**
 * A bare ActionTrail record wrapped in the CloudEvent envelope EventBridge would give it; any
 * other value unchanged. The envelope's `id` is the record's `eventId` (one per API call), its
 * `type` `<serviceName in lower case>:ActionTrail:<eventType>`, its account the recipient account
 * (`recipientAccountId`, else `userIdentity.accountId`). A trail logstore may hold
 * `requestParameters` only as `requestParameterJson` (SLS "ActionTrail log fields"), and
 * `referencedResources` as JSON text: both are decoded. Pure; never throws.
 */
export function asTrailCloudEvent(event: unknown): unknown {
  if (!isBareTrailRecord(event)) return event;
  const record: Record<string, unknown> = { ...event };
  if (
    (typeof record.requestParameters !== 'object' || record.requestParameters === null) &&
    typeof record.requestParameterJson === 'string'
  )
    record.requestParameters = decodeJsonField(record.requestParameterJson);
  for (const field of ['requestParameters', 'responseElements', 'referencedResources', 'userIdentity'])
    if (typeof record[field] === 'string') record[field] = decodeJsonField(record[field]);
  const service =
    typeof record.serviceName === 'string' && SERVICE_PREFIX.test(record.serviceName)
      ? record.serviceName.toLowerCase()
      : 'actiontrail';
  const identity = record.userIdentity as { accountId?: unknown } | undefined;
  const account = [record.recipientAccountId, identity?.accountId].find(
    (a) => typeof a === 'string' && ALICLOUD_ACCOUNT.test(a),
  );
  return {
    ...(typeof record.eventId === 'string' ? { id: record.eventId } : {}),
    specversion: '1.0',
    source: 'acs.actiontrail',
    type: `${service}:ActionTrail:${String(record.eventType).slice(0, 64)}`,
    ...(typeof record.eventTime === 'string' ? { time: record.eventTime } : {}),
    ...(account !== undefined ? { aliyunaccountid: account } : {}),
    ...(typeof record.acsRegion === 'string' && ALICLOUD_REGION.test(record.acsRegion)
      ? { aliyunregionid: record.acsRegion }
      : {}),
    data: record,
  };
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
      /** The API the record stands for (its eventName, or what a console alias means). */
      apiName: string;
      /** ApiCall, ConsoleOperation or AliyunServiceEvent. */
      eventType: TrailEventType;
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
 * The envelope checks every ActionTrail-driven function makes, in one order: a valid CloudEvent
 * (or a bare trail record, wrapped first), of one of the three event types, named in `events`,
 * not failed, with a region and an account. Pure; never throws.
 */
export function parseTrailCall(
  delivered: unknown,
  events: readonly string[] | TrailEvents,
  options: TrailCallOptions = {},
): TrailCall {
  const event = asTrailCloudEvent(delivered);
  const id = typeof event === 'object' && event !== null ? (event as { id?: unknown }).id : undefined;
  const base: EventFacts = typeof id === 'string' && id.length <= 256 ? { eventId: id } : {};
  const parsed = ActionTrailCloudEvent().safeParse(event);
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
  const eventType = trailEventType(e.type) as TrailEventType;
  const apiName = apiNameOf(eventType, e.data, events);
  if (apiName === undefined)
    return {
      kind: 'ignored',
      reason: `not a ${specOf(events).names.join(' or ')} event (${name.slice(0, MAX_QUOTED)})`,
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
    apiName,
    eventType,
    ...withObservedAt(observedAtOf(e.data.eventTime, e.time)),
  };
}
