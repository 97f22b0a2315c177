/**
 * Runs every ROS rule over every resource of a template. A NON_COMPLIANT finding fails synth,
 * unless the template's Metadata `atrest.Acknowledged` names that rule and resource with a reason
 * (as cdk-nag's acknowledgements do) — reserved for what the platform cannot express.
 */
import { ConfigError } from '#core/errors';
import { fcConcurrency } from './fc-concurrency.ts';
import { fcDeadLetter } from './fc-dead-letter.ts';
import { logstoreEncrypted } from './logstore-encrypted.ts';
import { otsTableEncrypted } from './ots-table-encrypted.ts';
import { ramExactActions } from './ram-exact-actions.ts';
import { ramTrustSource } from './ram-trust-source.ts';
import type { Compliance, RosRule, RosTemplateJson } from './rule.ts';
import { triggerDeadLetter } from './trigger-dead-letter.ts';

export const ROS_RULES: readonly RosRule[] = [
  logstoreEncrypted,
  otsTableEncrypted,
  ramExactActions,
  ramTrustSource,
  fcDeadLetter,
  fcConcurrency,
  triggerDeadLetter,
];

export interface RosFinding {
  rule: string;
  resource: string;
  compliance: Compliance;
  explanation: string;
  /** Set when the template acknowledges a NON_COMPLIANT finding. */
  acknowledged?: string;
}

export interface Acknowledgement {
  rule: string;
  resource: string;
  reason: string;
}

/** Every (rule, resource) pair that applies; pure. */
export function runRosChecks(
  template: RosTemplateJson & { Metadata?: { atrest?: { Acknowledged?: Acknowledgement[] } } },
  rules: readonly RosRule[] = ROS_RULES,
): RosFinding[] {
  const acks = template.Metadata?.atrest?.Acknowledged ?? [];
  const findings: RosFinding[] = [];
  for (const [logicalId, resource] of Object.entries(template.Resources ?? {}))
    for (const rule of rules) {
      const compliance = rule.check(resource, logicalId, template);
      if (compliance === 'NOT_APPLICABLE') continue;
      const ack = acks.find((a) => a.rule === rule.id && a.resource === logicalId);
      findings.push({
        rule: rule.id,
        resource: logicalId,
        compliance,
        explanation: rule.explanation,
        ...(compliance === 'NON_COMPLIANT' && ack !== undefined ? { acknowledged: ack.reason } : {}),
      });
    }
  return findings;
}

/** Throws a ConfigError listing each unacknowledged NON_COMPLIANT finding; returns the findings. */
export function assertRosCompliant(template: Parameters<typeof runRosChecks>[0]): RosFinding[] {
  const findings = runRosChecks(template);
  const violations = findings.filter((f) => f.compliance === 'NON_COMPLIANT' && f.acknowledged === undefined);
  if (violations.length > 0)
    throw new ConfigError(violations.map((v) => `ROS check ${v.rule} on ${v.resource}: ${v.explanation}`));
  return findings;
}
