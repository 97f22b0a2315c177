/**
 * Alibaba Cloud EventBridge delivers ActionTrail records as CloudEvents 1.0: the envelope
 * (`id`, `source`, `type` = `<service>:ActionTrail:ApiCall`, `aliyunregionid`, `aliyunaccountid`, …)
 * and the ActionTrail record under `data`. The envelope is parsed once here; each function then
 * parses its own `requestParameters` / `responseElements`.
 */
import * as z from 'zod/mini';
import { ALICLOUD_ACCOUNT, ALICLOUD_REGION } from '#core/validation';

const id = z.string().check(z.minLength(1), z.maxLength(256));

/** The ActionTrail record (loose: ActionTrail adds fields over time; we read only these). */
export const ActionTrailRecord = z.looseObject({
  eventId: z.optional(z.string().check(z.maxLength(256))),
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
