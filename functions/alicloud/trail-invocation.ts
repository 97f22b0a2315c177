/**
 * One FC SLS-trigger invocation of a function (see trail.ts): read the range, run each record the
 * function owns through `processOne` (the FC adapter's single-event path), report the rest.
 * Loaded by fc.ts only for such invocations, so the other paths never pay for it.
 *
 * Outcomes: one per owned record; `rejected` for a log whose `event` is not an ActionTrail record
 * and for a trigger event that is malformed or names another region; `failed` (with SLS's code and
 * request id) when the range could not be read completely, so the trigger's retry reads it again.
 * Records the function does not own give no outcome line, only the counts of the `trail` line.
 */

import type { AnyRemediator } from '#core/manifest';
import type { Outcome } from '#core/outcome';
import { ALICLOUD_REGION } from '#core/validation';
import type { AlicloudCredentials, FcContext } from './clients.ts';
import { classifySlsError } from './sls.ts';
import { createSlsLogReader, type SlsLogReader } from './sls-logs.ts';
import { parseSlsTrigger, readTrail, type SlsTrigger } from './trail.ts';

export interface TrailInvocation {
  event: unknown;
  remediator: AnyRemediator;
  context: FcContext;
  env: Record<string, string | undefined>;
  credentials: () => AlicloudCredentials;
  remainingMs: () => number;
  log: (level: 'INFO' | 'WARN' | 'ERROR', message: string, fields: Record<string, unknown>) => void;
  /** The adapter's path for one delivered event (engine, then deferral). */
  processOne: (record: unknown) => Promise<{ outcomes: Outcome[]; requeueFailure?: unknown }>;
  /** Tests may substitute the reader. Default: PullLogs against the region's SLS host. */
  reader?: SlsLogReader;
}

export interface TrailResult {
  outcomes: Outcome[];
  requeueFailure?: unknown;
}

/**
 * The region whose SLS host is read: the function's own (an SLS trigger's project lives there),
 * else — outside Function Compute, e.g. `atrest replay` — the one the event's official endpoint
 * names. A trigger that names another region than the function's is refused, not followed.
 */
export function trailRegion(
  trigger: SlsTrigger,
  ownRegion: string | undefined,
): { region: string } | { problem: string } {
  const own = ownRegion !== undefined && ALICLOUD_REGION.test(ownRegion) ? ownRegion : undefined;
  if (own !== undefined && trigger.endpointRegion !== undefined && trigger.endpointRegion !== own)
    return {
      problem: `the trigger names an SLS endpoint in ${trigger.endpointRegion}, but this function runs in ${own} (an SLS trigger's project is in the function's region)`,
    };
  const region = own ?? trigger.endpointRegion;
  return region === undefined
    ? {
        problem:
          "cannot tell the logstore's region (no FC region, and the endpoint is not an official SLS host)",
      }
    : { region };
}

export async function runTrailInvocation(inv: TrailInvocation): Promise<TrailResult> {
  const { remediator } = inv;
  const base = (eventId: string, region: string) => ({
    function: remediator.id,
    eventId,
    resource: '',
    region,
    attempts: 0,
    durationMs: 0,
    dryRun: false,
  });
  const parsed = parseSlsTrigger(inv.event);
  if (parsed.kind === 'rejected')
    return {
      outcomes: [
        { ...base('', ''), outcome: 'rejected', error: { code: 'InvalidEvent', message: parsed.reason } },
      ],
    };
  const trigger = parsed.trigger;
  const where = trailRegion(trigger, inv.context.region ?? inv.env.FC_REGION);
  if ('problem' in where)
    return {
      outcomes: [
        {
          ...base(trigger.id, ''),
          outcome: 'rejected',
          error: { code: 'InvalidEvent', message: where.problem },
        },
      ],
    };
  const reader =
    inv.reader ?? createSlsLogReader({ region: where.region, credentials: inv.credentials, env: inv.env });

  let items: Awaited<ReturnType<typeof readTrail>>['items'];
  let pages: number;
  try {
    ({ items, pages } = await readTrail(reader, trigger, { remainingMs: inv.remainingMs }));
  } catch (error) {
    const classified = classifySlsError(error);
    const code = (error as { code?: unknown }).code;
    return {
      outcomes: [
        {
          ...base(trigger.id, where.region),
          outcome: 'failed',
          error: {
            code: typeof code === 'string' ? code : classified.code,
            message: `cannot read ${trigger.project}/${trigger.logstore} shard ${trigger.shard}: ${(error as Error).message}`,
            ...(classified.requestId !== undefined ? { requestId: classified.requestId } : {}),
          },
        },
      ],
    };
  }

  const outcomes: Outcome[] = [];
  let requeueFailure: unknown;
  let owned = 0;
  let skipped = 0;
  let foreign = 0;
  for (const item of items) {
    if (item.kind === 'foreign') {
      foreign++;
      continue;
    }
    if (item.kind === 'rejected') {
      outcomes.push({
        ...base(item.where, where.region),
        outcome: 'rejected',
        error: { code: 'InvalidEvent', message: item.reason },
      });
      continue;
    }
    if (!remediator.owns(item.record)) {
      skipped++;
      continue;
    }
    owned++;
    const result = await inv.processOne(item.record);
    outcomes.push(...result.outcomes);
    requeueFailure ??= result.requeueFailure;
  }
  inv.log(foreign > 0 ? 'WARN' : 'INFO', 'trail', {
    function: remediator.id,
    trigger: trigger.id,
    pages,
    logs: items.length,
    owned,
    skipped,
    ...(foreign > 0
      ? { foreign, note: 'logs without an ActionTrail event field were not read as records' }
      : {}),
  });
  return { outcomes, ...(requeueFailure !== undefined ? { requeueFailure } : {}) };
}
