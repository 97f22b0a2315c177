/**
 * `npm run deploy:aws|deploy:alicloud`: the local steps really run (bundle, zip, synth with the
 * checks), the cloud steps go through an injected runner, so the plan, the create-or-update
 * decision and the re-run are all tested offline.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inflateRawSync } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigError } from '../../functions/core/errors.ts';
import { ALICLOUD_FUNCTION_IDS } from '../../infra/alicloud/atrest-stack.ts';
import { type CommandResult, deploy, parseDeployArgs } from '../../infra/deploy.ts';
import { REPO_ROOT } from '../../infra/functions.ts';
import { zipDirectory } from '../../infra/zip.ts';

const EXAMPLE = join(REPO_ROOT, 'infra', 'example-config.json');
const EU_KEY = 'arn:aws:kms:eu-west-1:111122223333:key/5678abcd-12ab-34cd-56ef-1234567890ab';
const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});
const temp = () => {
  const d = mkdtempSync(join(tmpdir(), 'atrest-deploy-'));
  dirs.push(d);
  return d;
};

/** A fake cloud CLI: answers by the command, records every call. */
function fakeCli(answer: (argv: readonly string[]) => CommandResult = () => ({ code: 0, stdout: '' })) {
  const calls: string[][] = [];
  const run = async (argv: readonly string[]) => {
    calls.push([...argv]);
    return answer(argv);
  };
  return { calls, run };
}

async function deployWith(cloud: 'aws' | 'alicloud', extra: string[], run = fakeCli().run) {
  const dir = temp();
  const lines: string[] = [];
  const argv = [
    cloud,
    '--config',
    EXAMPLE,
    '--alarm-email',
    'oncall@example.com',
    '--dist',
    join(dir, 'dist'),
    '--out',
    join(dir, 'out'),
    ...extra,
  ];
  const code = await deploy(argv, (l) => lines.push(l), run);
  return { code, lines, dir };
}

// Bundling and synth are real work; on a shared 2-core machine they may take a while.
describe('deploy:aws', { timeout: 120_000 }, () => {
  it('--dry-run: synthesises for the region (its own key) and prints bootstrap + deploy, running nothing', async () => {
    const cli = fakeCli();
    const { code, lines, dir } = await deployWith(
      'aws',
      ['--region', 'eu-west-1', '--account', '111122223333', '--dry-run'],
      cli.run,
    );

    expect(code).toBe(0);
    expect(cli.calls).toEqual([]);
    expect(lines.some((l) => / \$ \S+\/cdk bootstrap aws:\/\/111122223333\/eu-west-1 /.test(l))).toBe(true);
    expect(
      lines.some((l) =>
        / \$ \S+\/cdk deploy --app \S+aws-eu-west-1 --require-approval never --region eu-west-1 Atrest/.test(
          l,
        ),
      ),
    ).toBe(true);
    expect(lines.at(-1)).toBe('deploy: dry run, nothing was deployed');
    const template = JSON.parse(
      readFileSync(join(dir, 'out', 'aws-eu-west-1', 'Atrest.template.json'), 'utf8'),
    );
    const groups = Object.values(
      template.Resources as Record<string, { Type: string; Properties: { KmsKeyId?: unknown } }>,
    ).filter((r) => r.Type === 'AWS::Logs::LogGroup');
    expect(groups.map((g) => g.Properties.KmsKeyId)).toEqual([EU_KEY]);
  });

  it('runs the same two commands on every run, and stops with exit 1 when one fails', async () => {
    const first = fakeCli();
    await deployWith('aws', ['--region', 'eu-west-1'], first.run);
    const again = fakeCli();
    await deployWith('aws', ['--region', 'eu-west-1'], again.run);
    const strip = (calls: string[][]) => calls.map((c) => c.slice(1, 2));

    expect(strip(first.calls)).toEqual([['bootstrap'], ['deploy']]);
    expect(strip(again.calls)).toEqual(strip(first.calls));
    const failing = fakeCli((argv) => ({ code: argv[1] === 'deploy' ? 1 : 0, stdout: '' }));
    const { code, lines } = await deployWith('aws', ['--region', 'eu-west-1'], failing.run);
    expect(code).toBe(1);
    expect(lines.at(-1)).toMatch(/step 4 failed \(exit 1\); fix the cause and run the same command again/);
  });

  it('refuses a region without a key in the config, before anything runs', async () => {
    const cli = fakeCli();
    await expect(deployWith('aws', ['--region', 'ap-south-1'], cli.run)).rejects.toThrow(
      /byRegion\.ap-south-1: no key/,
    );
    expect(cli.calls).toEqual([]);
  });
});

describe('deploy:alicloud', { timeout: 120_000 }, () => {
  it('--dry-run: zips and synthesises, prints upload-if-absent per function and create-or-update', async () => {
    const cli = fakeCli();
    const { code, lines, dir } = await deployWith(
      'alicloud',
      ['--region', 'cn-hangzhou', '--code-bucket', 'code', '--dry-run'],
      cli.run,
    );

    expect(code).toBe(0);
    expect(cli.calls).toEqual([]);
    expect(
      lines.filter((l) =>
        / \$ aliyun oss stat oss:\/\/code\/atrest\/alicloud\.[a-z-]+-[0-9a-f]{16}\.zip --region cn-hangzhou/.test(
          l,
        ),
      ),
    ).toHaveLength(ALICLOUD_FUNCTION_IDS.length);
    expect(lines.filter((l) => /if absent: \$ aliyun oss cp /.test(l))).toHaveLength(
      ALICLOUD_FUNCTION_IDS.length,
    );
    expect(
      lines.some((l) => l.includes('aliyun ros ListStacks --RegionId cn-hangzhou --StackName.1 atrest')),
    ).toBe(true);
    expect(
      lines.some((l) =>
        /then, if absent: \$ aliyun ros CreateStack .*--Parameters\.1\.ParameterKey CodeBucket --Parameters\.1\.ParameterValue code/.test(
          l,
        ),
      ),
    ).toBe(true);
    expect(lines.some((l) => /else: +\$ aliyun ros UpdateStack /.test(l))).toBe(true);
    expect(
      JSON.parse(readFileSync(join(dir, 'out', 'alicloud-cn-hangzhou', 'Atrest.template.json'), 'utf8'))
        .ROSTemplateFormatVersion,
    ).toBe('2015-09-01');
  });

  it('creates the stack once, then updates it; uploads only what is missing; the same zips every run', async () => {
    const uploaded = new Set<string>();
    let stack: string | undefined;
    const cloud = fakeCli((argv) => {
      const [, service, verb] = argv;
      if (service === 'oss' && verb === 'stat')
        return { code: uploaded.has(argv[3] ?? '') ? 0 : 1, stdout: '' };
      if (service === 'oss' && verb === 'cp') uploaded.add(argv[4] ?? '');
      if (verb === 'ListStacks')
        return {
          code: 0,
          stdout: JSON.stringify({ Stacks: stack ? [{ StackName: 'atrest', StackId: stack }] : [] }),
        };
      if (verb === 'CreateStack') stack = 'stack-1';
      return { code: 0, stdout: '' };
    });
    const args = ['--region', 'cn-hangzhou', '--code-bucket', 'code'];
    const verbs = () => cloud.calls.map((c) => `${c[1]} ${c[2]}`);

    expect((await deployWith('alicloud', args, cloud.run)).code).toBe(0);
    expect(verbs()).toEqual([
      ...Array(ALICLOUD_FUNCTION_IDS.length).fill(['oss stat', 'oss cp']).flat(),
      'ros ListStacks',
      'ros CreateStack',
    ]);
    const create = cloud.calls.at(-1) ?? [];
    expect(create.slice(create.indexOf('--TemplateBody'), create.indexOf('--TemplateBody') + 2)[1]).toMatch(
      /^\{/,
    );

    cloud.calls.length = 0;
    expect((await deployWith('alicloud', args, cloud.run)).code).toBe(0);
    // Same bundles → same zip names → nothing to upload; the stack exists → update, by id.
    expect(verbs()).toEqual([
      ...Array(ALICLOUD_FUNCTION_IDS.length).fill('oss stat'),
      'ros ListStacks',
      'ros UpdateStack',
    ]);
    expect(cloud.calls.at(-1)).toEqual(expect.arrayContaining(['--StackId', 'stack-1']));
  });
});

describe('deploy arguments', () => {
  it.each([
    [
      ['alicloud', '--config', EXAMPLE, '--alarm-email', 'a@b.c', '--region', 'cn-hangzhou'],
      /--code-bucket: required/,
    ],
    [['aws', '--config', EXAMPLE, '--region', 'eu-west-1'], /--alarm-email: required/],
    [
      ['aws', '--config', EXAMPLE, '--alarm-email', 'a@b.c'],
      /--region: required, the AWS region of this stack \(one stack per account and region/,
    ],
    [['gcp'], /first argument must be aws or alicloud/],
  ])('%j is one clear line', (argv, message) => {
    expect(() => parseDeployArgs(argv, {})).toThrow(ConfigError);
    expect(() => parseDeployArgs(argv, {})).toThrow(message);
  });
});

describe('zipDirectory', () => {
  it('is deterministic and readable: each entry inflates back to the file', () => {
    const dir = temp();
    writeFileSync(join(dir, 'b.json'), '{"b":2}');
    mkdirSync(join(dir, 'node_modules', 'x'), { recursive: true });
    writeFileSync(join(dir, 'node_modules', 'x', 'index.js'), 'module.exports = 1;\n'.repeat(50));
    writeFileSync(join(dir, 'a.js'), 'exports.handler = async () => [];');
    const zip = zipDirectory(dir);
    expect(zipDirectory(dir).equals(zip)).toBe(true);
    // Entries in path order, each a local header, then the deflated bytes.
    const names: string[] = [];
    for (let at = 0; zip.readUInt32LE(at) === 0x04034b50; ) {
      const size = zip.readUInt32LE(at + 18);
      const nameLength = zip.readUInt16LE(at + 26);
      const name = zip.subarray(at + 30, at + 30 + nameLength).toString();
      const data = inflateRawSync(zip.subarray(at + 30 + nameLength, at + 30 + nameLength + size));
      expect(data.equals(readFileSync(join(dir, name)))).toBe(true);
      names.push(name);
      at += 30 + nameLength + size;
    }
    expect(names).toEqual(['a.js', 'b.json', 'node_modules/x/index.js']);
    expect(zip.readUInt16LE(zip.length - 22 + 10)).toBe(3);
  });
});
