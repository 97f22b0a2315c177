/**
 * `atrest replay` of a Function Compute SLS-trigger event (the trail path): the event stands for
 * the ActionTrail records between its cursors, so it is expanded into those records (read with
 * PullLogs, as the deployed function does) and each is then routed to the function that owns it.
 * Outside Function Compute the logstore's region is the one the event's official SLS endpoint
 * names; the host is `ALIBABA_CLOUD_ENDPOINT_SLS` or that region's official SLS host, never the
 * event's. Any other event is itself.
 */
import { isSlsTriggerEvent } from '../alicloud/events.ts';

/** One event to replay, with the file it came from (to name it in errors). */
export interface Loaded {
  source: string;
  event?: unknown;
  /** Set when the file could not be read as JSON. */
  problem?: string;
  /** Set when the records an SLS-trigger event stands for could not be read (below). */
  failure?: { code: string; message: string; requestId?: string };
}

export async function expandTrail(item: Loaded, env: Record<string, string | undefined>): Promise<Loaded[]> {
  if (item.problem !== undefined || !isSlsTriggerEvent(item.event)) return [item];
  // Loaded on first use: replaying anything else never loads the SLS reader.
  const [
    { parseSlsTrigger, readTrail },
    { trailRegion },
    { createSlsLogReader },
    { credentialsFrom },
    { classifySlsError },
  ] = await Promise.all([
    import('../alicloud/trail.ts'),
    import('../alicloud/trail-invocation.ts'),
    import('../alicloud/sls-logs.ts'),
    import('../alicloud/clients.ts'),
    import('../alicloud/sls.ts'),
  ]);
  const parsed = parseSlsTrigger(item.event);
  if (parsed.kind === 'rejected') return [{ source: item.source, problem: parsed.reason }];
  const where = trailRegion(parsed.trigger, undefined);
  if ('problem' in where) return [{ source: item.source, problem: `${parsed.trigger.id}: ${where.problem}` }];
  const reader = createSlsLogReader({
    region: where.region,
    credentials: () => credentialsFrom(undefined, env),
    env,
  });
  try {
    const { items } = await readTrail(reader, parsed.trigger);
    return items.flatMap((i): Loaded[] => {
      const source = `${item.source}#${i.where}`;
      if (i.kind === 'record') return [{ source, event: i.record }];
      if (i.kind === 'rejected') return [{ source, problem: i.reason }];
      return [];
    });
  } catch (error) {
    const classified = classifySlsError(error);
    const code = (error as { code?: unknown }).code;
    return [
      {
        source: item.source,
        failure: {
          code: typeof code === 'string' ? code : classified.code,
          message: `cannot read ${parsed.trigger.project}/${parsed.trigger.logstore}: ${(error as Error).message}`,
          ...(classified.requestId !== undefined ? { requestId: classified.requestId } : {}),
        },
      },
    ];
  }
}
