/**
 * Config beside the function (issue 12 item 2): a function's section is defined in its own folder
 * and composed by core, so a sixth function brings its section without an edit to functions/core.
 * The sixth manifest here is a throwaway (`aws.bucket-kms`), built only from what core exports.
 */

import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import * as z from 'zod/mini';
import { createFcHandler } from '../../functions/alicloud/fc.ts';
import { handlerOptions as logstoreHandlerOptions } from '../../functions/alicloud/logstore-encryption/handler.ts';
import { configFromEnv as documentFromEnv, parseConfig as parseDocument } from '../../functions/config.ts';
import {
  type Config,
  composeConfig,
  defineSection,
  enforcement,
  excludePatterns,
  type SectionType,
} from '../../functions/core/config.ts';
import { remediateEvent } from '../../functions/core/engine.ts';
import { ConfigError } from '../../functions/core/errors.ts';
import { MemoryIdempotencyStore } from '../../functions/core/idempotency.ts';
import type { FunctionManifest } from '../../functions/core/manifest.ts';
import type { Remediator, Target } from '../../functions/core/remediator.ts';
import { FUNCTION_IDS, MANIFESTS } from '../../functions/manifests.ts';
import * as registry from '../../functions/registry.ts';
import { functionConfig } from '../../infra/functions.ts';

const EXAMPLE = new URL('../../infra/example-config.json', import.meta.url);
const KEY = 'arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab';

/** Counts how often its schema is built: composing must not build it, parsing builds it once. */
let builds = 0;

/** What a sixth function's folder config.ts would hold. */
const bucketKmsConfig = defineSection({
  cloud: 'aws',
  section: 'bucketKms',
  schema: () => {
    builds += 1;
    return z.strictObject({
      kmsKeyArn: z.string().check(z.minLength(1)),
      bucketKeyEnabled: z.optional(z.boolean()),
      exclude: z.optional(excludePatterns()),
      ...enforcement(),
    });
  },
  rules: (section, path) =>
    section.bucketKeyEnabled === false && section.kmsKeyArn.endsWith('-dsse')
      ? [`${path}.bucketKeyEnabled: must stay on with a DSSE key`]
      : [],
});
type BucketKmsConfig = SectionType<typeof bucketKmsConfig>;

/** Its manifest: the one registration line would point the registry at this. */
const sixth = {
  id: 'aws.bucket-kms',
  cloud: 'aws',
  folder: 'bucket-kms',
  section: bucketKmsConfig.section,
  config: bucketKmsConfig,
  events: { creation: ['CreateBucket'], tamper: [] },
  trigger: { eventNames: ['CreateBucket'] },
  remediator: async () => bucketRemediator(),
} as const satisfies FunctionManifest;

/** Its remediator, reading its section through the accessor only; one bucket's key in memory. */
function bucketRemediator(): Remediator<Target, string, string | undefined> {
  let key: string | undefined;
  return {
    id: 'aws.bucket-kms',
    owns: () => true,
    parse: (event: unknown) => {
      const name = String((event as { name?: unknown }).name);
      const target = { eventId: 'e1', account: '111122223333', region: 'us-east-1', resource: name, name };
      return { kind: 'targets', targets: [{ ...target, observedAt: '2026-11-22T10:00:00Z' }] };
    },
    desire: (_target: Target, config: Config) => {
      const section: BucketKmsConfig | undefined = bucketKmsConfig.of(config);
      return section === undefined
        ? { kind: 'off' }
        : { kind: 'desired', desired: section.kmsKeyArn, key: section.kmsKeyArn };
    },
    read: async () => ({ kind: 'found', state: key }),
    evaluate: (state: string | undefined, desired: string) =>
      state === desired ? { kind: 'compliant' } : { kind: 'write' },
    apply: async (_target: Target, desired: string) => {
      key = desired;
    },
    classify: (error: unknown) => {
      throw error;
    },
  };
}

const issuesOf = (parse: (value: unknown) => unknown, value: unknown): string[] => {
  try {
    parse(value);
  } catch (error) {
    if (error instanceof ConfigError) return [...error.issues];
    throw error;
  }
  return [];
};

const withSixth = () => composeConfig([...MANIFESTS.map((m) => m.config), sixth.config]);

describe('a sixth function brings its own config section (no edit to functions/core)', () => {
  it('is built on first parse, not when composed or imported', () => {
    builds = 0;
    const composer = withSixth();
    expect(builds).toBe(0);
    composer.parseConfig({});
    composer.parseConfig({ aws: { bucketKms: { kmsKeyArn: KEY } } });
    expect(builds).toBe(1);
  });

  it('parses its section strictly beside the five', () => {
    const doc = withSixth().parseConfig({
      aws: { logGroupKms: { kmsKeyArn: KEY }, bucketKms: { kmsKeyArn: KEY, exclude: ['^tmp-'] } },
      alicloud: { clusterKms: { kmsKeyId: 'key-1' } },
    });
    expect(bucketKmsConfig.of(doc)).toEqual({ kmsKeyArn: KEY, exclude: ['^tmp-'] });
    expect(doc.aws?.bucketKms?.kmsKeyArn).toBe(KEY);
    expect(doc.alicloud).toEqual({ clusterKms: { kmsKeyId: 'key-1' } });
  });

  it('names a misspelt key of its section, a wrong type, and a shared field it takes from core', () => {
    const parse = withSixth().parseConfig;
    expect(issuesOf(parse, { aws: { bucketKms: { kmsKeyArn: KEY, bucketKeyEnable: true } } })).toEqual([
      'config.aws.bucketKms: unknown key "bucketKeyEnable"',
    ]);
    expect(issuesOf(parse, { aws: { bucketKms: { kmsKeyArn: 7 } } })).toEqual([
      'config.aws.bucketKms.kmsKeyArn: expected string',
    ]);
    expect(issuesOf(parse, { aws: { bucketKms: { kmsKeyArn: KEY, enforce: 'sometimes' } } })).toEqual([
      'config.aws.bucketKms.enforce: expected one of "always", "create"',
    ]);
    expect(issuesOf(parse, { aws: { bucketKms: { kmsKeyArn: KEY, exclude: ['(a)\\1'] } } })[0]).toMatch(
      /^config\.aws\.bucketKms\.exclude\.0: not a valid RE2 pattern/,
    );
  });

  it('runs its cross-field rules with its path, after its schema passed', () => {
    const parse = withSixth().parseConfig;
    expect(
      issuesOf(parse, { aws: { bucketKms: { kmsKeyArn: `${KEY}-dsse`, bucketKeyEnabled: false } } }),
    ).toEqual(['config.aws.bucketKms.bucketKeyEnabled: must stay on with a DSSE key']);
    expect(issuesOf(parse, { aws: { bucketKms: { kmsKeyArn: `${KEY}-dsse` } } })).toEqual([]);
  });

  it('is an unknown key, named, in a document composed without it', () => {
    expect(issuesOf(parseDocument, { aws: { bucketKms: { kmsKeyArn: KEY } } })).toEqual([
      'config.aws: unknown key "bucketKms"',
    ]);
  });

  it('absent means switched off: its events end ignored; present, they are acted on', async () => {
    const run = async (doc: unknown) => {
      const config = withSixth().parseConfig(doc);
      const [outcome] = await remediateEvent(
        bucketRemediator(),
        { name: 'b1' },
        {
          config,
          store: new MemoryIdempotencyStore(),
        },
      );
      return outcome;
    };
    expect(await run({ aws: { logGroupKms: { kmsKeyArn: KEY } } })).toMatchObject({
      outcome: 'ignored',
      reason: 'aws.bucket-kms is not configured',
    });
    expect(await run({ aws: { bucketKms: { kmsKeyArn: KEY } } })).toMatchObject({ outcome: 'applied' });
  });

  it('a handler composed from its own section fails start-up naming the field, and reads a whole document', () => {
    const own = composeConfig([bucketKmsConfig], { scope: 'own' });
    const env = (doc: unknown) => ({ ATREST_CONFIG_JSON: JSON.stringify(doc) });
    expect(() => own.configFromEnv(env({ aws: { bucketKms: { kmsKeyArn: KEY, exlude: [] } } }))).toThrow(
      'config.aws.bucketKms: unknown key "exlude"',
    );
    // Shared parts stay strict for it too.
    expect(() => own.configFromEnv(env({ retyr: {}, aws: { bucketKms: { kmsKeyArn: KEY } } }))).toThrow(
      'config: unknown key "retyr"',
    );
    expect(() =>
      own.configFromEnv(env({ aws: { organization: { memberRoleName: 'r', regions: [] } } })),
    ).toThrow('config.aws.organization.regions: too small (minimum 1)');
    // The whole document (the demo, a hand-made deployment) carries the five others' sections:
    // not its schemas to load, they pass unread; the CLI and synth check them.
    const whole = { aws: { logGroupKms: { kmsKeyArn: KEY }, bucketKms: { kmsKeyArn: KEY } } };
    expect(bucketKmsConfig.of(own.configFromEnv(env(whole)))).toEqual({ kmsKeyArn: KEY });
    expect(() => documentFromEnv(env(whole))).toThrow('config.aws: unknown key "bucketKms"');
  });

  it('a handler fails start-up on its own section under a misspelt name (it would otherwise be off)', () => {
    const own = composeConfig([bucketKmsConfig], { scope: 'own' });
    const env = (doc: unknown) => ({ ATREST_CONFIG_JSON: JSON.stringify(doc) });
    expect(() => own.configFromEnv(env({ aws: { bucketKsm: { kmsKeyArn: KEY } } }))).toThrow(
      'config.aws: unknown key "bucketKsm" — did you mean "bucketKms"?',
    );
    // Beside the right one as well: two sections for one function is a mistake too.
    expect(() =>
      own.configFromEnv(env({ aws: { bucketKms: { kmsKeyArn: KEY }, BucketKms: { kmsKeyArn: KEY } } })),
    ).toThrow('config.aws: unknown key "BucketKms" — did you mean "bucketKms"?');
    // Another function's section is not a typo of this one's: it passes unread, and this one is off.
    expect(own.configFromEnv(env({ aws: { logGroupKms: { kmsKeyArn: KEY } } }))).toEqual({
      aws: { logGroupKms: { kmsKeyArn: KEY } },
    });
  });

  it('a deployed FC function (its handler.ts) reads its own section strictly and the whole document', () => {
    const env = (doc: unknown) => ({ ATREST_CONFIG_JSON: JSON.stringify(doc) });
    const start = (doc: unknown) => createFcHandler(logstoreHandlerOptions({ env: env(doc) }));
    expect(() => start({ alicloud: { logstoreEncryption: { encryptType: 'default', exlude: [] } } })).toThrow(
      'config.alicloud.logstoreEncryption: unknown key "exlude"',
    );
    expect(() => start({ alicloud: { logstoreEncryption: { encryptType: 'rot13' } } })).toThrow(
      /config\.alicloud\.logstoreEncryption\.encryptType: expected one of "default"/,
    );
    expect(() => start(JSON.parse(readFileSync(EXAMPLE, 'utf8')))).not.toThrow();
  });

  it('refuses two definitions of one section, or one shadowing organization', () => {
    const copy = defineSection({ cloud: 'aws', section: 'bucketKms', schema: () => z.strictObject({}) });
    expect(() => composeConfig([bucketKmsConfig, copy])).toThrow(/aws\.bucketKms is defined twice/);
    // One definition shared by two functions is one key.
    const doc = { aws: { bucketKms: { kmsKeyArn: KEY } } };
    expect(composeConfig([bucketKmsConfig, bucketKmsConfig]).parseConfig(doc)).toEqual(doc);
    const shadow = defineSection({
      cloud: 'alicloud',
      section: 'organization',
      schema: () => z.strictObject({}),
    });
    expect(() => composeConfig([shadow])).toThrow(/alicloud\.organization/);
  });
});

describe('every deployed handler (each manifest) reads its own section strictly at start-up', () => {
  // The Lambda module builds its handler at import (init), so a valid environment comes first.
  beforeAll(() => {
    vi.stubEnv('ATREST_CONFIG_JSON', readFileSync(EXAMPLE, 'utf8'));
    vi.stubEnv('AWS_REGION', 'us-east-1');
  });
  afterAll(() => {
    vi.unstubAllEnvs();
  });

  const starter = (m: (typeof MANIFESTS)[number]) => (doc: unknown) => {
    const env = { AWS_REGION: 'us-east-1', ATREST_CONFIG_JSON: JSON.stringify(doc) };
    const entry = `../../functions/${m.cloud}/${m.folder}/handler.ts`;
    return m.cloud === 'aws'
      ? (async () => (await import(entry)).createHandler({ env }))()
      : (async () => createFcHandler((await import(entry)).handlerOptions({ env })))();
  };

  it.each(MANIFESTS.map((m) => [m.id, m] as const))('%s', async (_id, m) => {
    const start = starter(m);
    await expect(start({ [m.cloud]: { [m.section]: { zzTypo: 1 } } })).rejects.toThrow(
      `config.${m.cloud}.${m.section}: unknown key "zzTypo"`,
    );
    // Its section under a misspelt name (a swapped pair of letters) fails too, naming both.
    const misspelt = `${m.section.slice(0, 2)}${m.section[3]}${m.section[2]}${m.section.slice(4)}`;
    await expect(start({ [m.cloud]: { [misspelt]: {} } })).rejects.toThrow(
      `config.${m.cloud}: unknown key "${misspelt}" — did you mean "${m.section}"?`,
    );
  });
});

describe('what infra deploys a function with (functionConfig)', () => {
  const ORG = { memberRoleName: 'atrest-member', regions: ['us-east-1'] };
  const whole = parseDocument({
    aws: { organization: ORG, logGroupKms: { kmsKeyArn: KEY } },
    alicloud: { clusterKms: { kmsKeyId: 'key-1' } },
    retry: { maxAttempts: 3 },
  });

  it("is its own section, its cloud's organization and the shared parts, which its handler reads back", () => {
    const own = functionConfig('aws.log-group-kms', whole);
    expect(own).toEqual({
      retry: { maxAttempts: 3 },
      aws: { organization: ORG, logGroupKms: { kmsKeyArn: KEY } },
    });
    expect(parseDocument(own)).toEqual(own);
    expect(functionConfig('alicloud.cluster-kms', whole)).toEqual({
      retry: { maxAttempts: 3 },
      alicloud: { clusterKms: { kmsKeyId: 'key-1' } },
    });
    expect(functionConfig('alicloud.disk-default-kms', whole)).toEqual({ retry: { maxAttempts: 3 } });
  });
});

describe('the registry', () => {
  it('keeps the functions in the order they were added (CLI output and usage follow it)', () => {
    expect(FUNCTION_IDS).toEqual([
      'aws.log-group-kms',
      'alicloud.logstore-encryption',
      'alicloud.cluster-kms',
      'alicloud.table-bucket-encryption',
      'alicloud.disk-default-kms',
    ]);
  });

  it('names its lines fNN, so that their sorted order is the order they were added', () => {
    const lines = Object.entries(registry);
    expect(lines.every(([name]) => /^f\d{2}$/.test(name))).toBe(true);
    const sorted = lines.sort(([a], [b]) => Number(a.slice(1)) - Number(b.slice(1)));
    expect(MANIFESTS).toEqual(sorted.map(([, manifest]) => manifest));
  });

  it("gives each manifest its folder's section, where the manifest says it sits", () => {
    for (const m of MANIFESTS) {
      expect(m.config.cloud).toBe(m.cloud);
      expect(m.config.section).toBe(m.section);
    }
  });
});
