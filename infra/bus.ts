import { bus as spec } from "./manifest.js";
import { queue } from "./queue.js";

/**
 * WalletBus: other AWS services put `WalletMessageRequested` events here and they land in
 * MessagesQueue as full EventBridge envelopes, which the sender unwraps.
 *
 * `subscribeQueue` also writes MessagesQueue's queue policy allowing events.amazonaws.com to send
 * (SST's `Queue.createPolicy`). Do not add a second `aws.sqs.QueuePolicy` for this queue: SQS keeps
 * one policy per queue and two resources would overwrite each other on every deploy.
 */
export const walletBus = new sst.aws.Bus(spec.name);

export const walletMessageRequested = walletBus.subscribeQueue("WalletMessageRequested", queue, {
  pattern: { detailType: [spec.requestDetailType] },
});
