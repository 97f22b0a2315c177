/**
 * alicloud.table-bucket-encryption's config section, `alicloud.tableBucketEncryption` (README
 * "Configuration"): the OSS Tables bucket encryption, and the rules OSS Tables imposes on it.
 * Composed into the document by #core/config `composeConfig` through the manifest.
 */
import * as z from 'zod/mini';
import { defineSection, delivery, enforcement, excludePatterns, nonEmpty } from '#core/config';

export const tableBucketEncryptionConfig = defineSection({
  cloud: 'alicloud',
  section: 'tableBucketEncryption',
  schema: () =>
    z.strictObject({
      /**
       * `AES256` (OSS-managed keys), the only value accepted: the PutTableBucketEncryption API
       * reference says "Currently, only the AES256 encryption algorithm is supported". `KMS` stays
       * in the type because GetTableBucketEncryption may report it, and is refused in `rules`.
       */
      sseAlgorithm: z.enum(['AES256', 'KMS']),
      kmsKeyArn: z.optional(nonEmpty()),
      exclude: z.optional(excludePatterns()),
      ...enforcement(),
      /** Delivery paths deployed: `eventbridge`, `trail` or both. Default: the function's own. */
      delivery: z.optional(delivery()),
    }),
  rules: (section, path) => {
    const issues: string[] = [];
    if (section.sseAlgorithm === 'KMS')
      issues.push(
        `${path}.sseAlgorithm: "KMS" is not accepted by OSS Tables: the PutTableBucketEncryption API reference says "Currently, only the AES256 encryption algorithm is supported"; set "AES256" (every bucket would end failed otherwise)`,
      );
    if (section.kmsKeyArn !== undefined)
      issues.push(
        `${path}.kmsKeyArn: not allowed: OSS Tables supports only AES256 (OSS-managed keys), which takes no key`,
      );
    return issues;
  },
  // Unreachable while the rules above refuse "KMS" and kmsKeyArn; kept so the doctor checks the
  // key (in the region its ARN names) the day OSS Tables accepts one.
  keys: (section) => {
    if (section.sseAlgorithm !== 'KMS' || section.kmsKeyArn === undefined) return [];
    const field = 'alicloud.tableBucketEncryption.kmsKeyArn';
    const region = KMS_ARN.exec(section.kmsKeyArn)?.[1];
    return region !== undefined
      ? [{ field, key: section.kmsKeyArn, region }]
      : [
          {
            field,
            key: section.kmsKeyArn,
            unchecked: `kmsKeyArn ${section.kmsKeyArn} is not an acs:kms:<region>:<account>:key/<id> ARN`,
          },
        ];
  },
  starter: () => ({ sseAlgorithm: 'AES256' as const }),
  summary: () => 'new OSS table buckets get AES256 server-side encryption',
});

const KMS_ARN = /^acs:kms:([a-z]{2}(?:-[a-z0-9]+){1,4}):(\d+):key\/(.+)$/;
