/**
 * `npm run synth`: both templates, offline, no credentials.
 *
 *   cdk.out/aws/Atrest.template.json        (CloudFormation, cdk-nag checked)
 *   cdk.out/alicloud/Atrest.template.json   (ROS, ROS checks run)
 *   dist/<function id>/                      (the bundles the templates deploy)
 *   cdk.out/aws-org/{Atrest,AtrestMemberRoles,AtrestMemberForwarding}.template.json
 *                                            (organization mode: central stack with the org bus and
 *                                             StackSets, and the two member templates)
 *   cdk.out/alicloud-org/{AtrestMember,AtrestOrg}.template.json
 *                                            (Resource Directory: member role; trail + stack group)
 *
 * Organization mode uses `--organization-id o-…`, `--organizational-units ou-…,…` and
 * `--rd-folder-ids fd-…,…`; without them it is synthesised with placeholder ids (o-exampleorgid,
 * r-examplerootid, r-examplerootfolder) so the templates can be read and checked.
 *
 * Config: `--config FILE`, else $ATREST_CONFIG, else infra/example-config.json (fake ids: said so
 * on stderr; write yours with `atrest init`). `--alarm-email` (required with your own config),
 * `--create-key`, `--reserved-concurrency N|none`, `--sweep-rate N`, `--name-prefix P`.
 * A bad config or a failed check ends with one line naming the field, exit 1.
 */
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { ConfigError } from '#core/errors';
import { parseConfig } from '../functions/config.ts';
import { createAlicloudApp, synthAlicloud } from './alicloud/app.ts';
import { createAwsApp } from './aws/bin/app.ts';
import { bundleAll } from './bundle.ts';
import { runEntry } from './cli-errors.ts';
import { readConfigFile } from './config-source.ts';
import { existingFunctions, FUNCTION_IDS, REPO_ROOT } from './functions.ts';

const EXAMPLE = join(REPO_ROOT, 'infra', 'example-config.json');

await runEntry('synth', async () => {
  let values: ReturnType<typeof parse>['values'];
  try {
    values = parse().values;
  } catch (error) {
    throw new ConfigError([(error as Error).message]);
  }
  const config = values.config ?? process.env.ATREST_CONFIG ?? EXAMPLE;
  const example = config === EXAMPLE;
  if (example)
    process.stderr.write(
      'synth: using infra/example-config.json (fake key ids, alarms to alarms@example.com): fine to look at, not to deploy. Write yours with `npx atrest init`.\n',
    );
  const alarmEmail = values['alarm-email'] ?? (example ? 'alarms@example.com' : undefined);
  if (alarmEmail === undefined)
    throw new ConfigError(['--alarm-email: required with your own config (who receives the alarms)']);
  // Before any bundling: a bad config is the only line printed.
  parseConfig(readConfigFile(config));
  const missing = FUNCTION_IDS.filter((id) => !existingFunctions().includes(id));
  if (missing.length > 0) throw new ConfigError([`no handler.ts yet for ${missing.join(', ')}`]);

  const context: Record<string, string> = {
    config,
    alarmEmail,
    ...(values['reserved-concurrency'] !== undefined
      ? { reservedConcurrency: values['reserved-concurrency'] }
      : {}),
    ...(values['sweep-rate'] !== undefined ? { sweepRate: values['sweep-rate'] } : {}),
  };
  const started = Date.now();
  const bundles = await bundleAll();
  for (const [id, b] of bundles) process.stderr.write(`bundle ${id}: ${b.bytes} bytes -> ${b.dir}\n`);
  const aws = await createAwsApp({
    outdir: join(values.out, 'aws'),
    context: { ...context, createKey: String(values['create-key']) },
  });
  aws.synth();
  const ali = await createAlicloudApp({
    outdir: join(values.out, 'alicloud'),
    context: {
      ...context,
      ...(values['name-prefix'] !== undefined ? { namePrefix: values['name-prefix'] } : {}),
    },
  });
  const findings = synthAlicloud(ali);
  // Organization mode, with placeholder ids unless given: the templates can be read and checked.
  const awsOrg = await createAwsApp({
    outdir: join(values.out, 'aws-org'),
    context: {
      ...context,
      createKey: String(values['create-key']),
      organizationId: values['organization-id'],
      organizationalUnits: values['organizational-units'],
    },
  });
  awsOrg.synth();
  const aliOrg = await createAlicloudApp({
    outdir: join(values.out, 'alicloud-org'),
    context: { ...context, rdFolderIds: values['rd-folder-ids'] },
  });
  findings.push(...synthAlicloud(aliOrg));
  process.stderr.write(
    `synth: templates in ${values.out}/{aws,alicloud,aws-org,alicloud-org} (${Date.now() - started} ms); ROS checks: ${findings.filter((f) => f.compliance === 'COMPLIANT').length} compliant, ${findings.filter((f) => f.acknowledged !== undefined).length} acknowledged\n`,
  );
});

function parse() {
  return parseArgs({
    options: {
      config: { type: 'string' },
      'alarm-email': { type: 'string' },
      'create-key': { type: 'boolean', default: false },
      'reserved-concurrency': { type: 'string' },
      'sweep-rate': { type: 'string' },
      'name-prefix': { type: 'string' },
      'organization-id': { type: 'string', default: 'o-exampleorgid' },
      'organizational-units': { type: 'string', default: 'r-examplerootid' },
      'rd-folder-ids': { type: 'string', default: 'r-examplerootfolder' },
      out: { type: 'string', default: join(REPO_ROOT, 'cdk.out') },
    },
  });
}
