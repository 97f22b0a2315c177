/**
 * `npm run synth`: both templates, offline, no credentials.
 *
 *   cdk.out/aws/Atrest.template.json        (CloudFormation, cdk-nag checked)
 *   cdk.out/alicloud/Atrest.template.json   (ROS)
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
 * Config: `--config FILE`, else $ATREST_CONFIG, else infra/example-config.json (fake ids).
 * `--create-key` creates the AWS log-group key instead of using the configured ARN.
 */
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { createAlicloudApp } from './alicloud/app.ts';
import { createAwsApp } from './aws/bin/app.ts';
import { bundleAll } from './bundle.ts';
import { existingFunctions, FUNCTION_IDS, REPO_ROOT } from './functions.ts';

const { values } = parseArgs({
  options: {
    config: { type: 'string' },
    'create-key': { type: 'boolean', default: false },
    'organization-id': { type: 'string', default: 'o-exampleorgid' },
    'organizational-units': { type: 'string', default: 'r-examplerootid' },
    'rd-folder-ids': { type: 'string', default: 'r-examplerootfolder' },
    out: { type: 'string', default: join(REPO_ROOT, 'cdk.out') },
  },
});
const config = values.config ?? process.env.ATREST_CONFIG ?? join(REPO_ROOT, 'infra', 'example-config.json');
const missing = FUNCTION_IDS.filter((id) => !existingFunctions().includes(id));
if (missing.length > 0) {
  console.error(`synth: no handler.ts yet for ${missing.join(', ')}`);
  process.exit(1);
}

const started = Date.now();
const bundles = await bundleAll();
for (const [id, b] of bundles) console.error(`bundle ${id}: ${b.bytes} bytes -> ${b.dir}`);

const aws = await createAwsApp({
  outdir: join(values.out, 'aws'),
  context: { config, createKey: String(values['create-key']) },
});
aws.synth();
const ali = await createAlicloudApp({ outdir: join(values.out, 'alicloud'), context: { config } });
ali.synth();
const awsOrg = await createAwsApp({
  outdir: join(values.out, 'aws-org'),
  context: {
    config,
    createKey: String(values['create-key']),
    organizationId: values['organization-id'],
    organizationalUnits: values['organizational-units'],
  },
});
awsOrg.synth();
const aliOrg = await createAlicloudApp({
  outdir: join(values.out, 'alicloud-org'),
  context: { config, rdFolderIds: values['rd-folder-ids'] },
});
aliOrg.synth();
console.error(
  `synth: templates in ${values.out}/{aws,alicloud,aws-org,alicloud-org} (${Date.now() - started} ms)`,
);
