import { stageSettings } from "./stage-config.js";

/**
 * This deploy's stage settings (stages.json, checked by infra/stage-config.ts). Only protected
 * stages (production) keep their data and secrets when the stage is removed; every other stage
 * (dev, pr-123, a developer's name) is disposable.
 */
export const stage = stageSettings($app.stage);
export const isProduction = stage.protected;
