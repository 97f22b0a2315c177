/**
 * The AWS CDK app: bundles each AWS function once, instantiates the stack, runs cdk-nag. Nothing else.
 *
 *   npx cdk synth --app 'npx tsx infra/aws/bin/app.ts' -c config=atrest.json [-c createKey=true]
 *   npm run synth            (infra/synth.ts: both clouds, offline, into cdk.out/)
 *
 * Context: `config` (file; else $ATREST_CONFIG), `alarmEmail` (required: who gets the alarms),
 * `createKey` (true|false, default false), `reservedConcurrency` (default 20, `none` for no cap),
 * `sweepRate` (calls/s of the scheduled sweep, default 5), `sweepHours` (hours between sweeps,
 * default 24); organization mode: `organizationId`, `organizationalUnits`, `homeRegion`,
 * `delegatedAdmin`. The environment is the CLI's (CDK_DEFAULT_ACCOUNT/REGION) when known, else
 * the stack is environment-agnostic (then the log-group key is picked per region at deploy time).
 */
import { pathToFileURL } from 'node:url';
import { App, Duration, Validations } from 'aws-cdk-lib';
import * as events from 'aws-cdk-lib/aws-events';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { AwsSolutionsChecks } from 'cdk-nag';
import type { PermissionSet } from '#core/permissions';
import { bundleFunction } from '../../bundle.ts';
import { runEntry } from '../../cli-errors.ts';
import {
  booleanFrom,
  capFrom,
  configPathFrom,
  integerFrom,
  readConfigFile,
  requiredStringFrom,
} from '../../config-source.ts';
import { loadAllPermissions } from '../../permissions.ts';
import { AtrestStack, AWS_DEPLOYED_IDS, FUNCTION_ID } from '../lib/atrest-stack.ts';
import { addOrganization } from '../lib/organization-app.ts';

export interface AwsAppOptions {
  /** Cloud assembly folder; default $CDK_OUTDIR (set by the CDK CLI) or a temporary folder. */
  outdir?: string;
  /** Context values, as `-c key=value` would give them. */
  context?: Record<string, string>;
  /** Where the bundle goes; default `<repo>/dist`. */
  bundleOutdir?: string;
}

export async function createAwsApp(options: AwsAppOptions = {}): Promise<App> {
  const app = new App({
    ...(options.outdir !== undefined ? { outdir: options.outdir } : {}),
    ...(options.context !== undefined ? { context: options.context } : {}),
  });
  const context = (key: string) => app.node.tryGetContext(key) as unknown;
  const config = readConfigFile(configPathFrom(context));
  const code: Record<string, lambda.Code> = {};
  for (const id of AWS_DEPLOYED_IDS) {
    const bundle = await bundleFunction(id, {
      ...(options.bundleOutdir !== undefined ? { outdir: options.bundleOutdir } : {}),
    });
    code[id] = lambda.Code.fromAsset(bundle.dir);
  }
  const alarmEmail = requiredStringFrom(
    context,
    'alarmEmail',
    'the e-mail address that receives the alarms (-c alarmEmail=oncall@example.com)',
  );
  const reservedConcurrency = capFrom(context, 'reservedConcurrency');
  const sweepRate = integerFrom(context, 'sweepRate');
  const sweepHours = integerFrom(context, 'sweepHours');

  Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  const permissions = Object.fromEntries(await loadAllPermissions(AWS_DEPLOYED_IDS, config));
  const stack = new AtrestStack(app, 'Atrest', {
    config,
    createKey: booleanFrom(context, 'createKey', false),
    permissions,
    code,
    alarmEmail,
    ...(reservedConcurrency !== undefined ? { reservedConcurrency } : {}),
    ...(sweepRate !== undefined ? { sweepRate } : {}),
    ...(sweepHours !== undefined ? { sweepSchedule: events.Schedule.rate(Duration.hours(sweepHours)) } : {}),
    env: { account: process.env.CDK_DEFAULT_ACCOUNT, region: process.env.CDK_DEFAULT_REGION },
  });
  // Organization mode (`-c organizationId=o-… -c organizationalUnits=ou-…,r-…`): the central pieces
  // join this stack, and the member templates are written beside it (infra/aws/lib/organization.ts).
  // It forwards members' events to the first AWS function (FUNCTION_ID, aws.log-group-kms).
  addOrganization(app, stack, context, config, permissions[FUNCTION_ID] as PermissionSet);
  return app;
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href)
  await runEntry('cdk synth', async () => (await createAwsApp()).synth());
