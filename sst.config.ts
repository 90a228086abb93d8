/// <reference path="./.sst/platform/config.d.ts" />

// The AWS home of wallet-messaging. Each concern lives in infra/; the wiring (which function runs
// which handler with which access) is plain data in infra/manifest.ts, checked by test/infra/.
export default $config({
  app(input) {
    const production = input?.stage === "production";
    return {
      name: "wallet-messaging",
      // Production keeps its table (and, via retainOnDelete, its secrets) and refuses `sst remove`;
      // every other stage is disposable.
      removal: production ? "retain" : "remove",
      protect: production,
      home: "aws",
    };
  },
  async run() {
    const secrets = await import("./infra/secrets.js");
    const { table } = await import("./infra/ledger.js");
    const { queue, deadLetterQueue } = await import("./infra/queue.js");
    const { walletBus } = await import("./infra/bus.js");
    const { senderFunctionName } = await import("./infra/sender.js");
    const { api } = await import("./infra/api.js");
    const { alarmsTopic } = await import("./infra/alarms.js");
    await import("./infra/schedules.js");

    return {
      ApiUrl: api.url,
      MessagesQueueUrl: queue.url,
      MessagesQueueArn: queue.arn,
      DeadLetterQueueUrl: deadLetterQueue.url,
      DeadLetterQueueArn: deadLetterQueue.arn,
      PassEntryTokenSecretArn: secrets.passEntryToken.secret.arn,
      ApiKeysSecretArn: secrets.apiKeys.secret.arn,
      PassEntryWebhookSecretsSecretArn: secrets.webhookSecrets.secret.arn,
      WebhookSigningSecretsSecretArn: secrets.webhookSigningSecrets.secret.arn,
      WalletTableName: table.name,
      WalletBusName: walletBus.name,
      WalletBusArn: walletBus.arn,
      SenderFunctionName: senderFunctionName,
      AlarmsTopicArn: alarmsTopic.arn,
    };
  },
});
