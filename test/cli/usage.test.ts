/**
 * The CLI's own usability: per-verb help, --version, "did you mean" for verbs, options and
 * function ids, short usage errors, the dry-run summary, and `atrest init`.
 */
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { didYouMean } from '#core/spelling';
import { dryRunSummary, main, version } from '../../functions/cli/main.ts';
import { VERBS } from '../../functions/cli/usage.ts';
import { parseConfig } from '../../functions/config.ts';
import type { Outcome } from '../../functions/core/outcome.ts';
import { captureIo } from './helpers.ts';

const run = async (argv: string[]) => {
  const io = captureIo({});
  const code = await main(argv, io);
  return { code, stdout: io.stdout, stderr: io.stderr.join('\n') };
};
const US = 'arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab';
const EU = 'arn:aws:kms:eu-west-1:111122223333:key/5678abcd-12ab-34cd-56ef-1234567890ab';

describe('help and version', () => {
  it.each(Object.keys(VERBS))(
    'atrest %s --help prints that verb’s help, exit 0, stdout untouched',
    async (verb) => {
      const { code, stdout, stderr } = await run([verb, '--help']);

      expect(code).toBe(0);
      expect(stdout).toEqual([]);
      expect(stderr).toMatch(new RegExp(`^usage: atrest ${verb} `));
      for (const other of Object.keys(VERBS).filter((v) => v !== verb))
        expect(stderr).not.toMatch(new RegExp(`usage: atrest ${other} `));
    },
  );

  it('atrest --help lists every verb in one line each', async () => {
    const { code, stderr } = await run(['--help']);
    expect(code).toBe(0);
    for (const verb of Object.keys(VERBS)) expect(stderr).toMatch(new RegExp(`^  ${verb} +\\S`, 'm'));
  });

  it('--version prints the package version on stdout', async () => {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8'));
    expect(await run(['--version'])).toMatchObject({ code: 0, stdout: [`atrest ${pkg.version}`] });
    expect(version()).toBe(pkg.version);
  });
});

describe('usage errors: short, with a suggestion', () => {
  it.each([
    [['swep', 'aws.log-group-kms'], /unknown command "swep" — did you mean "sweep"\?/],
    [['doctr'], /unknown command "doctr" — did you mean "doctor"\?/],
    [
      ['sweep', 'aws.log-grup-kms'],
      /unknown function id "aws.log-grup-kms" — did you mean "aws.log-group-kms"\?/,
    ],
    [['sweep', 'alicloud.cluster-ksm'], /did you mean "alicloud.cluster-kms"\?/],
    [['sweep', 'aws.log-group-kms', '--dryrun'], /unknown option --dryrun — did you mean "--dry-run"\?/],
    [['replay', 'x.json', '--forse'], /unknown option --forse — did you mean "--force"\?/],
    [['doctor', '--aws-regoin', 'us-east-1'], /did you mean "--aws-region"\?/],
  ])('%j', async (argv, message) => {
    const { code, stdout, stderr } = await run(argv);

    expect(code).toBe(2);
    expect(stdout).toEqual([]);
    expect(stderr).toMatch(message);
    // The message, the synopsis, where to read more: not the whole manual.
    expect(stderr.split('\n').length).toBeLessThanOrEqual(3);
  });

  it('suggests nothing for a word that is not a typo', async () => {
    const { stderr } = await run(['deploy']);
    expect(stderr).toMatch(/unknown command "deploy"$/m);
    expect(didYouMean('banana', ['sweep', 'doctor'])).toBeUndefined();
  });
});

describe('dry-run summary', () => {
  const outcome = (o: Partial<Outcome>): Outcome =>
    ({
      function: 'aws.log-group-kms',
      eventId: 'e',
      resource: 'r',
      region: 'us-east-1',
      outcome: 'compliant',
      attempts: 0,
      durationMs: 1,
      dryRun: true,
      ...o,
    }) as Outcome;

  it('says how many would change and lists them, bounded', () => {
    const outcomes = [
      ...Array.from({ length: 25 }, (_, i) => outcome({ outcome: 'applied', resource: `/g/${i}` })),
      outcome({ outcome: 'compliant' }),
      outcome({ outcome: 'failed' }),
    ];
    const lines = dryRunSummary(outcomes).split('\n');

    expect(lines[0]).toBe(
      'atrest: dry run, nothing written: 25 would change, 1 failed or rejected, 1 would stay as they are',
    );
    expect(lines[1]).toBe('  would encrypt /g/0 (us-east-1)');
    expect(lines).toHaveLength(22);
    expect(lines.at(-1)).toBe('  … and 5 more (the applied lines on stdout)');
  });

  it('counts a resource named by several events once', () => {
    const twice = [
      outcome({ outcome: 'applied', resource: '/g/1' }),
      outcome({ outcome: 'applied', resource: '/g/1' }),
    ];
    expect(dryRunSummary(twice).split('\n')).toEqual([
      'atrest: dry run, nothing written: 1 would change, 0 would stay as they are',
      '  would encrypt /g/1 (us-east-1)',
    ]);
  });
});

describe('atrest init', () => {
  const dir = () => mkdtempSync(join(tmpdir(), 'atrest-init-'));

  it('writes a valid config from the flags: one key per region, the functions whose keys were given', async () => {
    const out = join(dir(), 'atrest.json');
    const { code, stderr } = await run([
      'init',
      '--out',
      out,
      '--aws-key',
      US,
      '--aws-key',
      EU,
      '--alicloud-key',
      'key-hzz6c1f2b3a4d5e6f7g8h',
      '--alicloud-region',
      'cn-hangzhou',
      '--logstore-role',
      'acs:ram::1234567890123456:role/aliyunlogdefaultrole',
    ]);
    const written = JSON.parse(readFileSync(out, 'utf8'));

    expect(code).toBe(0);
    expect(parseConfig(written)).toEqual(written);
    expect(written.aws.logGroupKms).toEqual({
      kmsKeyArn: US,
      byRegion: { 'eu-west-1': EU },
      exclude: ['^/aws/lambda/atrest-'],
    });
    expect(written.alicloud.logstoreEncryption.userCmkInfo).toEqual({
      keyId: 'key-hzz6c1f2b3a4d5e6f7g8h',
      roleArn: 'acs:ram::1234567890123456:role/aliyunlogdefaultrole',
      regionId: 'cn-hangzhou',
    });
    expect(Object.keys(written.alicloud).sort()).toEqual([
      'clusterKms',
      'diskDefaultKms',
      'logstoreEncryption',
      'tableBucketEncryption',
    ]);
    expect(written.alicloud.diskDefaultKms.regions).toEqual(['cn-hangzhou']);
    expect(stderr).toMatch(/Next:\n {2}npx atrest doctor --config/);
  });

  it('enables only the functions asked for', async () => {
    const out = join(dir(), 'a.json');
    await run(['init', '--out', out, '--alicloud-key', 'key-1', '--functions', 'alicloud.cluster-kms']);
    expect(JSON.parse(readFileSync(out, 'utf8'))).toEqual({
      alicloud: { clusterKms: { kmsKeyId: 'key-1' } },
    });
  });

  it.each([
    [['--functions', 'alicloud.cluster-ksm', '--alicloud-key', 'k'], /did you mean "alicloud.cluster-kms"/],
    [['--functions', 'aws.log-group-kms'], /aws.log-group-kms needs --aws-key ARN/],
    [[], /nothing to enable/],
    [['--aws-key', US, '--aws-key', US], /two keys for us-east-1/],
    [['--aws-key', 'alias/logs'], /is a key alias; atrest needs the key ARN/],
  ])('refuses %j with one clear line and writes nothing', async (flags, message) => {
    const out = join(dir(), 'x.json');
    const { code, stderr } = await run(['init', '--out', out, ...flags]);

    expect(code).toBe(2);
    expect(stderr).toMatch(message);
    expect(existsSync(out)).toBe(false);
  });

  it('does not overwrite an existing file without --force', async () => {
    const out = join(dir(), 'atrest.json');
    writeFileSync(out, '{"mine":true}');
    const refused = await run(['init', '--out', out, '--aws-key', US]);

    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/exists; pass --force/);
    expect(readFileSync(out, 'utf8')).toBe('{"mine":true}');
    expect((await run(['init', '--out', out, '--aws-key', US, '--force'])).code).toBe(0);
    expect(JSON.parse(readFileSync(out, 'utf8')).aws.logGroupKms.kmsKeyArn).toBe(US);
  });
});
