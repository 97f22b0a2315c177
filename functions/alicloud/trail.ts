/**
 * The trail path: an ActionTrail trail delivers every record to an SLS logstore, and a Function
 * Compute SLS (log) trigger on that logstore invokes each subscribed function with a cursor range:
 *
 *   {"source":{"endpoint","projectName","logstoreName","shardId","beginCursor","endCursor"},
 *    "jobName","taskId","cursorTime","parameter"}
 *
 * (FC "Simple Log Service triggers": one invocation per shard and interval; an invocation may
 * also come with an empty range after a storage upgrade, which reads nothing and is fine.) The
 * function reads the range with PullLogs (sls-logs.ts) and runs every record it owns through the
 * engine, exactly as if EventBridge had delivered it; the others are skipped. Each log of a trail
 * logstore holds the record as JSON text under the key `event` (SLS "ActionTrail log fields":
 * `__topic__` actiontrail_audit_event, `event` the event in JSON format).
 *
 * Why each function reads the logstore itself instead of one router function: every function keeps
 * its own least-privilege role and its own retries and dead letter (a failing cluster write never
 * makes the logstore function re-run), and nothing new is deployed. The price is one read per
 * function (four triggers on one logstore; SLS advises at most five), and idempotency makes a
 * record that also arrived through EventBridge one piece of work.
 *
 * No host is taken from the event: the logstore is read at `ALIBABA_CLOUD_ENDPOINT_SLS` or the
 * official SLS host of the function's own region (an SLS trigger's project must be in the
 * function's region). The event's `endpoint` is only compared with that region.
 */
import * as z from 'zod/mini';
import { ALICLOUD_REGION, formatIssues } from '#core/validation';
import { isBareTrailRecord } from './events.ts';

export { isSlsTriggerEvent } from './events.ts';

import { SLS_LOGSTORE, SLS_PROJECT } from './sls.ts';
import { SLS_CURSOR, type SlsLog, type SlsLogReader } from './sls-logs.ts';

const cursor = z.string().check(z.regex(SLS_CURSOR));

export const SlsTriggerEvent = z.looseObject({
  source: z.looseObject({
    endpoint: z.optional(z.string().check(z.maxLength(256))),
    projectName: z.string().check(z.regex(SLS_PROJECT)),
    logstoreName: z.string().check(z.regex(SLS_LOGSTORE)),
    shardId: z.union([
      z.number().check(z.int(), z.minimum(0), z.maximum(100_000)),
      z.string().check(z.regex(/^\d{1,6}$/)),
    ]),
    beginCursor: cursor,
    endCursor: cursor,
  }),
  jobName: z.string().check(z.minLength(1), z.maxLength(256)),
  taskId: z.string().check(z.minLength(1), z.maxLength(256)),
  cursorTime: z.optional(z.number()),
  parameter: z.optional(z.unknown()),
});

export interface SlsTrigger {
  project: string;
  logstore: string;
  shard: number;
  beginCursor: string;
  endCursor: string;
  /** The region the event's endpoint names, when it is an official SLS host. */
  endpointRegion?: string;
  /** `sls:<project>/<logstore>#<shard>@<beginCursor>`: names the range in outcome lines. */
  id: string;
}

/**
 * `cn-hangzhou` from `http://cn-hangzhou-intranet.log.aliyuncs.com` (also `-share`, `-vpc`, and the
 * public host); undefined for anything that is not an official SLS host.
 */
export function officialSlsRegion(endpoint: string | undefined): string | undefined {
  if (endpoint === undefined) return undefined;
  const m = /^(?:https?:\/\/)?([a-z0-9-]+?)(?:-intranet|-share|-vpc)?\.log\.aliyuncs\.com\/?$/.exec(endpoint);
  return m?.[1] !== undefined && ALICLOUD_REGION.test(m[1]) ? m[1] : undefined;
}

export function parseSlsTrigger(
  event: unknown,
): { kind: 'trigger'; trigger: SlsTrigger } | { kind: 'rejected'; reason: string } {
  const parsed = SlsTriggerEvent.safeParse(event);
  if (!parsed.success)
    return {
      kind: 'rejected',
      reason: `not an SLS trigger event: ${formatIssues(parsed.error.issues, 'event').slice(0, 5).join('; ')}`,
    };
  const s = parsed.data.source;
  const shard = Number(s.shardId);
  const endpointRegion = officialSlsRegion(s.endpoint);
  return {
    kind: 'trigger',
    trigger: {
      project: s.projectName,
      logstore: s.logstoreName,
      shard,
      beginCursor: s.beginCursor,
      endCursor: s.endCursor,
      ...(endpointRegion !== undefined ? { endpointRegion } : {}),
      id: `sls:${s.projectName}/${s.logstoreName}#${shard}@${s.beginCursor}`,
    },
  };
}

/** One log of the range, as the trail path sees it. */
export type TrailItem =
  /** An ActionTrail record (the `event` key, decoded). */
  | { kind: 'record'; record: Record<string, unknown>; where: string }
  /** A log with an `event` key that is not an ActionTrail record: reported, never dropped silently. */
  | { kind: 'rejected'; reason: string; where: string }
  /** A log without an `event` key: not ActionTrail's (a logstore may hold other logs). Counted. */
  | { kind: 'foreign'; where: string };

const MAX_EVENT_CHARS = 1_000_000;

/** Pure: what one log holds. */
export function itemFromLog(log: SlsLog, where: string): TrailItem {
  const text = log.contents.find(([key]) => key === 'event')?.[1];
  if (text === undefined) return { kind: 'foreign', where };
  if (text.length > MAX_EVENT_CHARS)
    return {
      kind: 'rejected',
      where,
      reason: `the event field is larger than ${MAX_EVENT_CHARS} characters`,
    };
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    return {
      kind: 'rejected',
      where,
      reason: `the event field is not JSON (${(error as Error).message.slice(0, 120)})`,
    };
  }
  if (!isBareTrailRecord(value))
    return {
      kind: 'rejected',
      where,
      reason: 'the event field is not an ActionTrail record (no eventName/eventType)',
    };
  return { kind: 'record', record: value, where };
}

/** The read could not cover the whole range: the invocation must fail so the trigger retries it. */
export class TrailReadIncompleteError extends Error {
  readonly code = 'TrailReadIncomplete';
  constructor(message: string) {
    super(message);
    this.name = 'TrailReadIncompleteError';
  }
}

export interface TrailReadLimits {
  /** Log groups per PullLogs answer. Default 100. */
  pageSize?: number;
  /** Most PullLogs calls per invocation. Default 1000. */
  maxPages?: number;
  /** Most logs per invocation. Default 50 000. */
  maxLogs?: number;
  /** Stop (and fail) when less than this is left of the invocation. */
  remainingMs?: () => number;
  reserveMs?: number;
}

/**
 * Every log between the trigger's cursors, in order. Stops at the end cursor, at an answer with
 * no log groups, or when the cursor no longer moves; throws TrailReadIncompleteError when a
 * bound is reached first (a partial read is never reported as a complete one).
 */
export async function readTrail(
  reader: SlsLogReader,
  trigger: SlsTrigger,
  limits: TrailReadLimits = {},
): Promise<{ items: TrailItem[]; pages: number }> {
  const maxPages = limits.maxPages ?? 1000;
  const maxLogs = limits.maxLogs ?? 50_000;
  const reserveMs = limits.reserveMs ?? 5_000;
  const items: TrailItem[] = [];
  let cursor = trigger.beginCursor;
  let pages = 0;
  while (cursor !== trigger.endCursor) {
    if (pages >= maxPages)
      throw new TrailReadIncompleteError(`${trigger.id}: more than ${maxPages} PullLogs pages`);
    if (limits.remainingMs !== undefined && limits.remainingMs() < reserveMs)
      throw new TrailReadIncompleteError(`${trigger.id}: out of time after ${pages} PullLogs pages`);
    const page = await reader.pullLogs(trigger.project, trigger.logstore, trigger.shard, {
      cursor,
      endCursor: trigger.endCursor,
      count: limits.pageSize ?? 100,
    });
    pages++;
    for (const [g, group] of page.logGroups.entries())
      for (const [l, log] of group.logs.entries()) {
        if (items.length >= maxLogs)
          throw new TrailReadIncompleteError(`${trigger.id}: more than ${maxLogs} logs in one range`);
        items.push(itemFromLog(log, `${trigger.id}:${pages - 1}.${g}.${l}`));
      }
    if (page.count === 0 || page.logGroups.length === 0 || page.nextCursor === cursor) break;
    cursor = page.nextCursor;
  }
  return { items, pages };
}
