/**
 * Fuzzing every parser with inputs derived from its own schema, mutated samples and junk:
 * - a remediator's parse never throws, and every target it returns is validated (region, account
 *   and resource names match the API's documented pattern; the host built from the region is the
 *   fixed template);
 * - the engine answers every input with contract outcomes (CONTRACT.md section 2) and never throws;
 * - the config parsers throw nothing but ConfigError, naming the field;
 * - the Function Compute adapter throws nothing but FcRemediationError, and logs JSON lines only.
 *
 * `FUZZ_RUNS` runs per property: small in `npm test`, 10 000 in `npm run fuzz` (fuzz-full.ts).
 */

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { remediateEvent } from '#core/engine';
import { ConfigError } from '#core/errors';
import { MemoryIdempotencyStore } from '#core/idempotency';
import type { Target } from '#core/remediator';
import { ActionTrailCloudEvent } from '../../functions/alicloud/events.ts';
import { createFcHandler, FcRemediationError, unwrapDeferred } from '../../functions/alicloud/fc.ts';
import { createRemediator as createLogstoreEncryption } from '../../functions/alicloud/logstore-encryption/remediator.ts';
import { configFromEnv, configSchema, parseConfig, parseConfigJson } from '../../functions/config.ts';
import { hostileString, inputsFor, junk } from './arbitraries.ts';
import { contractProblems } from './contract.ts';
import { type AnyRemediator, aliNames, ALI_CREDENTIALS as credentials, type EventJson } from './drivers.ts';
import { CONFIG, offline, PARSERS, sample } from './parsers.ts';

const RUNS = Number(process.env.FUZZ_RUNS ?? 150);
const params = { numRuns: RUNS };

describe.each(PARSERS.map((p) => [p.id, p] as const))('%s', (_id, p) => {
  // Its envelope's inputs, and whatever else it parses (the disk function's FC timer events).
  const inputs = p.more
    ? fc.oneof(inputsFor(p.schema, p.sample, p.hints), p.more())
    : inputsFor(p.schema, p.sample, p.hints);

  it('parse never throws, and every target it returns is validated', () => {
    let targets = 0;
    fc.assert(
      fc.property(inputs, (event) => {
        const parsed = p.remediator.parse(event, CONFIG);
        expect(['targets', 'ignored', 'rejected']).toContain(parsed.kind);
        if (parsed.kind === 'rejected') expect(parsed.code).toMatch(/^[A-Za-z]+$/);
        if (parsed.kind !== 'targets') return;
        for (const target of parsed.targets) {
          targets += 1;
          expect(p.check(target as Target & Record<string, unknown>)).toEqual([]);
        }
      }),
      params,
    );
    // The inputs reach past the envelope: some of them are real targets.
    expect(targets).toBeGreaterThan(0);
  });

  it('the engine answers every input with contract outcomes and never throws', async () => {
    const remediator = offline(p.remediator);
    const store = new MemoryIdempotencyStore();
    await fc.assert(
      fc.asyncProperty(inputs, async (event) => {
        const outcomes = await remediateEvent(remediator, event, { config: CONFIG, store });
        expect(outcomes.length).toBeGreaterThan(0);
        for (const outcome of outcomes) {
          expect(outcome.function).toBe(p.id);
          expect(contractProblems(outcome)).toEqual([]);
        }
      }),
      params,
    );
  });
});

describe('event content in reasons is quoted, never echoed wholesale', () => {
  const long = 'E'.repeat(10_000);
  // CloudTrail records sit in `detail`, ActionTrail records in `data`.
  const record = (e: EventJson): EventJson => e.detail ?? e.data;
  const cases: [string, AnyRemediator, EventJson][] = PARSERS.flatMap((p) => {
    const failed = structuredClone(p.sample);
    record(failed).errorCode = long;
    const foreign = structuredClone(p.sample);
    record(foreign).eventSource = long;
    return [
      [`${p.id}: a failed call's error code`, p.remediator, failed],
      // Only CloudTrail events name their source in the record; ActionTrail's is the envelope type.
      ...(p.sample.detail
        ? [[`${p.id}: another event source`, p.remediator, foreign] as [string, AnyRemediator, EventJson]]
        : []),
    ];
  });

  it.each(cases)('%s', async (_what, remediator, event) => {
    const [outcome] = await remediateEvent(offline(remediator), event, {
      config: CONFIG,
      store: new MemoryIdempotencyStore(),
    });

    expect(outcome?.outcome).toBe('ignored');
    expect(outcome?.reason?.length).toBeLessThan(300);
  });
});

describe('config', () => {
  const SAMPLE = {
    aws: {
      logGroupKms: {
        kmsKeyArn: 'arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab',
        byRegion: {
          'eu-west-1': 'arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab',
        },
        exclude: ['^/aws/lambda/atrest-'],
      },
    },
    alicloud: {
      logstoreEncryption: {
        encryptType: 'default',
        userCmkInfo: { keyId: 'key-1', roleArn: 'acs:ram::1234567890123456:role/r', regionId: 'cn-hangzhou' },
        exclude: [],
      },
      clusterKms: { kmsKeyId: 'key-1', byRegion: { 'cn-beijing': 'key-2' } },
      tableBucketEncryption: { sseAlgorithm: 'AES256' },
      diskDefaultKms: { kmsKeyId: 'key-3', byRegion: {} },
    },
    idempotency: { ttlSeconds: 3600 },
    retry: { maxAttempts: 4 },
  };
  const configs = inputsFor(configSchema(), SAMPLE);
  /** Only ConfigError may escape, and it names the field(s). */
  const parsesOrNames = (run: () => unknown) => {
    try {
      run();
    } catch (error) {
      expect(error).toBeInstanceOf(ConfigError);
      const issues = (error as ConfigError).issues;
      expect(issues.length).toBeGreaterThan(0);
      for (const issue of issues) expect(issue).toMatch(/^[A-Za-z_]/);
    }
  };

  it('the sample config is valid (the arbitraries start from a real document)', () => {
    expect(() => parseConfig(SAMPLE)).not.toThrow();
  });

  it('parseConfig: a valid Config or a ConfigError naming the field', () => {
    let valid = 0;
    fc.assert(
      fc.property(configs, (value) => {
        parsesOrNames(() => {
          parseConfig(value);
          valid += 1;
        });
      }),
      params,
    );
    expect(valid).toBeGreaterThan(0);
  });

  it('parseConfigJson and configFromEnv: any text, any environment', () => {
    const texts = fc.oneof(
      configs.map((c) => JSON.stringify(c) ?? ''),
      fc.string(),
      hostileString(),
    );
    fc.assert(
      fc.property(texts, fc.dictionary(fc.string({ maxLength: 20 }), fc.string()), (text, env) => {
        parsesOrNames(() => parseConfigJson(text, 'fuzz'));
        parsesOrNames(() => configFromEnv({ ...env, ATREST_CONFIG_JSON: text }));
      }),
      params,
    );
  });
});

describe('the Function Compute adapter', () => {
  const logs: string[] = [];
  const handler = createFcHandler({
    create: () => offline(createLogstoreEncryption({ credentials, env: {} })),
    env: { ATREST_CONFIG_JSON: JSON.stringify(CONFIG) },
    store: new MemoryIdempotencyStore(),
    engine: { sleep: async () => {} },
    log: (line) => logs.push(line),
  });
  const event = sample('alicloud/logstore-encryption/create-logstore.json');
  const bodies = fc.oneof(
    inputsFor(ActionTrailCloudEvent(), event, aliNames(['CreateLogStore'])),
    fc.record({
      atrest: fc.record({ deferred: fc.record({ attempt: junk(), firstSeenAt: junk() }) }),
      event: fc.constant(event),
    }),
  );
  const delivered = fc.oneof(
    bodies.map((b) => Buffer.from(JSON.stringify(b) ?? 'null')),
    fc.string().map((s) => Buffer.from(s)),
    fc.uint8Array({ maxLength: 64 }).map((bytes) => Buffer.from(bytes)),
  );

  it('unwrapDeferred never throws', () => {
    fc.assert(
      fc.property(bodies, (body) => {
        expect(unwrapDeferred(body)).toHaveProperty('event');
      }),
      params,
    );
  });

  it('answers outcomes or throws FcRemediationError; every log line is one JSON object', async () => {
    await fc.assert(
      fc.asyncProperty(delivered, async (body) => {
        logs.length = 0;
        let outcomes: readonly Parameters<typeof contractProblems>[0][];
        try {
          outcomes = await handler(body, { requestId: 'fuzz', function: { name: 'fuzz', timeout: 60 } });
        } catch (error) {
          expect(error).toBeInstanceOf(FcRemediationError);
          outcomes = (error as FcRemediationError).outcomes;
        }
        for (const outcome of outcomes) expect(contractProblems(outcome)).toEqual([]);
        for (const line of logs) expect(typeof JSON.parse(line)).toBe('object');
      }),
      params,
    );
  });
});
