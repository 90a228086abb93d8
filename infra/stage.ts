/**
 * Stage facts shared by the infra modules. Only `production` keeps its data and secrets when the
 * stage is removed; every other stage (dev, pr-123, a developer's name) is disposable.
 */
export const isProduction = $app.stage === "production";
