// biome-ignore-all lint/suspicious/noTemplateCurlyInString: ROS Fn::Sub strings.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ros from '@alicloud/ros-cdk-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../functions/config.ts';
import { ConfigError } from '../../functions/core/errors.ts';
import { ALICLOUD_FUNCTION_IDS, AtrestAlicloudStack } from '../../infra/alicloud/atrest-stack.ts';
import { fcConcurrency } from '../../infra/alicloud/checks/fc-concurrency.ts';
import { fcDeadLetter } from '../../infra/alicloud/checks/fc-dead-letter.ts';
import { assertRosCompliant, ROS_RULES, runRosChecks } from '../../infra/alicloud/checks/index.ts';
import { logstoreEncrypted } from '../../infra/alicloud/checks/logstore-encrypted.ts';
import { otsTableEncrypted } from '../../infra/alicloud/checks/ots-table-encrypted.ts';
import { ramExactActions } from '../../infra/alicloud/checks/ram-exact-actions.ts';
import { ramTrustSource } from '../../infra/alicloud/checks/ram-trust-source.ts';
import type { Json, RosTemplateJson } from '../../infra/alicloud/checks/rule.ts';
import { triggerDeadLetter } from '../../infra/alicloud/checks/trigger-dead-letter.ts';
import { REPO_ROOT } from '../../infra/functions.ts';
import { loadAllPermissions } from '../../infra/permissions.ts';

const QUEUE = { Type: 'ALIYUN::MNS::Queue', Properties: { QueueName: 'q' } };
const FN = { Type: 'ALIYUN::FC3::Function', Properties: { FunctionName: 'f' } };
const fnRef = { 'Fn::GetAtt': ['Fn', 'FunctionName'] };
const queueArn = {
  'Fn::Join': ['', ['acs:mns:r:a:/queues/', { 'Fn::GetAtt': ['Q', 'QueueName'] }, '/messages']],
};
const role = (statement: Json, trust: Json = {}) => ({
  Type: 'ALIYUN::RAM::Role',
  Properties: {
    AssumeRolePolicyDocument: { Statement: [{ Principal: { Service: ['fc.aliyuncs.com'] }, ...trust }] },
    Policies: [{ PolicyDocument: { Statement: [statement] } }],
  },
});
const one = (resources: Record<string, Json>): RosTemplateJson => ({ Resources: resources });

describe('ROS rules, one at a time', () => {
  it('ATREST-ROS-SLS1: a logstore needs EncryptConf.Enable', () => {
    const ls = (p: Json) => ({ Type: 'ALIYUN::SLS::Logstore', Properties: p });
    expect(
      logstoreEncrypted.check(ls({ EncryptConf: { Enable: true, EncryptType: 'default' } }), 'L', one({})),
    ).toBe('COMPLIANT');
    expect(logstoreEncrypted.check(ls({}), 'L', one({}))).toBe('NON_COMPLIANT');
    expect(logstoreEncrypted.check(FN, 'Fn', one({}))).toBe('NOT_APPLICABLE');
  });

  it('ATREST-ROS-OTS1: a table needs SSESpecification.Enable', () => {
    const t = (p: Json) => ({ Type: 'ALIYUN::OTS::Table', Properties: p });
    expect(otsTableEncrypted.check(t({ SSESpecification: { Enable: true } }), 'T', one({}))).toBe(
      'COMPLIANT',
    );
    expect(otsTableEncrypted.check(t({}), 'T', one({}))).toBe('NON_COMPLIANT');
  });

  it('ATREST-ROS-RAM1: exact actions only', () => {
    expect(ramExactActions.check(role({ Action: ['log:GetLogStore'] }), 'R', one({}))).toBe('COMPLIANT');
    expect(ramExactActions.check(role({ Action: ['log:*'] }), 'R', one({}))).toBe('NON_COMPLIANT');
    expect(ramExactActions.check(role({ Action: '*' }), 'R', one({}))).toBe('NON_COMPLIANT');
  });

  it('ATREST-ROS-RAM2: a service trust needs acs:SourceArn', () => {
    const cond = { Condition: { StringLike: { 'acs:SourceArn': 'acs:fc:r:a:functions/f' } } };
    expect(ramTrustSource.check(role({ Action: ['a:B'] }, cond), 'R', one({}))).toBe('COMPLIANT');
    expect(ramTrustSource.check(role({ Action: ['a:B'] }), 'R', one({}))).toBe('NON_COMPLIANT');
  });

  it('ATREST-ROS-FC1: async failures go to a queue of the template, not a hand-built ARN', () => {
    const config = (destination: Json) => ({
      Type: 'ALIYUN::FC3::AsyncInvokeConfig',
      Properties: { FunctionName: fnRef, DestinationConfig: { OnFailure: { Destination: destination } } },
    });
    expect(fcDeadLetter.check(FN, 'Fn', one({ Fn: FN, Q: QUEUE, C: config(queueArn) }))).toBe('COMPLIANT');
    expect(
      fcDeadLetter.check(
        FN,
        'Fn',
        one({ Fn: FN, Q: QUEUE, C: config({ 'Fn::Sub': 'acs:mns:${ALIYUN::Region}:1:/queues/q/messages' }) }),
      ),
    ).toBe('NON_COMPLIANT');
    expect(fcDeadLetter.check(FN, 'Fn', one({ Fn: FN, Q: QUEUE }))).toBe('NON_COMPLIANT');
  });

  it('ATREST-ROS-FC2: every function has a concurrency cap', () => {
    const cap = {
      Type: 'ALIYUN::FC3::ConcurrencyConfig',
      Properties: { FunctionName: fnRef, ReservedConcurrency: 20 },
    };
    expect(fcConcurrency.check(FN, 'Fn', one({ Fn: FN, C: cap }))).toBe('COMPLIANT');
    expect(fcConcurrency.check(FN, 'Fn', one({ Fn: FN }))).toBe('NON_COMPLIANT');
  });

  it('ATREST-ROS-EB1: an eventbridge trigger dead-letters; a timer is not applicable', () => {
    const trigger = (runOptions: Json, type = 'eventbridge') => ({
      Type: 'ALIYUN::FC3::Trigger',
      Properties: { FunctionName: fnRef, TriggerType: type, TriggerConfig: { runOptions } },
    });
    const t = one({ Q: QUEUE });
    expect(
      triggerDeadLetter.check(
        trigger({ errorsTolerance: 'ALL', deadLetterQueue: { Arn: queueArn } }),
        'T',
        t,
      ),
    ).toBe('COMPLIANT');
    expect(triggerDeadLetter.check(trigger({ errorsTolerance: 'ALL' }), 'T', t)).toBe('NON_COMPLIANT');
    expect(triggerDeadLetter.check(trigger({}, 'timer'), 'T', t)).toBe('NOT_APPLICABLE');
  });

  it('has one rule per file, each with a distinct id', () => {
    expect(new Set(ROS_RULES.map((r) => r.id)).size).toBe(ROS_RULES.length);
  });
});

describe('the synthesised Alibaba template', () => {
  const outdirs: string[] = [];
  let template: Json;
  afterAll(() => {
    for (const dir of outdirs) rmSync(dir, { recursive: true, force: true });
  });
  beforeAll(async () => {
    const config = parseConfig(
      JSON.parse(readFileSync(join(REPO_ROOT, 'infra', 'example-config.json'), 'utf8')),
    );
    const outdir = mkdtempSync(join(tmpdir(), 'atrest-ros-checks-'));
    outdirs.push(outdir);
    const app = new ros.App({ outdir });
    new AtrestAlicloudStack(app, 'Atrest', {
      config,
      permissions: await loadAllPermissions(ALICLOUD_FUNCTION_IDS, config),
      alarmEmail: 'oncall@example.com',
    });
    template = app.synth().getStackByName('Atrest').template;
  });

  it('passes every ROS check; acknowledged: Tablestore SSE (not in ROS) and the SLS trigger role’s source (unconfirmed)', () => {
    const findings = assertRosCompliant(template);
    const nonCompliant = findings.filter((f) => f.compliance === 'NON_COMPLIANT');

    expect(nonCompliant).toEqual([
      expect.objectContaining({
        rule: 'ATREST-ROS-OTS1',
        resource: 'IdempotencyTable',
        acknowledged: expect.stringMatching(/SSESpecification/),
      }),
      expect.objectContaining({
        rule: 'ATREST-ROS-RAM2',
        resource: 'TrailInvocationRole',
        acknowledged: expect.stringMatching(/source ARN SLS presents is unconfirmed/),
      }),
    ]);
    // Every function is checked by the FC and trigger rules.
    expect(findings.filter((f) => f.rule === 'ATREST-ROS-FC1' && f.compliance === 'COMPLIANT')).toHaveLength(
      ALICLOUD_FUNCTION_IDS.length,
    );
    expect(findings.filter((f) => f.rule === 'ATREST-ROS-EB1' && f.compliance === 'COMPLIANT')).toHaveLength(
      ALICLOUD_FUNCTION_IDS.length,
    );
  });

  it('fails on a violation, naming the rule and the resource', () => {
    const broken = structuredClone(template);
    delete broken.Resources.ClusterKmsEventTrigger.Properties.TriggerConfig.runOptions.deadLetterQueue;

    expect(() => assertRosCompliant(broken)).toThrow(ConfigError);
    expect(() => assertRosCompliant(broken)).toThrow(/ATREST-ROS-EB1 on ClusterKmsEventTrigger/);
    expect(
      runRosChecks(broken).filter((f) => f.compliance === 'NON_COMPLIANT' && !f.acknowledged),
    ).toHaveLength(1);
  });
});
