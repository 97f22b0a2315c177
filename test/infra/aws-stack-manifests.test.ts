/**
 * The AWS stack deploys every AWS manifest, not its one function by hand (issue 12). Two throwaway
 * AWS functions, registered the way a real one is (one more export of functions/registry.ts, here
 * through the module mock), get their Lambda, their rule with their event names, their sweep
 * schedule when they sweep, their key and their alarms, with no edit to infra/aws.
 */
import { App } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { describe, expect, it, vi } from 'vitest';

vi.mock('../../functions/registry.ts', async (importOriginal) => {
  const z = await import('zod/mini');
  const { defineSection, awsRegionMap } = await import('../../functions/core/config.ts');
  /** What a folder's config.ts would hold: a default key and per-region keys. */
  const section = (name: string) =>
    defineSection({
      cloud: 'aws',
      section: name,
      schema: () =>
        z.strictObject({
          kmsKeyArn: z.string().check(z.minLength(1)),
          byRegion: z.optional(awsRegionMap(z.string().check(z.minLength(1)))),
        }),
      keys: (s) => [
        { field: `aws.${name}.kmsKeyArn`, key: s.kmsKeyArn, region: s.kmsKeyArn.split(':')[3] ?? '' },
        ...Object.entries(s.byRegion ?? {}).map(([region, key]) => ({
          field: `aws.${name}.byRegion.${region}`,
          key,
          region,
        })),
      ],
      starter: () => ({ kmsKeyArn: 'none' }),
      summary: () => 'new things get your key',
    });
  const remediator = async () => {
    throw new Error('not run here');
  };
  /** What its manifest.ts would hold: it sweeps, and createKey can make its key. */
  const widgetKms = {
    id: 'aws.widget-kms',
    cloud: 'aws',
    folder: 'widget-kms',
    section: 'widgetKms',
    config: section('widgetKms'),
    events: { creation: ['CreateWidget'], tamper: ['DisassociateWidgetKey'] },
    trigger: { eventNames: ['CreateWidget', 'DisassociateWidgetKey'], sweeps: true, timeoutSeconds: 120 },
    keyParameters: [{ name: 'WidgetKmsKeyArn', path: ['kmsKeyArn'] }],
    aws: {
      source: 'aws.widgets',
      eventSource: 'widgets.amazonaws.com',
      resource: 'widget',
      createdKey: {
        description: 'atrest: encrypts widgets at rest',
        alias: 'alias/atrest/widgets',
        sid: 'AllowWidgets',
        service: 'widgets',
        encryptionContext: {
          key: 'kms:EncryptionContext:aws:widgets:arn',
          arnLike: 'arn:{partition}:widgets:{region}:{account}:widget/*',
        },
      },
    },
    remediator,
  };
  /** A second one that neither sweeps nor has tampers nor a key to create. */
  const gadgetKms = {
    id: 'aws.gadget-kms',
    cloud: 'aws',
    folder: 'gadget-kms',
    section: 'gadgetKms',
    config: section('gadgetKms'),
    events: { creation: ['CreateGadget'], tamper: [] },
    trigger: { eventNames: ['CreateGadget'] },
    keyParameters: [{ name: 'GadgetKmsKeyArn', path: ['kmsKeyArn'] }],
    aws: { source: 'aws.gadgets', eventSource: 'gadgets.amazonaws.com', resource: 'gadget' },
    remediator,
  };
  return { ...(await importOriginal<object>()), f06: widgetKms, f07: gadgetKms };
});

const { AtrestStack, AWS_DEPLOYED_IDS, FUNCTION_ID, SWEEP_EVENT } = await import(
  '../../infra/aws/lib/atrest-stack.ts'
);
const { OrganizationCentral } = await import('../../infra/aws/lib/organization.ts');
const { permissions: logGroupKmsPermissions } = await import(
  '../../functions/aws/log-group-kms/permissions.ts'
);

const LOGS_KEY = 'arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab';
const WIDGET_KEY = 'arn:aws:kms:us-east-1:111122223333:key/2222abcd-12ab-34cd-56ef-1234567890ab';
const GADGET_KEY = 'arn:aws:kms:us-east-1:111122223333:key/3333abcd-12ab-34cd-56ef-1234567890ab';
const STUB = lambda.Code.fromInline('exports.handler = async () => [];');
const statement = (action: string) => ({
  cloud: 'aws' as const,
  statements: [{ actions: [action], resources: ['*'], why: 'throwaway' }],
});
const PERMISSIONS = {
  'aws.log-group-kms': logGroupKmsPermissions,
  'aws.widget-kms': statement('widgets:AssociateKey'),
  'aws.gadget-kms': statement('gadgets:AssociateKey'),
};
const CODE = { 'aws.log-group-kms': STUB, 'aws.widget-kms': STUB, 'aws.gadget-kms': STUB };
const ALL = {
  aws: {
    logGroupKms: { kmsKeyArn: LOGS_KEY },
    widgetKms: { kmsKeyArn: WIDGET_KEY },
    gadgetKms: { kmsKeyArn: GADGET_KEY },
  },
};

function synth(props: Record<string, unknown> = {}) {
  const app = new App();
  const stack = new AtrestStack(app, 'Atrest', {
    config: ALL,
    permissions: PERMISSIONS,
    code: CODE,
    alarmEmail: 'oncall@example.com',
    env: { account: '111122223333', region: 'us-east-1' },
    ...props,
  });
  return { stack, template: Template.fromStack(stack) };
}

/** The logical id of the resource of `type` whose properties match. */
function idOf(template: Template, type: string, props: Record<string, unknown>): string {
  const found = Object.keys(template.findResources(type, { Properties: Match.objectLike(props) }));
  expect(found).toHaveLength(1);
  return found[0] as string;
}

describe('the AWS stack deploys every AWS manifest', () => {
  it('lists the registered AWS functions, the first keeping its place', () => {
    expect(AWS_DEPLOYED_IDS).toEqual(['aws.log-group-kms', 'aws.widget-kms', 'aws.gadget-kms']);
    expect(FUNCTION_ID).toBe('aws.log-group-kms');
  });

  it('gives each its Lambda with its own config section, permissions and timeout', () => {
    const { template } = synth();

    const widget = template.findResources('AWS::Lambda::Function', {
      Properties: { FunctionName: 'atrest-widget-kms' },
    });
    const [props] = Object.values(widget).map((r) => r.Properties);
    expect(props.Timeout).toBe(120);
    expect(JSON.parse(props.Environment.Variables.ATREST_CONFIG_JSON)).toEqual({
      aws: { widgetKms: { kmsKeyArn: WIDGET_KEY } },
    });
    idOf(template, 'AWS::Lambda::Function', { FunctionName: 'atrest-gadget-kms', Timeout: 60 });
    idOf(template, 'AWS::Lambda::Function', { FunctionName: 'atrest-log-group-kms', Timeout: 300 });
    template.hasResourceProperties('AWS::IAM::Policy', {
      PolicyDocument: {
        Statement: Match.arrayWith([Match.objectLike({ Action: 'widgets:AssociateKey', Resource: '*' })]),
      },
    });
  });

  it('gives each its rule with its event source and names, targeting its own Lambda', () => {
    const { template } = synth();
    const widgetFn = idOf(template, 'AWS::Lambda::Function', { FunctionName: 'atrest-widget-kms' });

    template.hasResourceProperties('AWS::Events::Rule', {
      EventPattern: {
        source: ['aws.widgets'],
        'detail-type': ['AWS API Call via CloudTrail'],
        detail: {
          eventSource: ['widgets.amazonaws.com'],
          eventName: ['CreateWidget', 'DisassociateWidgetKey'],
        },
      },
      Targets: [Match.objectLike({ Arn: { 'Fn::GetAtt': [widgetFn, 'Arn'] } })],
    });
    template.hasResourceProperties('AWS::Events::Rule', {
      EventPattern: { source: ['aws.gadgets'], detail: { eventName: ['CreateGadget'] } },
      Description: 'CloudTrail CreateGadget (successful calls only) to atrest aws.gadget-kms',
    });
  });

  it('schedules a sweep only for the functions that sweep', () => {
    const { template } = synth();
    const sweeps = template.findResources('AWS::Events::Rule', {
      Properties: { ScheduleExpression: Match.anyValue() },
    });
    const targets = Object.values(sweeps).map((r) => r.Properties.Targets[0]);

    expect(targets).toHaveLength(2);
    const widgetFn = idOf(template, 'AWS::Lambda::Function', { FunctionName: 'atrest-widget-kms' });
    const widgetSweep = targets.find((t) => t.Arn['Fn::GetAtt'][0] === widgetFn);
    expect(JSON.parse(widgetSweep.Input)).toEqual(SWEEP_EVENT);
    const gadgetFn = idOf(template, 'AWS::Lambda::Function', { FunctionName: 'atrest-gadget-kms' });
    expect(targets.some((t) => t.Arn['Fn::GetAtt'][0] === gadgetFn)).toBe(false);
  });

  it('gives each its alarms and a composite alarm that pages through the one topic', () => {
    const { template } = synth();

    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      AlarmDescription: 'atrest aws.widget-kms: a widget could not be encrypted (outcome failed)',
      Dimensions: Match.arrayWith([{ Name: 'function', Value: 'aws.widget-kms' }]),
    });
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      AlarmDescription: 'atrest aws.widget-kms: the scheduled sweep stopped before it reached every widget',
    });
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      AlarmDescription: 'atrest aws.gadget-kms: the function threw',
    });
    expect(
      Object.keys(
        template.findResources('AWS::CloudWatch::Alarm', {
          Properties: {
            AlarmDescription: Match.stringLikeRegexp('^atrest aws.gadget-kms: the scheduled sweep'),
          },
        }),
      ),
    ).toEqual([]);
    const composites = template.findResources('AWS::CloudWatch::CompositeAlarm');
    expect(Object.values(composites).map((c) => c.Properties.AlarmDescription.split(':')[0])).toEqual([
      'atrest aws.log-group-kms',
      'atrest aws.widget-kms',
      'atrest aws.gadget-kms',
    ]);
    // The shared resources exist once.
    template.resourceCountIs('AWS::SNS::Topic', 1);
    template.resourceCountIs('AWS::SQS::Queue', 2);
    template.resourceCountIs('AWS::DynamoDB::Table', 1);
  });

  it('creates each function its key granting its own service, and puts it in its section', () => {
    const { template } = synth({ createKey: true });

    template.hasResourceProperties('AWS::KMS::Key', {
      Description: 'atrest: encrypts widgets at rest',
      KeyPolicy: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Sid: 'AllowWidgets',
            Principal: { Service: { 'Fn::Join': ['', ['widgets.us-east-1.', { Ref: 'AWS::URLSuffix' }]] } },
          }),
        ]),
      },
    });
    template.hasResourceProperties('AWS::KMS::Alias', { AliasName: 'alias/atrest/widgets' });
    // The gadget has no key to create: it keeps its configured one.
    const [gadget] = Object.values(
      template.findResources('AWS::Lambda::Function', { Properties: { FunctionName: 'atrest-gadget-kms' } }),
    );
    expect(gadget?.Properties.Environment.Variables.ATREST_CONFIG_JSON).toContain(GADGET_KEY);
  });

  it('deploys only the configured functions', () => {
    const { template } = synth({ config: { aws: { widgetKms: { kmsKeyArn: WIDGET_KEY } } } });

    template.resourceCountIs('AWS::CloudWatch::CompositeAlarm', 1);
    idOf(template, 'AWS::Lambda::Function', { FunctionName: 'atrest-widget-kms' });
    expect(
      Object.keys(
        template.findResources('AWS::Lambda::Function', {
          Properties: { FunctionName: 'atrest-log-group-kms' },
        }),
      ),
    ).toEqual([]);
  });

  it("refuses organization mode over several AWS functions instead of forwarding members' events to the first", () => {
    const { stack } = synth();
    expect(
      () =>
        new OrganizationCentral(stack, 'Organization', {
          settings: {
            organizationId: 'o-abcdefghij',
            organizationalUnits: ['r-abcd'],
            memberRoleName: 'atrest-member',
            regions: ['us-east-1'],
            homeRegion: 'us-east-1',
          },
          permissions: logGroupKmsPermissions,
        }),
    ).toThrow(
      /organization: the AWS organization templates serve one function; this stack deploys aws.log-group-kms, aws.widget-kms, aws.gadget-kms/,
    );
  });

  it('refuses one permission set for several functions, naming them', () => {
    expect(() => synth({ permissions: logGroupKmsPermissions })).toThrow(
      /permissions: this stack deploys aws.log-group-kms, aws.widget-kms, aws.gadget-kms; pass one per function id/,
    );
    expect(() => synth({ code: { 'aws.log-group-kms': STUB } })).toThrow(/code.aws.widget-kms: missing/);
  });
});
