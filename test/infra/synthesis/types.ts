/** The synthesis's output: plain JSON, so a test, a check or a person can read it. */
import type { BuildRecord } from "./sst-server.js";

export interface SynthesisRequest {
  /** Project directory holding sst.config.ts and an installed `.sst/platform`. */
  root: string;
  stage: string;
  account: { accountId: string; region: string };
  /** Where function bundles are written, one directory per function. */
  bundlesDir: string;
  workDir: string;
  outFile: string;
}

export interface SynthesizedResource {
  /** Pulumi URN (type chain and logical name). */
  urn: string;
  /** URN of the parent component, when there is one. */
  parent?: string;
  /** Pulumi type token, e.g. `aws:sqs/queue:Queue` or `sst:aws:Function`. */
  type: string;
  /** Logical name, e.g. `MessagesQueueQueue`. */
  name: string;
  /** False for components (SST's `sst:aws:*`), true for resources a provider creates. */
  custom: boolean;
  /** Physical id as the mocks answered it. */
  id: string;
  /** What the program passed (Outputs resolved). */
  inputs: Record<string, any>;
  /** What AWS would answer: the inputs plus physical name, ARN and computed attributes. */
  state: Record<string, any>;
}

export interface Synthesis {
  app: { name: string; stage: string; accountId: string; region: string };
  resources: SynthesizedResource[];
  /** The stack outputs `run()` returned (ApiUrl, MessagesQueueUrl, …). */
  outputs: Record<string, unknown>;
  /** Every function bundle SST's build step produced. */
  builds: BuildRecord[];
  /** Errors raised while the program ran; a synthesis with errors is not to be trusted. */
  errors: string[];
}
