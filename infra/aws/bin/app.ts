/**
 * The AWS CDK app: bundles the function once, instantiates the stack, runs cdk-nag. Nothing else.
 *
 *   npx cdk synth --app 'npx tsx infra/aws/bin/app.ts' -c config=atrest.json [-c createKey=true]
 *   npm run synth            (infra/synth.ts: both clouds, offline, into cdk.out/)
 *
 * Context: `config` (file; else $ATREST_CONFIG), `createKey` (true|false, default false),
 * `alarmEmail`, `reservedConcurrency`; organization mode: `organizationId`, `organizationalUnits`,
 * `homeRegion`, `delegatedAdmin`. The environment is the CLI's (CDK_DEFAULT_ACCOUNT/REGION)
 * when known, else the stack is environment-agnostic.
 */
import { pathToFileURL } from 'node:url';
import { App, Validations } from 'aws-cdk-lib';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { AwsSolutionsChecks } from 'cdk-nag';
import { bundleFunction } from '../../bundle.ts';
import { booleanFrom, configPathFrom, integerFrom, readConfigFile, stringFrom } from '../../config-source.ts';
import { loadPermissions } from '../../permissions.ts';
import { AtrestStack, FUNCTION_ID } from '../lib/atrest-stack.ts';
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
  const bundle = await bundleFunction(FUNCTION_ID, {
    ...(options.bundleOutdir !== undefined ? { outdir: options.bundleOutdir } : {}),
  });
  const alarmEmail = stringFrom(context, 'alarmEmail');
  const reservedConcurrency = integerFrom(context, 'reservedConcurrency');

  Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  const permissions = await loadPermissions(FUNCTION_ID, config);
  const stack = new AtrestStack(app, 'Atrest', {
    config,
    createKey: booleanFrom(context, 'createKey', false),
    permissions,
    code: lambda.Code.fromAsset(bundle.dir),
    ...(alarmEmail !== undefined ? { alarmEmail } : {}),
    ...(reservedConcurrency !== undefined ? { reservedConcurrency } : {}),
    env: { account: process.env.CDK_DEFAULT_ACCOUNT, region: process.env.CDK_DEFAULT_REGION },
  });
  // Organization mode (`-c organizationId=o-… -c organizationalUnits=ou-…,r-…`): the central pieces
  // join this stack, and the member templates are written beside it (infra/aws/lib/organization.ts).
  addOrganization(app, stack, context, config, permissions);
  return app;
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href)
  (await createAwsApp()).synth();
