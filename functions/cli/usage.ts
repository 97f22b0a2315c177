/**
 * The CLI's help text, one entry per verb: `atrest <verb> --help` prints that entry, `atrest --help`
 * the overview built from all of them, and a usage error prints the verb's synopsis and a pointer
 * to its help (three lines, not the whole manual). Adding a verb is one entry in VERBS.
 */
import { didYouMean } from '#core/spelling';
import { FUNCTION_IDS } from '../manifests.ts';

export class UsageError extends Error {
  /** The verb whose synopsis the error should show; undefined for the global usage. */
  readonly verb: string | undefined;
  constructor(message: string, verb?: string) {
    super(message);
    this.name = 'UsageError';
    this.verb = verb;
  }
}

export interface VerbHelp {
  /** One line each: `atrest <verb> …` forms. */
  synopsis: readonly string[];
  /** One sentence for the overview. */
  summary: string;
  /** The rest of the verb's help: what it does, each flag. */
  details: string;
}

export const VERBS: Record<string, VerbHelp> = {
  init: {
    synopsis: [
      'atrest init [--out FILE] [--aws-key ARN]... [--alicloud-key KEY_ID] [--alicloud-region R]...',
      '            [--functions ID,...] [--logstore-role ARN] [--force]',
    ],
    summary: 'write a starter config from flags and validate it',
    details: `Writes a config (default atrest.json) with a section for each function you enable, validates it
with the same parser the functions run, and prints what to check next. JSON has no comments, so
the guidance is printed, not written into the file.
  --aws-key ARN          the log-group key of a region (repeat: one per region; the first is the default)
  --alicloud-key KEY_ID  the KMS key id for cluster-kms, disk-default-kms and logstore BYOK
  --alicloud-region R    regions disk-default-kms checks (repeat)
  --functions ID,...     which functions to enable (default: every one whose key is given)
  --logstore-role ARN    the role SLS assumes for BYOK (then logstores use your key, not SLS's)
  --force                overwrite an existing file`,
  },
  replay: {
    synopsis: [
      'atrest replay <event.json|folder|->... [--config FILE] [--dry-run] [--force]',
      'atrest replay --remote <event.json|folder>... [--function-name NAME] [--region R] [--account ID]',
      '              [--qualifier Q] [--fc2-service SERVICE]',
    ],
    summary: 'run events through the function that owns them (here, or the deployed one)',
    details: `Runs each event through the function that owns it, in this process, against the real cloud APIs
(credentials and endpoints from the environment). A folder means every *.json in it; a file may
hold one event or a JSON array of events; - reads standard input. Dead letters are unwrapped:
\`aws sqs receive-message\` output, Lambda / Function Compute on-failure records, EventBridge
dead-letter messages, atrest's own re-queued bodies.
  --dry-run   read state and decide, write nothing (ends with a summary of what would change)
  --force     bypass the idempotency record
  --remote    invoke the deployed function instead (AWS Lambda Invoke; Function Compute 3.0
              InvokeFunction, or @alicloud/fc2 with --fc2-service) and print its outcome lines.
              Default function name atrest-<name> (atrest-log-group-kms, …); region and account:
              the event's.`,
  },
  sweep: {
    synopsis: [
      'atrest sweep <function-id> [--org | --account ID...] [--region R]... [--dry-run] [--concurrency N]',
      '             [--rate N] [--config FILE]',
    ],
    summary: 'find existing resources of a kind and remediate the non-compliant ones (backfill)',
    details: `Lists existing resources of that kind and remediates each non-compliant one.
  --org            every account of the organization (AWS Organizations / Resource Directory
                   ListAccounts, less excludeAccounts); needs the cloud's "organization" config
  --account ID     one account (repeat); another than your own needs the "organization" config
  --region R       where to sweep (repeat); default the configured (organization's) regions
  --dry-run        read and decide, write nothing; ends with what would change
  --concurrency N  resources in flight (1-64, default 4)
  --rate N         remediator API calls per second across all regions (default 5), so live
                   events keep their quota
Progress and a summary on stderr. An interrupted org-wide run resumes where it stopped
(checkpoint in $ATREST_CHECKPOINT_DIR, default .atrest/checkpoints).`,
  },
  report: {
    synopsis: [
      'atrest report [function-id]... [--org | --account ID...] [--region R]...',
      '              [--format table|ndjson|md|csv] [--rate N] [--config FILE]',
    ],
    summary: 'where do we stand? one line per resource, read-only',
    details: `Reads, never writes: one line per resource of each configured function (default: all),
{"function","account","region","resource","status","current","desired"}, status
compliant|noncompliant|excluded|error.
  --format F       table on a terminal (ends with totals per function, account and region), else
                   ndjson; md and csv for pipelines
  --org, --account ID, --region R   as for sweep (an interrupted org-wide run resumes)
  --rate N         API calls per second across all regions
Exit 0 when nothing is noncompliant or error, 1 otherwise, 2 usage.`,
  },
  doctor: {
    synopsis: [
      'atrest doctor [--config FILE] [--aws-region R]... [--alicloud-region R]... [--region R]...',
      '              [--ack-role-id ID]',
    ],
    summary: 'preflight: config, keys, key policies, trails and rules, cluster RBAC',
    details: `Checks the config; each configured key exists, is enabled, has the right spec and usage, and
(AWS) its key policy lets CloudWatch Logs use it; a trail is logging (CloudTrail / ActionTrail),
the EventBridge rules exist and are enabled, the default bus has room for them (Alibaba Cloud: 10
rules); ACK clusters need an RBAC grant for the function role. One line per check on stdout:
"ok|FAIL|skip  <check>  <detail>  fix: ...".
  --aws-region R       AWS regions where the default key is used (repeat)
  --alicloud-region R  Alibaba Cloud regions where the default keys are used (repeat)
  --region R           both clouds, each taking the names that are its own region format
  --ack-role-id ID     the cluster-kms role id (stack output ClusterKmsRoleId): check each ACK
                       cluster grants it RBAC (run as an RBAC admin of the clusters)`,
  },
};

/** `atrest --help`: the verbs, one line each, and where to read more. */
export function overview(): string {
  const width = Math.max(...Object.keys(VERBS).map((v) => v.length));
  const verbs = Object.entries(VERBS).map(([verb, h]) => `  ${verb.padEnd(width)}  ${h.summary}`);
  return `usage: atrest <command> [options]     (atrest <command> --help for its options)

${verbs.join('\n')}

  Config: --config FILE, else $ATREST_CONFIG (write one with atrest init).
  Output: NDJSON on stdout, logs on stderr. --version prints the version.
  Exit: 0 all good, 1 a failed or rejected line (doctor: a FAIL), 2 usage or config error.
  Function ids: ${FUNCTION_IDS.join(', ')}`;
}

/** Full help of one verb. */
export function verbHelp(verb: string): string {
  const help = VERBS[verb];
  if (help === undefined) return overview();
  return `usage: ${help.synopsis.join('\n       ')}\n\n${help.summary}.\n\n${help.details}`;
}

/** What a usage error prints under its message: the synopsis and where the details are. */
export function shortUsage(verb: string | undefined): string {
  const help = verb === undefined ? undefined : VERBS[verb];
  if (help === undefined)
    return `usage: atrest <${Object.keys(VERBS).join('|')}> [options]   (atrest --help)`;
  return `usage: ${help.synopsis[0]}\n       (atrest ${verb} --help for all options)`;
}

/** ` — did you mean "x"?` or empty. */
export function suggestion(input: string, candidates: readonly string[]): string {
  const match = didYouMean(input, candidates);
  return match === undefined ? '' : ` — did you mean "${match}"?`;
}

/** `atrest report --help` (report-command.ts prints it too). */
export const REPORT_USAGE = verbHelp('report');
