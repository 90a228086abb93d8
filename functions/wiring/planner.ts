/** The planner's adapters: the request store and the queue. It reads no secret and never calls PassEntry. */
import { DynamoDbRequestStore } from "../adapters/dynamodb-request-store.js";
import { SqsMessageQueue } from "../adapters/sqs-message-queue.js";
import { composePlanner } from "../composition.js";
import { systemClock } from "../core/ports.js";
import type { Promotion } from "../core/promotions.js";
import type { PlannerDeps } from "../handler-deps.js";
import { awsConfig, awsLog, awsTable, once } from "./aws-base.js";

/**
 * The planner's dependencies. `loadPromotions` reads the promotions.json bundled into the planner's
 * own Lambda (its handler passes it in), so the other functions do not carry it.
 */
export function awsPlannerDeps(loadPromotions: () => readonly Promotion[]): () => PlannerDeps {
  return once(() =>
    composePlanner({
      store: new DynamoDbRequestStore(awsTable()),
      queue: new SqsMessageQueue(awsConfig().MESSAGES_QUEUE_URL),
      clock: systemClock,
      log: awsLog(),
      promotions: loadPromotions(),
    }),
  );
}
