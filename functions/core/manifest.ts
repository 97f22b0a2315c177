/**
 * What a function says about itself (its folder's `manifest.ts`): everything the CLI, the infra,
 * the doctor and the tests used to keep in their own lists. The set of manifests
 * (functions/manifests.ts) is the only list of functions; adding one never edits core.
 *
 * A manifest is data plus lazy factories: importing it never loads the function's code, its SDK
 * clients or another function, so the CLI can route an event and the infra can synth without them.
 */
import type { AnySection, Cloud } from './config.ts';
import type { FunctionId } from './outcome.ts';
import type { Remediator } from './remediator.ts';

export type { Cloud };
export type DeliveryPath = 'eventbridge' | 'trail';

// biome-ignore lint/suspicious/noExplicitAny: a manifest's remediator is of its own shape.
export type AnyRemediator = Remediator<any, any, any>;

/** How the CLI (or a test) asks for a remediator: a member account's, or one with other env. */
export interface RemediatorOptions {
  env?: Record<string, string | undefined>;
  /** A member account's remediator (functions/cli/accounts.ts): its account and credentials. */
  account?: string;
  /** Alibaba Cloud: the member's credentials, asked per request. */
  credentials?: () => { accessKeyId: string; accessKeySecret: string; securityToken?: string };
  /** AWS: the member's CloudWatch Logs client per region. */
  logsClient?: (region: string) => unknown;
}

export interface FunctionManifest {
  /** `<cloud>.<folder>`: the function id of CONTRACT.md (outcome lines, `--functions`, sweep). */
  readonly id: FunctionId;
  readonly cloud: Cloud;
  /** Its folder under functions/<cloud>/ (and under events/<cloud>/, test/functions/<cloud>/). */
  readonly folder: string;
  /** Its section in the config document: `<cloud>.<section>`; absent means switched off. */
  readonly section: string;
  /**
   * That section: its schema (built on first use) and cross-field rules, from the folder's
   * `config.ts` (#core/config `defineSection`). The document is composed from these: every
   * manifest's for the CLI and the infra (functions/config.ts), its own for a deployed handler.
   */
  readonly config: AnySection;
  /**
   * The event names it owns, per kind: creations (CONTRACT section 1) and tampers (section 6).
   * The infra's rules and triggers, the doctor's delivery checks and the meta-test read them here.
   */
  readonly events: { readonly creation: readonly string[]; readonly tamper: readonly string[] };
  /** Alibaba Cloud: delivery paths deployed when the config's `delivery` is absent. */
  readonly delivery?: readonly DeliveryPath[];
  /** How it is deployed: what its event rule matches, and its timer if it has one. */
  readonly trigger: TriggerSpec;
  /** Why `atrest doctor` cannot dry-run its write permission (its write API has no dry-run mode). */
  readonly noDryRun?: string;
  /**
   * Alibaba Cloud: why no EventBridge rule is expected for it (its service's events do not reach
   * EventBridge); `atrest doctor` then reports a missing rule as a skip with this text, not a FAIL.
   */
  readonly noEventBridgeRule?: string;
  /**
   * What `atrest doctor` cannot check before the first write, each reported as a skip
   * `<id> <check>` with its detail and fix when the function is configured.
   */
  readonly doctorSkips?: readonly {
    readonly check: string;
    readonly detail: string;
    readonly fix?: string;
  }[];
  /** Deployment notes the operator must act on (the Alibaba Cloud stack's Metadata "Prerequisites"). */
  readonly prerequisites?: readonly string[];
  /**
   * Key ids of its section that become stack parameters (Alibaba Cloud: swapped at deploy time
   * without a new synth): the parameter's name and the key's path inside the section. AWS: the
   * first one's path is where the stack puts the key `createKey` made.
   */
  readonly keyParameters?: readonly { readonly name: string; readonly path: readonly string[] }[];
  /** A stack output carrying its role's id under this name (e.g. for `doctor --ack-role-id`). */
  readonly roleIdOutput?: string;
  /** AWS: what the AWS stack (infra/aws) needs beyond the trigger to deploy it. */
  readonly aws?: AwsDeploySpec;
  /** Its remediator, imported on first use. */
  readonly remediator: (options: RemediatorOptions) => Promise<AnyRemediator>;
}

/** A function's deployed trigger (infra/aws, infra/alicloud build their rules from it). */
export interface TriggerSpec {
  /** Event names its EventBridge rule matches: its creations, tampers and their aliases. */
  readonly eventNames: readonly string[];
  /** Alibaba Cloud: the EventBridge `type` pattern; default any service's ActionTrail types. */
  readonly eventTypes?: readonly string[];
  /** A timer (FC cron, UTC, with seconds) for a periodic check; default none. */
  readonly timer?: string;
  /**
   * The timer runs the platform's scheduled sweep of the region (else the remediator's own tick).
   * AWS: the stack's sweep schedule sends it `{"atrest":{"sweep":true}}` (no `timer` needed).
   */
  readonly sweeps?: boolean;
  /** Function timeout in seconds; default 60. */
  readonly timeoutSeconds?: number;
}

/**
 * An AWS function's deployment facts (infra/aws/lib/atrest-stack.ts loops over the AWS manifests
 * and reads these; its key field is the manifest's `keyParameters[0]`, its regions' keys its
 * section's `keys`).
 */
export interface AwsDeploySpec {
  /** EventBridge `source` of its CloudTrail events (`aws.<service>`). */
  readonly source: string;
  /** CloudTrail `eventSource` of its events (`<service>.amazonaws.com`). */
  readonly eventSource: string;
  /** What it encrypts, singular ("log group"): the rule, sweep and alarm descriptions name it. */
  readonly resource: string;
  /** The key `createKey` makes for it; without this, createKey leaves it to its configured key. */
  readonly createdKey?: {
    readonly description: string;
    readonly alias: string;
    /** The key policy statement's sid. */
    readonly sid: string;
    /** The service whose regional principal (`<service>.<region>.<urlSuffix>`) may use the key. */
    readonly service: string;
    /** Its encryption-context condition key, and the ARN pattern ({partition}, {region}, {account}). */
    readonly encryptionContext: { readonly key: string; readonly arnLike: string };
  };
}
