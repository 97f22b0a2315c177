/**
 * alicloud.table-bucket-encryption's section (its config.ts): the cross-field rules OSS Tables
 * imposes, as the composed document reports them (moved here from test/core/config.test.ts).
 */
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../../../functions/config.ts';
import { ConfigError } from '../../../../functions/core/errors.ts';

const issuesOf = (value: unknown): string[] => {
  try {
    parseConfig(value);
  } catch (error) {
    if (error instanceof ConfigError) return [...error.issues];
    throw error;
  }
  return [];
};

describe('config alicloud.tableBucketEncryption', () => {
  it('applies cross-field rules', () => {
    expect(
      issuesOf({ alicloud: { tableBucketEncryption: { sseAlgorithm: 'AES256', kmsKeyArn: 'k' } } }),
    ).toEqual([
      'config.alicloud.tableBucketEncryption.kmsKeyArn: not allowed: OSS Tables supports only AES256 (OSS-managed keys), which takes no key',
    ]);
  });

  it("refuses KMS for OSS Tables with the API reference's words (only AES256 is supported)", () => {
    const issues = issuesOf({
      alicloud: { tableBucketEncryption: { sseAlgorithm: 'KMS', kmsKeyArn: 'acs:kms:cn-hangzhou:1:key/k' } },
    });

    expect(issues[0]).toMatch(
      /^config\.alicloud\.tableBucketEncryption\.sseAlgorithm: "KMS" is not accepted/,
    );
    expect(issues[0]).toContain('"Currently, only the AES256 encryption algorithm is supported"');
  });

  it('accepts AES256 with no key', () => {
    expect(issuesOf({ alicloud: { tableBucketEncryption: { sseAlgorithm: 'AES256' } } })).toEqual([]);
  });
});
