import { isFollowUp, QueueMessageBody, toSendRequest } from "./schemas.js";

/** The request id a queue body carries, or null when it is not a readable request (poison). */
export function requestIdOf(body: string, messageId: string): string | null {
  try {
    const parsed = QueueMessageBody.safeParse(JSON.parse(body));
    if (!parsed.success) return null;
    return isFollowUp(parsed.data) ? parsed.data.requestId : toSendRequest(parsed.data, messageId).requestId;
  } catch {
    return null;
  }
}
