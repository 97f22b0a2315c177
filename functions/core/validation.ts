/**
 * Shared validation helpers: patterns that every edge checks before a value is used to build a
 * host or a request, and a formatter that turns zod issues into "path: problem" lines. We format
 * the issues ourselves because functions import `zod/mini`, whose own messages are only
 * "Invalid input" (its locales cost bundle size and cold-start time).
 */
import type * as z from 'zod/mini';

/** AWS region, e.g. `us-east-1`, `us-gov-west-1`, `ap-southeast-5`. */
export const AWS_REGION = /^[a-z]{2}(-[a-z]+)+-\d{1,2}$/;
/** Alibaba Cloud region, e.g. `cn-hangzhou`, `ap-southeast-1`, `cn-shanghai-finance-1`. */
export const ALICLOUD_REGION = /^[a-z]{2}(-[a-z0-9]+){1,4}$/;
/** AWS account id. */
export const AWS_ACCOUNT = /^\d{12}$/;
/** Alibaba Cloud account (UID). */
export const ALICLOUD_ACCOUNT = /^\d{1,20}$/;

type Issue = z.core.$ZodIssue;

const describe = (issue: Issue): string => {
  switch (issue.code) {
    case 'invalid_type':
      return `expected ${issue.expected}`;
    case 'unrecognized_keys':
      return `unknown key${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((k) => `"${k}"`).join(', ')}`;
    case 'invalid_value':
      return `expected one of ${issue.values.map((v) => JSON.stringify(v)).join(', ')}`;
    case 'invalid_format':
      return 'pattern' in issue && issue.pattern
        ? `does not match ${issue.pattern}`
        : `invalid ${issue.format}`;
    case 'too_small':
      return `too small (minimum ${String(issue.minimum)})`;
    case 'too_big':
      return `too big (maximum ${String(issue.maximum)})`;
    case 'invalid_union':
      return 'matches none of the allowed shapes';
    default:
      return issue.message && issue.message !== 'Invalid input' ? issue.message : issue.code;
  }
};

/** `aws.logGroupKms.kmsKeyArn: expected string` — one line per issue, the path first. */
export function formatIssues(issues: readonly Issue[], root = ''): string[] {
  return issues.map((issue) => {
    const path = [root, ...issue.path.map(String)].filter((p) => p !== '').join('.');
    const where = path === '' ? '(root)' : path;
    const keys = issue.code === 'unrecognized_keys' ? '' : '';
    return `${where}: ${describe(issue)}${keys}`;
  });
}

const ISO_INSTANT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$/;

/**
 * The first candidate that is an ISO 8601 instant with a zone (`2026-11-22T08:00:03Z`), as a
 * `Target.observedAt`; undefined when none is (the engine then takes the delivery as observed now).
 */
export function observedAtOf(...candidates: unknown[]): string | undefined {
  for (const value of candidates)
    if (typeof value === 'string' && ISO_INSTANT.test(value) && Number.isFinite(Date.parse(value)))
      return value;
  return undefined;
}

/** `{ observedAt }` to spread into a Target, or nothing (exactOptionalPropertyTypes). */
export const withObservedAt = (observedAt: string | undefined): { observedAt?: string } =>
  observedAt !== undefined ? { observedAt } : {};
