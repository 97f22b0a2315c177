/**
 * Engine overhead: what atrest itself adds per event — parse (zod), desire, the idempotency
 * store, the engine's steps, evaluate — beyond the time spent in the cloud API calls. The
 * real aws.log-group-kms remediator runs against a zero-latency CloudWatch Logs held in this
 * process (its `send` answers from a Map at once); the time inside read()/apply() — the
 * remediator's own API time, SDK command construction included — is subtracted per event.
 */
import { performance } from 'node:perf_hooks';
import type { CloudWatchLogsClient } from '@aws-sdk/client-cloudwatch-logs';
import { remediateEvent } from '#core/engine';
import { MemoryIdempotencyStore } from '#core/idempotency';
import type { Remediator } from '#core/remediator';
import {
  createRemediator,
  type DesiredKey,
  type LogGroupState,
  type LogGroupTarget,
} from '../functions/aws/log-group-kms/remediator.ts';
import { AWS_KEY } from './aws-emulator.ts';
import { sample } from './events.ts';
import { atMost, type Row } from './report.ts';
import { percentile } from './stats.ts';

export const OVERHEAD_P99_TARGET_MS = 2;

export interface OverheadOptions {
  events: number;
  /** Events run first and not counted (JIT warm-up, as in a warm instance). */
  warmup: number;
}

export interface OverheadResult {
  events: number;
  warmup: number;
  /** Per event: total minus time inside read/apply, ms. */
  overheadMs: number[];
  /** Per event: time inside read/apply, ms. */
  apiMs: number[];
  outcomes: Record<string, number>;
}

/** A CloudWatch Logs that answers at once: DescribeLogGroups and AssociateKmsKey on a Map. */
function zeroLatencyLogs(): CloudWatchLogsClient {
  const keys = new Map<string, string | undefined>();
  const client = {
    async send(command: { constructor: { name: string }; input: Record<string, unknown> }) {
      const input = command.input;
      if ('kmsKeyId' in input) {
        keys.set(String(input.logGroupName), String(input.kmsKeyId));
        return {};
      }
      const name = String((input.logGroupIdentifiers as string[] | undefined)?.[0]);
      if (!keys.has(name)) keys.set(name, undefined);
      const kmsKeyId = keys.get(name);
      return { logGroups: [{ logGroupName: name, ...(kmsKeyId ? { kmsKeyId } : {}) }] };
    },
  };
  return client as unknown as CloudWatchLogsClient;
}

type LogGroupRemediator = Remediator<LogGroupTarget, DesiredKey, LogGroupState>;

/** The remediator with a stopwatch around its two I/O methods. */
function timed(remediator: LogGroupRemediator, clock: { apiMs: number }): LogGroupRemediator {
  return {
    ...remediator,
    async read(target) {
      const t = performance.now();
      try {
        return await remediator.read(target);
      } finally {
        clock.apiMs += performance.now() - t;
      }
    },
    async apply(target, desired, state) {
      const t = performance.now();
      try {
        await remediator.apply(target, desired, state);
      } finally {
        clock.apiMs += performance.now() - t;
      }
    },
  };
}

export async function measureOverhead(options: OverheadOptions): Promise<OverheadResult> {
  const clock = { apiMs: 0 };
  const client = zeroLatencyLogs();
  const remediator = timed(createRemediator({ client: () => client }), clock);
  const config = { aws: { logGroupKms: { kmsKeyArn: AWS_KEY } } };
  const store = new MemoryIdempotencyStore();
  const total = options.warmup + options.events;
  // Built beforehand: delivering the event is the platform's work, not ours.
  const events = Array.from({ length: total }, (_, i) => {
    const e = sample('aws/log-group-kms/create-log-group.json');
    e.id = `overhead-${i}`;
    e.detail.requestParameters.logGroupName = `/bench/overhead/group-${i}`;
    return e;
  });

  const overheadMs: number[] = [];
  const apiMs: number[] = [];
  const outcomes: Record<string, number> = {};
  for (let i = 0; i < total; i++) {
    clock.apiMs = 0;
    const t = performance.now();
    const [outcome] = await remediateEvent(remediator, events[i], { config, store });
    const elapsed = performance.now() - t;
    if (i < options.warmup) continue;
    overheadMs.push(elapsed - clock.apiMs);
    apiMs.push(clock.apiMs);
    const kind = outcome?.outcome ?? 'none';
    outcomes[kind] = (outcomes[kind] ?? 0) + 1;
  }
  return { events: options.events, warmup: options.warmup, overheadMs, apiMs, outcomes };
}

export function overheadRows(result: OverheadResult): Row[] {
  const what = `${result.events} events (read, write, verify each; ${result.warmup} warm-up)`;
  return [
    {
      section: 'overhead',
      subject: 'engine',
      metric: `p50 per event, ${what}`,
      value: percentile(result.overheadMs, 50),
      unit: 'ms',
    },
    atMost(
      {
        section: 'overhead',
        subject: 'engine',
        metric: `p99 per event, ${what}`,
        value: percentile(result.overheadMs, 99),
        unit: 'ms',
      },
      OVERHEAD_P99_TARGET_MS,
    ),
    {
      section: 'overhead',
      subject: 'engine',
      metric: 'p50 API time subtracted (zero-latency fake, context)',
      value: percentile(result.apiMs, 50),
      unit: 'ms',
    },
  ];
}
