/**
 * CloudWatch Embedded Metric Format, hand-written: a few keys merged into the outcome's own log
 * line turn it into metrics without an API call, an agent or a dependency (Powertools Metrics
 * would add cold-start time for two numbers). Spec:
 * https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html
 */
import type { Outcome } from '#core/outcome';

const METRIC_NAMESPACE = 'atrest';

/** The EMF part of one outcome line. The dimension values (`function`, `outcome`) are the outcome's own fields. */
export interface EmfFields {
  _aws: {
    Timestamp: number;
    CloudWatchMetrics: [
      {
        Namespace: string;
        Dimensions: [['function', 'outcome']];
        Metrics: [{ Name: 'Outcome'; Unit: 'Count' }, { Name: 'DurationMs'; Unit: 'Milliseconds' }];
      },
    ];
  };
  Outcome: 1;
  DurationMs: number;
}

function emfFields(outcome: Pick<Outcome, 'durationMs'>, timestamp: number): EmfFields {
  return {
    _aws: {
      Timestamp: timestamp,
      CloudWatchMetrics: [
        {
          Namespace: METRIC_NAMESPACE,
          Dimensions: [['function', 'outcome']],
          Metrics: [
            { Name: 'Outcome', Unit: 'Count' },
            { Name: 'DurationMs', Unit: 'Milliseconds' },
          ],
        },
      ],
    },
    Outcome: 1,
    DurationMs: outcome.durationMs,
  };
}

/** The whole structured line: every Outcome field plus its metrics, so one line is both log and metric. */
export function outcomeWithMetrics(outcome: Outcome, timestamp: number = Date.now()): Outcome & EmfFields {
  return { ...outcome, ...emfFields(outcome, timestamp) };
}
