/** Types for scripts/check-layers.mjs (plain JavaScript, so `npm run lint` needs no build step). */
export interface Layer {
  from: string;
  may?: string[];
  mayNot?: string[];
  why: string;
}
export declare const LAYERS: Layer[];
export declare function importsOf(path: string, text: string): { specifier: string; target: string }[];
export declare function checkLayers(files: { path: string; text: string }[]): string[];
