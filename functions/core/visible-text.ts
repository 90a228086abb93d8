/**
 * Text that comes from others (callers' messages, PassEntry's error sentences, entity ids, notes
 * stored by earlier versions, dead-lettered message bodies) is shown to people by the operator CLIs
 * and the console. Shown raw, a control character drives a terminal (ESC clears the screen or sets
 * the window title; CR rewrites a line) and hides in a page; a bidi override reorders what the
 * reader sees, in a terminal and a browser alike; a line break forges a line of output. Such
 * characters are shown escaped instead, as `\u001b`: visible, and still valid inside JSON. This is
 * the one place that rule lives; the CLIs and the console's `esc` both go through it.
 *
 * @example terminalSafe("ok\u001b[2J\r\nforged", { keepLineBreaks: false }) // "ok\\u001b[2J\\u000d\\u000aforged"
 */

/** Controls (C0, DEL, C1), format characters (bidi, zero-width, BOM), lone surrogates, line and paragraph separators. */
const UNSAFE = /[\p{Cc}\p{Cf}\p{Cs}\p{Zl}\p{Zp}]/gu;

/** `\u001b`; a character beyond U+FFFF as its two UTF-16 halves, as JSON writes it, so escaped JSON still parses. */
function escaped(char: string): string {
  return [...Array(char.length).keys()].map((i) => `\\u${char.charCodeAt(i).toString(16).padStart(4, "0")}`).join("");
}

/**
 * Escapes every character that could act on a terminal. With `keepLineBreaks`, `\n` and `\t` stay
 * (for our own multi-line output); without, they are escaped too (for one value inside a line).
 */
export function terminalSafe(text: string, options: { keepLineBreaks: boolean }): string {
  return text.replace(UNSAFE, (char) =>
    options.keepLineBreaks && (char === "\n" || char === "\t") ? char : escaped(char),
  );
}

/** One value from elsewhere, to print inside a line of ours. */
export function printable(value: unknown): string {
  return terminalSafe(String(value), { keepLineBreaks: false });
}
