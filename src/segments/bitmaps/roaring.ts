import roaring from 'roaring';

export const { RoaringBitmap32 } = roaring;
export type RoaringBitmap32 = InstanceType<typeof roaring.RoaringBitmap32>;

/** Words of 32 row numbers each; a container of the roaring format holds 2^16 rows, 2048 words. */
const WORDS_PER_CONTAINER = 2048;
/** Beyond this many members a roaring container is a bitset (8 KiB), below it a sorted array. */
const ARRAY_CONTAINER_MAX = 4096;
/** The portable format's cookie for a bitmap without run containers. */
const NO_RUN_COOKIE = 12346;

function popcount32(v: number): number {
  v = v - ((v >>> 1) & 0x55555555);
  v = (v & 0x33333333) + ((v >>> 2) & 0x33333333);
  return (((v + (v >>> 4)) & 0x0f0f0f0f) * 0x01010101) >>> 24;
}

/**
 * A bitmap from a dense bitset (bit `i & 31` of word `i >> 5` set for member `i`), written in
 * roaring's portable serialisation and deserialised natively: DuckDB hands the leaves over as
 * such words (one `bit_or` per 32 rows), and adding millions of row numbers one by one from JS
 * costs more than the scan. The layout is the RoaringFormatSpec's: cookie, container count, a
 * (key, cardinality − 1) pair per container, an offset per container, then the containers.
 */
export function bitmapFromWords(words: Uint32Array): RoaringBitmap32 {
  const keys: number[] = [];
  const cards: number[] = [];
  const bodies: Uint8Array[] = [];
  for (let start = 0; start < words.length; start += WORDS_PER_CONTAINER) {
    const slice = words.subarray(start, Math.min(start + WORDS_PER_CONTAINER, words.length));
    let card = 0;
    for (let i = 0; i < slice.length; i++) card += popcount32(slice[i]!);
    if (card === 0) continue;
    let body: Uint8Array;
    if (card > ARRAY_CONTAINER_MAX) {
      const full = new Uint32Array(WORDS_PER_CONTAINER);
      full.set(slice);
      body = new Uint8Array(full.buffer);
    } else {
      const values = new Uint16Array(card);
      let k = 0;
      for (let i = 0; i < slice.length; i++) {
        let v = slice[i]!;
        while (v !== 0) {
          const low = v & -v;
          values[k++] = i * 32 + 31 - Math.clz32(low);
          v ^= low;
        }
      }
      body = new Uint8Array(values.buffer);
    }
    keys.push(start / WORDS_PER_CONTAINER);
    cards.push(card);
    bodies.push(body);
  }
  const n = keys.length;
  const header = 8 + n * 8;
  const out = Buffer.alloc(header + bodies.reduce((sum, b) => sum + b.length, 0));
  out.writeUInt32LE(NO_RUN_COOKIE, 0);
  out.writeUInt32LE(n, 4);
  let offset = header;
  for (let i = 0; i < n; i++) {
    out.writeUInt16LE(keys[i]!, 8 + i * 4);
    out.writeUInt16LE(cards[i]! - 1, 10 + i * 4);
    out.writeUInt32LE(offset, 8 + n * 4 + i * 4);
    out.set(bodies[i]!, offset);
    offset += bodies[i]!.length;
  }
  const bitmap = RoaringBitmap32.deserialize(out, 'portable');
  bitmap.runOptimize();
  bitmap.shrinkToFit();
  return bitmap;
}

/** Bytes a bitmap holds (its serialised size: close to its in-memory size, and cheap to ask). */
export function bitmapBytes(bitmap: RoaringBitmap32): number {
  return bitmap.getSerializationSizeInBytes('croaring');
}
