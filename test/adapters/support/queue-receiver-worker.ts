/**
 * A queue consumer in its own thread, for the test that two receivers on one SQLite file never get
 * the same message: it receives until the queue stays empty and posts every message id it got.
 */
import { parentPort, workerData } from "node:worker_threads";
import { openSqlite } from "../../../functions/adapters/sqlite-database.js";
import { SqliteMessageQueue } from "../../../functions/adapters/sqlite-message-queue.js";

const { file, batchSize } = workerData as { file: string; batchSize: number };
const db = openSqlite(file);
const queue = new SqliteMessageQueue(db);
// Start together: both threads are ready before either receives.
await new Promise<void>((resolve) => {
  parentPort!.once("message", () => resolve());
  parentPort!.postMessage("ready");
});
const received: string[] = [];
let emptyPolls = 0;
while (emptyPolls < 3) {
  const batch = queue.receive(batchSize, 600_000);
  received.push(...batch.map((m) => m.messageId));
  emptyPolls = batch.length === 0 ? emptyPolls + 1 : 0;
}
db.close();
parentPort!.postMessage({ received });
