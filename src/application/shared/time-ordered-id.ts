/** Digits, then lower-case letters: their order as bytes and in every common collation alike. */
const BASE36 = '0123456789abcdefghijklmnopqrstuvwxyz';
/** Nine base-36 digits hold the milliseconds since 1970 until the year 5138. */
const TIME_DIGITS = 9;
const TIME_LIMIT = 36 ** TIME_DIGITS;

/**
 * An id that starts with when it was made: `prefix`, the time as nine base-36 digits, then
 * `random`. Ids made one after another sort together, so the B-tree indexes keyed by them (the
 * order streams, report rows, the open-work index) take each new one on their last pages, not
 * on a random page each: a group commit then rewrites a few pages instead of several per order.
 * The random part keeps the id unguessable and unique; a clock that steps back costs only that
 * locality, never uniqueness.
 */
export function timeOrderedId(prefix: string, at: Date, random: string): string {
  let ms = Math.min(Math.max(0, Math.floor(at.getTime())), TIME_LIMIT - 1);
  let digits = '';
  for (let i = 0; i < TIME_DIGITS; i++) {
    digits = BASE36[ms % 36] + digits;
    ms = Math.floor(ms / 36);
  }
  return `${prefix}${digits}${random}`;
}
