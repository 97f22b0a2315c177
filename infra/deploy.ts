/**
 * `npm run deploy:aws` / `npm run deploy:alicloud`: package, upload, create or update the stack of
 * one account and region, in one command that can be run again (same input, same result).
 *
 *   npm run deploy:aws -- --config atrest.json --alarm-email oncall@example.com --region eu-west-1 [--dry-run]
 *   npm run deploy:alicloud -- --config atrest.json --alarm-email oncall@example.com --region cn-hangzhou \
 *                              --code-bucket my-bucket [--dry-run]
 *
 * Local steps (bundle, zip, synth with cdk-nag / the ROS checks) always run, offline. Cloud steps
 * go through each cloud's own CLI — the pinned CDK CLI (node_modules/.bin/cdk) for AWS, the
 * `aliyun` CLI for Alibaba Cloud — with the credentials of the shell; `--dry-run` prints them
 * instead of running them. Re-running is safe: `cdk deploy` updates in place and reports no change;
 * code zips are deterministic and named by their hash (an unchanged function uploads nothing and
 * changes no parameter), and the ROS stack is created once, then updated.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { ConfigError } from '#core/errors';
import { ALICLOUD_REGION, AWS_REGION } from '#core/validation';
import { parseConfig } from '../functions/config.ts';
import { createAlicloudApp, synthAlicloud } from './alicloud/app.ts';
import { ALICLOUD_FUNCTION_IDS } from './alicloud/atrest-stack.ts';
import { createAwsApp } from './aws/bin/app.ts';
import { bundleFunction } from './bundle.ts';
import { runEntry } from './cli-errors.ts';
import { readConfigFile } from './config-source.ts';
import { functionSpec, REPO_ROOT } from './functions.ts';
import { zipDirectory } from './zip.ts';

export type DeployCloud = 'aws' | 'alicloud';

export interface DeployOptions {
  cloud: DeployCloud;
  config: string;
  alarmEmail: string;
  region: string;
  /** AWS: the account (for `cdk bootstrap aws://ACCOUNT/REGION`); optional. */
  account?: string;
  /** Alibaba Cloud: the OSS bucket (same region) that holds the code zips. */
  codeBucket?: string;
  stackName: string;
  namePrefix?: string;
  /** Alibaba Cloud: an existing trail's logstore for the trail path (both or neither). */
  trailProject?: string;
  trailLogstore?: string;
  reservedConcurrency?: string;
  sweepRate?: string;
  createKey: boolean;
  dryRun: boolean;
  /** Where bundles, zips and templates go; default <repo>/dist and <repo>/cdk.out. */
  dist: string;
  out: string;
}

/** A command of a cloud CLI; `check` commands decide whether the next one is needed. */
export interface CloudCommand {
  argv: readonly string[];
  why: string;
}

export interface CommandResult {
  code: number;
  stdout: string;
}

/** Runs a cloud CLI; injectable so tests see what would run without a cloud. */
export type Runner = (argv: readonly string[]) => Promise<CommandResult>;

const CDK = join(REPO_ROOT, 'node_modules', '.bin', 'cdk');
/** A cloud CLI call may take long (stack creation), but not forever; output capped for memory. */
const COMMAND_DEADLINE_MS = 60 * 60_000;
const OUTPUT_CAP_BYTES = 4 * 1024 * 1024;

export function parseDeployArgs(argv: string[], env: Record<string, string | undefined>): DeployOptions {
  const [cloud, ...rest] = argv;
  if (cloud !== 'aws' && cloud !== 'alicloud')
    throw new ConfigError(['deploy: first argument must be aws or alicloud']);
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({
      args: rest,
      options: {
        config: { type: 'string' },
        'alarm-email': { type: 'string' },
        region: { type: 'string' },
        account: { type: 'string' },
        'code-bucket': { type: 'string' },
        'stack-name': { type: 'string' },
        'name-prefix': { type: 'string' },
        'trail-project': { type: 'string' },
        'trail-logstore': { type: 'string' },
        'reserved-concurrency': { type: 'string' },
        'sweep-rate': { type: 'string' },
        'create-key': { type: 'boolean', default: false },
        'dry-run': { type: 'boolean', default: false },
        out: { type: 'string' },
        dist: { type: 'string' },
      },
    }));
  } catch (error) {
    throw new ConfigError([`deploy:${cloud}: ${(error as Error).message}`]);
  }
  const str = (k: string) => (typeof values[k] === 'string' ? (values[k] as string) : undefined);
  const config = str('config') ?? env.ATREST_CONFIG;
  if (config === undefined) throw new ConfigError(['--config: required (write one with `npx atrest init`)']);
  const alarmEmail = str('alarm-email');
  if (alarmEmail === undefined) throw new ConfigError(['--alarm-email: required (who receives the alarms)']);
  const region =
    str('region') ??
    (cloud === 'aws' ? (env.AWS_REGION ?? env.AWS_DEFAULT_REGION) : env.ALIBABA_CLOUD_REGION_ID);
  if (region === undefined || !(cloud === 'aws' ? AWS_REGION : ALICLOUD_REGION).test(region))
    throw new ConfigError([
      `--region: required, the ${cloud === 'aws' ? 'AWS' : 'Alibaba Cloud'} region of this stack (one stack per account and region; got ${JSON.stringify(region)})`,
    ]);
  const codeBucket = str('code-bucket');
  if (cloud === 'alicloud' && codeBucket === undefined)
    throw new ConfigError(['--code-bucket: required, an OSS bucket in the same region for the code zips']);
  const account = str('account');
  const namePrefix = str('name-prefix');
  const trailProject = str('trail-project');
  const trailLogstore = str('trail-logstore');
  const reservedConcurrency = str('reserved-concurrency');
  const sweepRate = str('sweep-rate');
  return {
    cloud,
    config,
    alarmEmail,
    region,
    ...(account !== undefined ? { account } : {}),
    ...(codeBucket !== undefined ? { codeBucket } : {}),
    stackName: str('stack-name') ?? (cloud === 'aws' ? 'Atrest' : 'atrest'),
    ...(namePrefix !== undefined ? { namePrefix } : {}),
    ...(trailProject !== undefined ? { trailProject } : {}),
    ...(trailLogstore !== undefined ? { trailLogstore } : {}),
    ...(reservedConcurrency !== undefined ? { reservedConcurrency } : {}),
    ...(sweepRate !== undefined ? { sweepRate } : {}),
    createKey: values['create-key'] === true,
    dryRun: values['dry-run'] === true,
    dist: str('dist') ?? join(REPO_ROOT, 'dist'),
    out: str('out') ?? join(REPO_ROOT, 'cdk.out'),
  };
}

/** Shell-quoted, for printing a command the operator could run by hand. */
export function shellLine(argv: readonly string[]): string {
  return argv.map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replaceAll("'", "'\\''")}'`)).join(' ');
}

function context(options: DeployOptions): Record<string, string> {
  return {
    config: options.config,
    alarmEmail: options.alarmEmail,
    ...(options.reservedConcurrency !== undefined
      ? { reservedConcurrency: options.reservedConcurrency }
      : {}),
    ...(options.sweepRate !== undefined ? { sweepRate: options.sweepRate } : {}),
  };
}

/** AWS: bundle + synth for the region (cdk-nag), then bootstrap (idempotent) and deploy. */
export async function deployAws(
  options: DeployOptions,
  log: (l: string) => void,
  run: Runner,
): Promise<number> {
  parseConfig(readConfigFile(options.config));
  const assembly = join(options.out, `aws-${options.region}`);
  // The stack is synthesised for its region: the log-group key of that region is picked here.
  const saved = { region: process.env.CDK_DEFAULT_REGION, account: process.env.CDK_DEFAULT_ACCOUNT };
  process.env.CDK_DEFAULT_REGION = options.region;
  if (options.account !== undefined) process.env.CDK_DEFAULT_ACCOUNT = options.account;
  try {
    const app = await createAwsApp({
      outdir: assembly,
      bundleOutdir: options.dist,
      context: { ...context(options), createKey: String(options.createKey) },
    });
    app.synth();
  } finally {
    restore('CDK_DEFAULT_REGION', saved.region);
    restore('CDK_DEFAULT_ACCOUNT', saved.account);
  }
  log(`  1. bundle aws.log-group-kms -> ${join(options.dist, 'aws.log-group-kms')}   [done]`);
  log(`  2. synth ${options.stackName} for ${options.region} -> ${assembly} (cdk-nag clean)   [done]`);
  const commands: CloudCommand[] = [
    {
      argv: [
        CDK,
        'bootstrap',
        ...(options.account !== undefined ? [`aws://${options.account}/${options.region}`] : []),
        '--app',
        assembly,
      ],
      why: 'CDK bootstrap of this account and region (no-op when already bootstrapped)',
    },
    {
      argv: [
        CDK,
        'deploy',
        '--app',
        assembly,
        '--require-approval',
        'never',
        '--region',
        options.region,
        'Atrest',
      ],
      why: `create or update the stack (CloudFormation change set; "no changes" on a re-run)`,
    },
  ];
  return runCommands(commands, 3, options, log, run);
}

/** Alibaba Cloud: bundle, zip (named by hash), synth (ROS checks), upload what is missing, create or update. */
export async function deployAlicloud(
  options: DeployOptions,
  log: (l: string) => void,
  run: Runner,
): Promise<number> {
  parseConfig(readConfigFile(options.config));
  const bucket = options.codeBucket ?? '';
  const objects: Array<{ id: string; file: string; key: string; parameter: string }> = [];
  mkdirSync(options.dist, { recursive: true });
  for (const id of ALICLOUD_FUNCTION_IDS) {
    const bundle = await bundleFunction(id, { outdir: options.dist });
    const zip = zipDirectory(bundle.dir);
    const hash = createHash('sha256').update(zip).digest('hex').slice(0, 16);
    const file = join(options.dist, `${id}.zip`);
    writeFileSync(file, zip);
    const parameter = `${pascal(functionSpec(id).name)}CodeObject`;
    objects.push({ id, file, key: `atrest/${id}-${hash}.zip`, parameter });
    log(`  1. bundle + zip ${id} -> ${file} (${zip.length} bytes, sha256 ${hash}…)   [done]`);
  }
  const outdir = join(options.out, `alicloud-${options.region}`);
  const app = await createAlicloudApp({
    outdir,
    context: {
      ...context(options),
      ...(options.namePrefix !== undefined ? { namePrefix: options.namePrefix } : {}),
      ...(options.trailProject !== undefined ? { trailProject: options.trailProject } : {}),
      ...(options.trailLogstore !== undefined ? { trailLogstore: options.trailLogstore } : {}),
    },
  });
  const findings = synthAlicloud(app);
  const template = join(outdir, 'Atrest.template.json');
  log(
    `  2. synth -> ${template} (ROS checks: ${findings.filter((f) => f.compliance === 'COMPLIANT').length} compliant, ${findings.filter((f) => f.acknowledged).length} acknowledged)   [done]`,
  );

  const regionFlag = ['--region', options.region];
  let step = 3;
  for (const o of objects) {
    const url = `oss://${bucket}/${o.key}`;
    const stat: CloudCommand = {
      argv: ['aliyun', 'oss', 'stat', url, ...regionFlag],
      why: `is ${o.key} already uploaded?`,
    };
    const copy: CloudCommand = {
      argv: ['aliyun', 'oss', 'cp', o.file, url, ...regionFlag],
      why: `upload ${o.id}`,
    };
    if (options.dryRun) {
      log(`  ${step}. $ ${shellLine(stat.argv)}   # ${stat.why}`);
      log(`     if absent: $ ${shellLine(copy.argv)}`);
    } else if ((await run(stat.argv)).code === 0)
      log(`  ${step}. ${o.key} is already in ${bucket}: nothing to upload`);
    else if ((await runCommands([copy], step, options, log, run)) !== 0) return 1;
    step++;
  }
  const parameters = [['CodeBucket', bucket], ...objects.map((o) => [o.parameter, o.key])].flatMap(
    ([k, v], i) => [
      `--Parameters.${i + 1}.ParameterKey`,
      k as string,
      `--Parameters.${i + 1}.ParameterValue`,
      v as string,
    ],
  );
  const list: CloudCommand = {
    argv: ['aliyun', 'ros', 'ListStacks', '--RegionId', options.region, '--StackName.1', options.stackName],
    why: `does stack ${options.stackName} exist in ${options.region}?`,
  };
  if (options.dryRun) {
    log(`  ${step}. $ ${shellLine(list.argv)}   # ${list.why}`);
    log(
      `     then, if absent: $ aliyun ros CreateStack --RegionId ${options.region} --StackName ${options.stackName} --TemplateBody "$(cat ${template})" --TimeoutInMinutes 60 ${shellLine(parameters)}`,
    );
    log(
      `     else:            $ aliyun ros UpdateStack --RegionId ${options.region} --StackId <id> --TemplateBody "$(cat ${template})" ${shellLine(parameters)}`,
    );
    log('deploy: dry run, nothing was uploaded or changed');
    return 0;
  }
  const listed = await run(list.argv);
  if (listed.code !== 0) {
    log(`deploy: ${shellLine(list.argv)} failed (exit ${listed.code})`);
    return 1;
  }
  const stackId = (
    JSON.parse(listed.stdout) as { Stacks?: Array<{ StackId?: string; StackName?: string }> }
  ).Stacks?.find((s) => s.StackName === options.stackName)?.StackId;
  const templateBody = readFileSync(template, 'utf8');
  const write: CloudCommand =
    stackId === undefined
      ? {
          argv: [
            'aliyun',
            'ros',
            'CreateStack',
            '--RegionId',
            options.region,
            '--StackName',
            options.stackName,
            '--TemplateBody',
            templateBody,
            '--TimeoutInMinutes',
            '60',
            ...parameters,
          ],
          why: 'create the stack',
        }
      : {
          argv: [
            'aliyun',
            'ros',
            'UpdateStack',
            '--RegionId',
            options.region,
            '--StackId',
            stackId,
            '--TemplateBody',
            templateBody,
            ...parameters,
          ],
          why: `update stack ${stackId}`,
        };
  return runCommands([write], step, options, log, run);
}

async function runCommands(
  commands: readonly CloudCommand[],
  first: number,
  options: DeployOptions,
  log: (l: string) => void,
  run: Runner,
): Promise<number> {
  for (const [i, c] of commands.entries()) {
    const shown = c.argv.map((a) => (a.length > 200 ? `<${a.length} characters>` : a));
    log(`  ${first + i}. $ ${shellLine(shown)}   # ${c.why}`);
    if (options.dryRun) continue;
    const result = await run(c.argv);
    if (result.code !== 0) {
      log(
        `deploy: step ${first + i} failed (exit ${result.code}); fix the cause and run the same command again`,
      );
      return 1;
    }
  }
  if (options.dryRun && options.cloud === 'aws') log('deploy: dry run, nothing was deployed');
  return 0;
}

/** The real runner: the command's own output streams through; a deadline and an output cap. */
export const spawnRunner: Runner = (argv) =>
  new Promise((resolve, reject) => {
    const [cmd = '', ...args] = argv;
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'inherit'], timeout: COMMAND_DEADLINE_MS });
    let stdout = '';
    child.stdout.on('data', (chunk: Buffer) => {
      if (stdout.length < OUTPUT_CAP_BYTES) stdout += chunk.toString('utf8');
      process.stderr.write(chunk);
    });
    child.on('error', (error) =>
      reject(
        new ConfigError(
          [
            `${cmd}: cannot run (${(error as NodeJS.ErrnoException).code ?? error.message}); is it installed and on PATH?`,
          ],
          { cause: error },
        ),
      ),
    );
    child.on('close', (code) => resolve({ code: code ?? 1, stdout }));
  });

export async function deploy(
  argv: string[],
  log: (l: string) => void,
  run: Runner = spawnRunner,
): Promise<number> {
  const options = parseDeployArgs(argv, process.env);
  // Before anything runs or is printed: a bad config is the only line.
  parseConfig(readConfigFile(options.config));
  log(
    `deploy:${options.cloud} ${options.stackName} to ${options.region}${options.dryRun ? ' (dry run: local steps run, cloud steps are printed)' : ''}`,
  );
  return options.cloud === 'aws' ? deployAws(options, log, run) : deployAlicloud(options, log, run);
}

function restore(name: string, value: string | undefined): void {
  if (value === undefined) delete process.env[name];
  else process.env[name] = value;
}

function pascal(name: string): string {
  return name
    .split('-')
    .map((part) => part.charAt(0).toUpperCase() + part.slice(1))
    .join('');
}

if (process.argv[1] !== undefined && import.meta.filename === process.argv[1])
  await runEntry('deploy', async () => {
    process.exitCode = await deploy(process.argv.slice(2), (l) => process.stderr.write(`${l}\n`));
  });
