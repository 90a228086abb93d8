/**
 * Names of the custom metrics the functions publish, in the one place both sides read: the sender
 * emits them (powertools-metrics.ts) and the infra alarms on them (infra/manifest.ts). An alarm
 * matches a metric only when namespace, name and every dimension agree, so neither side spells them.
 */
export const UNKNOWN_OUTCOMES_METRIC = {
  namespace: "WalletMessaging",
  name: "UnknownOutcomes",
  /**
   * Dimensions besides Powertools' own `service`: the stage, so stages sharing an account (and
   * their alarms) never count each other's unknown outcomes.
   */
  stageDimension: "Stage",
} as const;
