/**
 * The UnknownOutcomes metric through Powertools Metrics (CloudWatch Embedded Metric Format): one
 * JSON line on stdout that CloudWatch turns into a data point in `WalletMessaging`, with the
 * dimensions `service` (Powertools adds it) and `Stage`, the ones the stage's alarm watches.
 *
 * Published at once rather than at the end of the invocation: an unknown outcome is rare, and a
 * sender that times out right after must not lose the one data point that pages a person.
 */
import { Metrics, MetricUnit } from "@aws-lambda-powertools/metrics";
import { UNKNOWN_OUTCOMES_METRIC } from "./metric-names.js";

export interface UnknownOutcomeMetrics {
  unknownOutcome(key: { requestId: string; chunk: number }): void;
}

/**
 * @example
 *   const metrics = powertoolsUnknownOutcomeMetrics({ serviceName: "wallet-messaging", stage: "production" });
 *   metrics.unknownOutcome({ requestId: "r-1", chunk: 0 }); // one EMF line, UnknownOutcomes = 1
 */
export function powertoolsUnknownOutcomeMetrics(options: {
  stage: string;
  serviceName?: string;
}): UnknownOutcomeMetrics {
  const metrics = new Metrics({
    namespace: UNKNOWN_OUTCOMES_METRIC.namespace,
    // Unset: Powertools reads POWERTOOLS_SERVICE_NAME, as the Logger does.
    ...(options.serviceName ? { serviceName: options.serviceName } : {}),
    defaultDimensions: { [UNKNOWN_OUTCOMES_METRIC.stageDimension]: options.stage },
  });
  return {
    unknownOutcome(key) {
      metrics.addMetric(UNKNOWN_OUTCOMES_METRIC.name, MetricUnit.Count, 1);
      // Searchable in Logs Insights beside the metric, without becoming a dimension (a dimension
      // per request id would be a metric per request).
      metrics.addMetadata("requestId", key.requestId);
      metrics.addMetadata("chunk", String(key.chunk));
      metrics.publishStoredMetrics();
    },
  };
}
