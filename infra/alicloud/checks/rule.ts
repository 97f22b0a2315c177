/**
 * The ROS side of cdk-nag: one pure rule per file, each looking at one resource of the synthesised
 * template and answering COMPLIANT, NON_COMPLIANT or NOT_APPLICABLE (cdk-nag's NagRuleCompliance).
 * `runRosChecks` runs every rule over every resource; the app fails synth on a NON_COMPLIANT one.
 */

// Template JSON as ROS writes it: navigated freely, every rule checks the shapes it relies on.
// biome-ignore lint/suspicious/noExplicitAny: see above
export type Json = any;

export interface RosResourceJson {
  Type: string;
  Properties?: Record<string, Json>;
}

export interface RosTemplateJson {
  Resources?: Record<string, RosResourceJson>;
}

export type Compliance = 'COMPLIANT' | 'NON_COMPLIANT' | 'NOT_APPLICABLE';

export interface RosRule {
  /** `ATREST-ROS-<area><n>`, as cdk-nag names `AwsSolutions-SQS3`. */
  id: string;
  /** What the rule enforces and why, printed with a finding. */
  explanation: string;
  check(resource: RosResourceJson, logicalId: string, template: RosTemplateJson): Compliance;
}

/** Logical ids a value refers to (Ref, Fn::GetAtt, nested in Fn::Join/Fn::Sub arguments). */
export function referencedIds(value: Json): string[] {
  if (Array.isArray(value)) return value.flatMap(referencedIds);
  if (value === null || typeof value !== 'object') return [];
  const out: string[] = [];
  for (const [key, inner] of Object.entries(value)) {
    if (key === 'Ref' && typeof inner === 'string' && !inner.startsWith('ALIYUN::')) out.push(inner);
    else if (key === 'Fn::GetAtt' && Array.isArray(inner) && typeof inner[0] === 'string') out.push(inner[0]);
    else out.push(...referencedIds(inner));
  }
  return out;
}

/** The resources of a type, with their logical ids. */
export function resourcesOfType(template: RosTemplateJson, type: string): Array<[string, RosResourceJson]> {
  return Object.entries(template.Resources ?? {}).filter(([, r]) => r.Type === type);
}

/** Whether a value (e.g. a FunctionName) points at the given logical id. */
export function refersTo(value: Json, logicalId: string): boolean {
  return referencedIds(value).includes(logicalId);
}
