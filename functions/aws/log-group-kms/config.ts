/**
 * aws.log-group-kms's config section, `aws.logGroupKms` (README "Configuration"): the KMS key
 * CloudWatch Logs associates with every log group, per region if need be. Composed into the
 * document by #core/config `composeConfig` through the manifest.
 */
import * as z from 'zod/mini';
import { awsRegionMap, defineSection, enforcement, excludePatterns, type SectionType } from '#core/config';
import { ConfigError } from '#core/errors';

const KMS_KEY_ARN = /^arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:key\/[A-Za-z0-9-]+$/;
/** A key alias (`alias/x`, `arn:…:alias/x`) gets its own message instead of the bare pattern. */
const KMS_ALIAS = /(^|:)alias\//;
const awsKeyArn = () =>
  z.string().check(
    z.refine((v) => !KMS_ALIAS.test(v), {
      // CloudWatch Logs AssociateKmsKey takes a key ARN only, and doctor compares key ARNs.
      message:
        'is a key alias; atrest needs the key ARN (arn:aws:kms:<region>:<account>:key/<key id>); look it up with: aws kms describe-key --key-id <alias> --query KeyMetadata.Arn',
      abort: true,
    }),
    z.regex(KMS_KEY_ARN),
  );

export const logGroupKmsConfig = defineSection({
  cloud: 'aws',
  section: 'logGroupKms',
  schema: () =>
    z.strictObject({
      /** The key for every region without a `byRegion` entry. Must be a symmetric key ARN (AssociateKmsKey takes ARNs only). */
      kmsKeyArn: awsKeyArn(),
      /** Per-region key ARNs; a key is regional, so multi-region deployments need one per region. */
      byRegion: z.optional(awsRegionMap(awsKeyArn())),
      /** Log group names matching any of these regular expressions are left alone. */
      exclude: z.optional(excludePatterns()),
      ...enforcement(),
    }),
  // A KMS key serves only its own region: the default key's is in its ARN, a byRegion key is
  // meant for its entry's region (the doctor says when its ARN disagrees).
  keys: (section) => [
    {
      field: 'aws.logGroupKms.kmsKeyArn',
      key: section.kmsKeyArn,
      region: section.kmsKeyArn.split(':')[3] ?? '',
    },
    ...Object.entries(section.byRegion ?? {}).map(([region, key]) => ({
      field: `aws.logGroupKms.byRegion.${region}`,
      key,
      region,
    })),
  ],
  starter: ({ awsKeys }) => {
    const [first, ...others] = awsKeys;
    if (first === undefined)
      throw new ConfigError(['aws.log-group-kms needs --aws-key ARN (one per region)']);
    const byRegion: Record<string, string> = {};
    for (const arn of others) {
      const region = arn.split(':')[3] ?? '';
      if (region === first.split(':')[3] || byRegion[region] !== undefined)
        throw new ConfigError([`--aws-key: two keys for ${region}; give one key per region`]);
      byRegion[region] = arn;
    }
    return {
      kmsKeyArn: first,
      ...(others.length > 0 ? { byRegion } : {}),
      // atrest's own function logs are encrypted by its stack; no need to touch them here.
      exclude: ['^/aws/lambda/atrest-'],
    };
  },
  summary: (section) =>
    `new CloudWatch Logs groups get ${section.kmsKeyArn}${section.byRegion ? ' (byRegion: the key of each other region)' : ''}; exclude holds name patterns left alone`,
});

export type LogGroupKmsConfig = SectionType<typeof logGroupKmsConfig>;
