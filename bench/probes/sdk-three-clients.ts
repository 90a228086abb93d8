/** Probe: the three SDK clients the accept path needs (Secrets Manager, DynamoDB, SQS), one call each. */
import { DynamoDBClient, GetItemCommand } from "@aws-sdk/client-dynamodb";
import { SecretsManagerClient, GetSecretValueCommand } from "@aws-sdk/client-secrets-manager";
import { SQSClient, SendMessageCommand } from "@aws-sdk/client-sqs";
export const handler = async () => {
  await new SecretsManagerClient({}).send(new GetSecretValueCommand({ SecretId: process.env.API_KEYS_SECRET_ID }));
  await new DynamoDBClient({}).send(new GetItemCommand({ TableName: "t", Key: { pk: { S: "a" }, sk: { S: "b" } } }));
  await new SQSClient({}).send(new SendMessageCommand({ QueueUrl: process.env.MESSAGES_QUEUE_URL, MessageBody: "x" }));
  return { statusCode: 200 };
};
