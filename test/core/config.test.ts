import { createRequire } from 'node:module';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { configFromEnv, parseConfig, parseConfigJson } from '../../functions/config.ts';
import { excludedBy, isPlainPattern } from '../../functions/core/config.ts';
import { ConfigError } from '../../functions/core/errors.ts';

const KEY = 'arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab';

const issuesOf = (value: unknown): string[] => {
  try {
    parseConfig(value);
  } catch (error) {
    if (error instanceof ConfigError) return [...error.issues];
    throw error;
  }
  return [];
};

describe('config', () => {
  it('accepts the contract example shape', () => {
    const config = parseConfig({
      aws: {
        logGroupKms: {
          kmsKeyArn: KEY,
          byRegion: { 'eu-west-1': 'arn:aws:kms:eu-west-1:111122223333:key/abcd' },
          exclude: ['^/aws/lambda/atrest-'],
        },
      },
      alicloud: {
        logstoreEncryption: {
          encryptType: 'default',
          userCmkInfo: {
            keyId: 'key-1',
            roleArn: 'acs:ram::1234567890123456:role/aliyunlogdefaultrole',
            regionId: 'cn-hangzhou',
          },
          exclude: [],
        },
        clusterKms: { kmsKeyId: 'key-abc', byRegion: { 'cn-beijing': 'key-def' } },
        tableBucketEncryption: { sseAlgorithm: 'AES256' },
        diskDefaultKms: { kmsKeyId: 'key-x', byRegion: {} },
      },
    });
    expect(config.aws?.logGroupKms?.byRegion?.['eu-west-1']).toContain('eu-west-1');
    expect(config.alicloud?.clusterKms?.kmsKeyId).toBe('key-abc');
  });

  it('names a misspelt key', () => {
    expect(issuesOf({ aws: { logGroupKms: { kmsKeyArn: KEY, exlude: [] } } })).toEqual([
      'config.aws.logGroupKms: unknown key "exlude"',
    ]);
  });

  it('names a misspelt section', () => {
    expect(issuesOf({ alicloud: { clusterKMS: { kmsKeyId: 'k' } } })).toEqual([
      'config.alicloud: unknown key "clusterKMS"',
    ]);
  });

  it('names a wrong type and a bad value', () => {
    expect(issuesOf({ aws: { logGroupKms: { kmsKeyArn: 42 } } })).toEqual([
      'config.aws.logGroupKms.kmsKeyArn: expected string',
    ]);
    expect(issuesOf({ aws: { logGroupKms: { kmsKeyArn: 'key/foo' } } })[0]).toMatch(
      /^config\.aws\.logGroupKms\.kmsKeyArn: does not match/,
    );
    // An alias is a common first try: one clear line on what to use instead, not the pattern.
    for (const alias of ['alias/foo', 'arn:aws:kms:us-east-1:111122223333:alias/foo'])
      expect(issuesOf({ aws: { logGroupKms: { kmsKeyArn: alias } } })).toEqual([
        expect.stringMatching(
          /^config\.aws\.logGroupKms\.kmsKeyArn: is a key alias; atrest needs the key ARN .*describe-key/,
        ),
      ]);
    expect(issuesOf({ alicloud: { logstoreEncryption: { encryptType: 'rot13' } } })[0]).toMatch(
      /^config\.alicloud\.logstoreEncryption\.encryptType: expected one of "default"/,
    );
  });

  it('rejects a region key that is not a region and an exclude pattern that does not compile', () => {
    expect(
      issuesOf({ aws: { logGroupKms: { kmsKeyArn: KEY, byRegion: { 'evil.example.com': KEY } } } })[0],
    ).toMatch(/byRegion/);
    expect(issuesOf({ aws: { logGroupKms: { kmsKeyArn: KEY, exclude: ['('] } } })).toEqual([
      'config.aws.logGroupKms.exclude.0: not a valid RE2 pattern "(" (error parsing regexp: missing closing ): `(`)',
    ]);
  });

  it('rejects, naming field and pattern, what RE2 cannot match in linear time (lookaround, backreferences)', () => {
    const issues = issuesOf({
      alicloud: { clusterKms: { kmsKeyId: 'key-1', exclude: ['^ok-', '^(?!prod-)', '(a)\\1'] } },
    });
    expect(issues).toHaveLength(2);
    expect(issues[0]).toMatch(
      /^config\.alicloud\.clusterKms\.exclude\.1: not a valid RE2 pattern "\^\(\?!prod-\)"/,
    );
    expect(issues[1]).toMatch(/^config\.alicloud\.clusterKms\.exclude\.2: not a valid RE2 pattern/);
  });

  it('matches a nested-quantifier pattern against a 40-character name without backtracking', () => {
    // With a backtracking engine `^(a+)+$` on 40 a's and a '!' takes 2^40 steps: the sweep hung.
    const config = parseConfig({
      aws: { logGroupKms: { kmsKeyArn: KEY, exclude: ['^(a+)+$', '(a|aa)*c$'] } },
    });
    const exclude = config.aws?.logGroupKms?.exclude;
    expect(excludedBy(`${'a'.repeat(40)}!`, exclude)).toBeUndefined();
    expect(excludedBy('a'.repeat(40), exclude)).toBe('^(a+)+$');
    expect(excludedBy(`${'a'.repeat(39)}c`, exclude)).toBe('(a|aa)*c$');
  });

  it('reads a config saved with a UTF-8 byte-order mark', () => {
    expect(
      parseConfigJson(`\uFEFF${JSON.stringify({ aws: { logGroupKms: { kmsKeyArn: KEY } } })}`, 'atrest.json'),
    ).toEqual({
      aws: { logGroupKms: { kmsKeyArn: KEY } },
    });
  });

  it('reports JSON syntax errors with the source named', () => {
    expect(() => parseConfigJson('{"aws":', 'atrest.json')).toThrow(/atrest\.json: not valid JSON/);
  });

  it('requires ATREST_CONFIG_JSON in a deployed function', () => {
    expect(() => configFromEnv({})).toThrow(/ATREST_CONFIG_JSON: not set/);
    expect(configFromEnv({ ATREST_CONFIG_JSON: '{}' })).toEqual({});
  });

  it('matches exclude patterns and returns the one that matched', () => {
    expect(excludedBy('/aws/lambda/atrest-x', ['^/tmp', '^/aws/lambda/atrest-'])).toBe(
      '^/aws/lambda/atrest-',
    );
    expect(excludedBy('/app', ['^/tmp'])).toBeUndefined();
    expect(excludedBy('/app', undefined)).toBeUndefined();
  });

  it('runs plain prefix/suffix patterns on the built-in engine, with the same answers RE2 gives', () => {
    const { RE2JS } = createRequire(import.meta.url)('re2js') as typeof import('re2js');
    expect(['^/aws/lambda/atrest-', '-test$', '^dev-|^test-', '\\.log$', 'a.b'].every(isPlainPattern)).toBe(
      true,
    );
    expect(['^(a+)+$', '[a-z]', 'a*', 'x{2}', '(?i)a', '\\pL', 'a||b', '\\s'].some(isPlainPattern)).toBe(
      false,
    );
    const token = fc.constantFrom('a', 'b', '-', '/', '.', '\\.', '\\-', '\\d', '\\w', '\\W', '1', '_');
    const branch = fc
      .tuple(fc.boolean(), fc.array(token, { minLength: 1, maxLength: 6 }), fc.boolean())
      .map(([start, body, end]) => `${start ? '^' : ''}${body.join('')}${end ? '$' : ''}`);
    const pattern = fc.array(branch, { minLength: 1, maxLength: 3 }).map((b) => b.join('|'));
    const name = fc.string({ unit: fc.constantFrom('a', 'b', '-', '/', '.', '1', '_', 'Z'), maxLength: 12 });
    fc.assert(
      fc.property(pattern, name, (p, n) => {
        expect(isPlainPattern(p)).toBe(true);
        expect(excludedBy(n, [p]) === p).toBe(RE2JS.compile(p).matcher(n).find());
      }),
      { numRuns: 500 },
    );
  });

  it('never throws anything but ConfigError, whatever the input', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        try {
          parseConfig(value);
        } catch (error) {
          expect(error).toBeInstanceOf(ConfigError);
          expect((error as ConfigError).issues.length).toBeGreaterThan(0);
        }
      }),
      { numRuns: 500 },
    );
  });
});

describe('alicloud delivery paths', () => {
  const section = { kmsKeyId: 'key-1' };

  it.each([[['eventbridge']], [['trail']], [['eventbridge', 'trail']]])('accepts %j', (delivery) => {
    expect(
      parseConfig({ alicloud: { clusterKms: { ...section, delivery } } }).alicloud?.clusterKms?.delivery,
    ).toEqual(delivery);
  });

  it.each([
    [[], 'too small'],
    [['trail', 'trail'], 'each path at most once'],
    [['sns'], 'expected one of'],
  ])('refuses %j, naming the field', (delivery, why) => {
    expect(() => parseConfig({ alicloud: { clusterKms: { ...section, delivery } } })).toThrow(
      new RegExp(`config\\.alicloud\\.clusterKms\\.delivery.*${why}`),
    );
  });
});
