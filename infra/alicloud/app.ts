/**
 * The Alibaba Cloud ROS CDK app: instantiates the stack and writes the ROS template. Offline.
 *
 *   npx tsx infra/alicloud/app.ts        (config from $ATREST_CONFIG; template into $CDK_OUTDIR)
 *   npm run synth                        (infra/synth.ts: both clouds into cdk.out/)
 *
 * The function code is not part of the template (an inline zip is far over the template size
 * limit): bundle with infra/bundle.ts, zip each function folder, upload to the `CodeBucket`
 * parameter's bucket.
 */
import { pathToFileURL } from 'node:url';
import * as ros from '@alicloud/ros-cdk-core';
import { ConfigError } from '#core/errors';
import { parseConfig } from '../../functions/config.ts';
import { runEntry } from '../cli-errors.ts';
import {
  booleanFrom,
  capFrom,
  configPathFrom,
  integerFrom,
  readConfigFile,
  requiredStringFrom,
  stringFrom,
} from '../config-source.ts';
import { loadAllPermissions } from '../permissions.ts';
import { ALICLOUD_FUNCTION_IDS, AtrestAlicloudStack } from './atrest-stack.ts';
import { assertRosCompliant, type RosFinding } from './checks/index.ts';
import { addAlicloudOrganization } from './organization.ts';

export interface AlicloudAppOptions {
  /** Where the template goes; default $CDK_OUTDIR or a temporary folder. */
  outdir?: string;
  /**
   * Context values: `config` (file), `alarmEmail` (required), `namePrefix`, `reservedConcurrency`
   * (default 20, `none`), `sweepRate`, `otsInstanceName`, `createOtsInstance`, `trustSourceCondition`,
   * `trailProject` + `trailLogstore` (an existing trail's logstore); organization mode:
   * `rdFolderIds`, `homeRegion`.
   */
  context?: Record<string, string>;
}

export async function createAlicloudApp(options: AlicloudAppOptions = {}): Promise<ros.App> {
  const app = new ros.App({
    ...(options.outdir !== undefined ? { outdir: options.outdir } : {}),
    ...(options.context !== undefined ? { context: options.context } : {}),
  });
  const context = (key: string) => app.node.tryGetContext(key) as unknown;
  const namePrefix = stringFrom(context, 'namePrefix');
  const alarmEmail = requiredStringFrom(
    context,
    'alarmEmail',
    'the e-mail address that receives the alarms (-c alarmEmail=oncall@example.com)',
  );
  const reservedConcurrency = capFrom(context, 'reservedConcurrency');
  const sweepRate = integerFrom(context, 'sweepRate');
  const otsInstanceName = stringFrom(context, 'otsInstanceName');
  const trailProject = stringFrom(context, 'trailProject');
  const trailLogstore = stringFrom(context, 'trailLogstore');
  if ((trailProject === undefined) !== (trailLogstore === undefined))
    throw new ConfigError(['trailProject, trailLogstore: give both (an existing trail logstore) or neither']);
  // Validated before any permissionsFor(section) sees it (the stack validates it again, cheaply).
  const config = parseConfig(readConfigFile(configPathFrom(context)));
  const permissions = await loadAllPermissions(ALICLOUD_FUNCTION_IDS, config);
  new AtrestAlicloudStack(app, 'Atrest', {
    config,
    permissions,
    alarmEmail,
    ...(namePrefix !== undefined ? { namePrefix } : {}),
    ...(reservedConcurrency !== undefined ? { reservedConcurrency } : {}),
    ...(sweepRate !== undefined ? { sweepRate } : {}),
    ...(otsInstanceName !== undefined ? { otsInstanceName } : {}),
    createOtsInstance: booleanFrom(context, 'createOtsInstance', true),
    trustSourceCondition: booleanFrom(context, 'trustSourceCondition', true),
    ...(trailProject !== undefined && trailLogstore !== undefined
      ? { trail: { project: trailProject, logstore: trailLogstore } }
      : {}),
  });
  // Resource Directory mode (`rdFolderIds`, `homeRegion`): the member template and the trail + stack group.
  addAlicloudOrganization(
    app,
    context,
    config.alicloud?.organization?.memberRoleName,
    permissions,
    namePrefix,
  );
  return app;
}

/** Writes the template, then runs the ROS checks over it: a violation fails here, as cdk-nag does. */
export function synthAlicloud(app: ros.App): RosFinding[] {
  const assembly = app.synth();
  return assembly.stacks.flatMap((stack) => assertRosCompliant(stack.template));
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href)
  await runEntry('ros synth', async () => synthAlicloud(await createAlicloudApp()));
