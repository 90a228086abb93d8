/** Probe: the DynamoDB client alone, built on first call, one GetItem (to the loopback stub). */
import { DynamoDBClient, GetItemCommand } from "@aws-sdk/client-dynamodb";
export const handler = async () => {
  const c = new DynamoDBClient({});
  await c.send(new GetItemCommand({ TableName: "t", Key: { pk: { S: "a" }, sk: { S: "b" } } }));
  return { statusCode: 200 };
};
