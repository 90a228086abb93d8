/**
 * Remembers the last argument and its result. Handlers read secrets (cached by the SecretStore) on
 * every request; parsing them (JSON, key digests, signer setup) again each time would be wasted work
 * on the hot path, while a rotated secret — a new text — is simply parsed once more.
 *
 * @example const parse = memoizeLast((raw: string) => JSON.parse(raw)); parse(a) === parse(a) // true
 */
export function memoizeLast<A, R>(compute: (arg: A) => R): (arg: A) => R {
  let last: { arg: A; result: R } | undefined;
  return (arg) => {
    if (last === undefined || last.arg !== arg) last = { arg, result: compute(arg) };
    return last.result;
  };
}
