/**
 * java.util.Random, bit for bit: Beam's Nexmark generator seeds one per event with the event id and
 * draws everything from it, so reproducing Beam's events means reproducing Java's generator.
 *
 * The 48-bit linear congruential state is kept as two 24-bit halves in plain numbers: every
 * intermediate product stays below 2^53, so the arithmetic is exact without BigInt (which would
 * make generation several times slower).
 */
const TWO_24 = 0x1000000;
const MULT_HI = 0x5de; // 0x5DEECE66D >>> 24
const MULT_LO = 0xece66d; // 0x5DEECE66D & 0xFFFFFF
const ADDEND = 0xb;

export class JavaRandom {
  private hi = 0;
  private lo = 0;

  /** `new Random(seed)` for a non-negative safe-integer seed (Nexmark's event ids). */
  constructor(seed: number) {
    this.setSeed(seed);
  }

  setSeed(seed: number): void {
    if (!Number.isSafeInteger(seed) || seed < 0) throw new RangeError(`JavaRandom seed must be a non-negative safe integer, got ${seed}`);
    // Java scrambles the seed with the multiplier and keeps its low 48 bits.
    this.lo = (seed % TWO_24) ^ MULT_LO;
    this.hi = (Math.floor(seed / TWO_24) % TWO_24) ^ MULT_HI;
  }

  /** Advances the state and returns its top `bits` bits (24 <= bits <= 32, unsigned), as Java's `next(bits)`. */
  private next(bits: number): number {
    const { hi, lo } = this;
    const low = lo * MULT_LO + ADDEND; // < 2^48 + 11: exact
    // (hi * 2^24 + lo) * (MULT_HI * 2^24 + MULT_LO) mod 2^48: hi * MULT_HI * 2^48 drops out,
    // the cross terms land in the high half; every sum stays below 2^50.
    this.hi = (Math.floor(low / TWO_24) + lo * MULT_HI + hi * MULT_LO) % TWO_24;
    this.lo = low % TWO_24;
    return this.hi * 2 ** (bits - 24) + Math.floor(this.lo / 2 ** (48 - bits));
  }

  /** `nextInt()`: 32 random bits as a signed int. */
  nextInt(): number;
  /** `nextInt(bound)`: uniform in [0, bound), Java's rejection loop included. */
  nextInt(bound: number): number;
  nextInt(bound?: number): number {
    if (bound === undefined) return this.next(32) | 0;
    if (!Number.isInteger(bound) || bound <= 0 || bound > 0x7fffffff) throw new RangeError(`bound must be a positive int, got ${bound}`);
    if ((bound & -bound) === bound) {
      // A power of two: the top bits, as Java's (bound * next(31)) >> 31.
      return Math.floor(this.next(31) / (0x80000000 / bound));
    }
    for (;;) {
      const bits = this.next(31);
      const val = bits % bound;
      // Java rejects a draw when bits - val + (bound - 1) overflows an int.
      if (bits - val + (bound - 1) <= 0x7fffffff) return val;
    }
  }

  /** `nextLong()`, as a bigint (Nexmark needs it only for ranges beyond an int, never reached by default). */
  nextLong(): bigint {
    const high = BigInt(this.next(32) | 0);
    const low = BigInt(this.next(32) | 0);
    return BigInt.asIntN(64, (high << 32n) + low);
  }

  /** `nextDouble()`: 53 random bits in [0, 1). */
  nextDouble(): number {
    return (this.next(26) * 0x8000000 + this.next(27)) / 0x20000000000000;
  }
}
