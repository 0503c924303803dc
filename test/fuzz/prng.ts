import { Random } from '../../demo/random.js';

/**
 * A small seeded generator for the fuzz corpus (the demo's sfc32, seeded with cyrb128 of a text key). Our own rather
 * than fast-check's so that one file of the corpus can be rebuilt from its key alone, without replaying
 * the ones before it: `new Prng(\`${seed}:${feed}:${index}\`)` always gives the same stream.
 */
export class Prng extends Random {
  constructor(key: string) {
    super(0);
    this.reseed(...cyrb128(key));
  }

  /** An integer in [0, n); 0, without a draw, when n is not positive. */
  override int(n: number): number {
    return n <= 0 ? 0 : super.int(n);
  }

  /** One of `items` drawn by weight. */
  weighted<T>(items: ReadonlyArray<readonly [T, number]>): T {
    const total = items.reduce((s, [, w]) => s + w, 0);
    let r = this.next() * total;
    for (const [item, w] of items) {
      r -= w;
      if (r < 0) return item;
    }
    return items[items.length - 1]![0];
  }
}

function cyrb128(str: string): [number, number, number, number] {
  let h1 = 1779033703;
  let h2 = 3144134277;
  let h3 = 1013904242;
  let h4 = 2773480762;
  for (let i = 0; i < str.length; i++) {
    const k = str.charCodeAt(i);
    h1 = h2 ^ Math.imul(h1 ^ k, 597399067);
    h2 = h3 ^ Math.imul(h2 ^ k, 2869860233);
    h3 = h4 ^ Math.imul(h3 ^ k, 951274213);
    h4 = h1 ^ Math.imul(h4 ^ k, 2716044179);
  }
  h1 = Math.imul(h3 ^ (h1 >>> 18), 597399067);
  h2 = Math.imul(h4 ^ (h2 >>> 22), 2869860233);
  h3 = Math.imul(h1 ^ (h3 >>> 17), 951274213);
  h4 = Math.imul(h2 ^ (h4 >>> 19), 2716044179);
  h1 ^= h2 ^ h3 ^ h4;
  h2 ^= h1;
  h3 ^= h1;
  h4 ^= h1;
  return [h1 >>> 0, h2 >>> 0, h3 >>> 0, h4 >>> 0];
}
