/**
 * Content fingerprints for idempotent replays. A posting's fingerprint is compared only with another
 * version offered under the same idempotency key, so what matters is that a change of content changes
 * the fingerprint, not resistance to an attacker (who could at most make a changed record look like a
 * replay of itself). A 64-bit non-cryptographic hash does that at a fraction of sha256's cost on a path
 * that runs a million times a night.
 */

/** Murmur3's finaliser: spreads every input bit over the whole 32-bit word. */
function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** Two independent FNV-1a lanes over the UTF-16 code units, each finalised: 16 hex digits. */
export function fingerprint(text: string): string {
  let a = 0x811c9dc5 ^ text.length;
  let b = 0x01000193 ^ Math.imul(text.length, 0x9e3779b1);
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    a = Math.imul(a ^ c, 0x01000193);
    b = Math.imul(b ^ c, 0x5bd1e995) ^ (b >>> 15);
  }
  const hi = fmix32(a ^ Math.imul(b, 0x27d4eb2d));
  const lo = fmix32(b ^ Math.imul(a, 0x165667b1));
  return hi.toString(16).padStart(8, '0') + lo.toString(16).padStart(8, '0');
}

/**
 * An unambiguous text form of a list of fields: each value is length-prefixed, so no field's content can
 * imitate a separator; absent values have their own mark.
 */
export function canonical(fields: ReadonlyArray<string | number | boolean | null | undefined>): string {
  let out = '';
  for (const f of fields) {
    if (f === null || f === undefined) out += '~';
    else {
      const s = typeof f === 'string' ? f : String(f);
      out += `${s.length}:${s}`;
    }
  }
  return out;
}
