/// <reference path="./.sst/platform/config.d.ts" />

// The AWS home of wallet-messaging. Each concern lives in infra/; the wiring (which function runs
// which handler with which access) is plain data in infra/manifest.ts, checked by test/infra/.
export default $config({
  async app(input) {
    // SST refuses top-level imports here; the stage table is read for every command, so a stage
    // the table does not allow (a protected stage without its row) stops before anything is touched.
    const { stageSettings } = await import("./infra/stage-config.js");
    const stage = stageSettings(input?.stage ?? "");
    return {
      name: "wallet-messaging",
      // Production keeps its table (and, via retainOnDelete, its secrets) and refuses `sst remove`;
      // every other stage is disposable.
      removal: stage.protected ? "retain" : "remove",
      protect: stage.protected,
      home: "aws",
      // The region comes from stages.json, never from the shell's AWS_REGION or profile: a second
      // region would be a second live copy with its own ledger and schedules.
      providers: { aws: { region: stage.region } },
    };
  },
  async run() {
    const secrets = await import("./infra/secrets.js");
    const { table } = await import("./infra/ledger.js");
    const { queue, deadLetterQueue, busDeadLetterQueue, promotionFailuresQueue } = await import("./infra/queue.js");
    const { stage } = await import("./infra/stage.js");
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
      BusDeadLetterQueueUrl: busDeadLetterQueue.url,
      PromotionFailuresQueueUrl: promotionFailuresQueue.url,
      PassEntryTokenSecretArn: secrets.passEntryToken.secret.arn,
      ApiKeysSecretArn: secrets.apiKeys.secret.arn,
      PassEntryWebhookSecretsSecretArn: secrets.webhookSecrets.secret.arn,
      WebhookSigningSecretsSecretArn: secrets.webhookSigningSecrets.secret.arn,
      WalletTableName: table.name,
      WalletBusName: walletBus.name,
      WalletBusArn: walletBus.arn,
      SenderFunctionName: senderFunctionName,
      AlarmsTopicArn: alarmsTopic.arn,
      // Where the stage lives (stages.json): `npm run smoke` reads the alarms there.
      Region: stage.region,
    };
  },
});
