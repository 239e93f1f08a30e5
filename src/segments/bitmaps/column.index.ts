import { INTEGER_NULL, type CategoricalColumn, type IntegerColumn, type NumberColumn } from './profile.columns.js';
import { bitmapBytes, RoaringBitmap32 } from './roaring.js';

/**
 * Bitmap indexes over columns held in memory, built once per profile build so that a leaf is a
 * union of a few bitmaps instead of a pass over every customer: at 10M rows a pass takes 50–100 ms
 * here (a branch per row that the data makes unpredictable), a union of bins a few milliseconds.
 */

/** Up to this many bins per numeric column: ~N/256 rows each, the most a range has to check row by row (two of them). */
const MAX_BINS = 256;
/** Values sampled to place the bin boundaries (quantiles of a stride sample). */
const BOUNDARY_SAMPLE = 65_536;

interface Bin {
  /** Smallest and largest value of the rows in the bin (not its boundaries). */
  lo: number;
  hi: number;
  bitmap: RoaringBitmap32;
}

/**
 * A numeric column (or a computed one: a window aggregate) as its values and a binned bitmap index:
 * rows are split into up to 256 bins of about equal size by value; a column with few distinct
 * values (age, vip level) gets a bin per value, so every range over it is exact unions. A range
 * unites the bins wholly inside it and checks only the rows of the (at most two) bins it cuts.
 */
export class NumericIndex {
  private constructor(
    private readonly values: Float64Array | Int32Array,
    private readonly bins: Bin[],
    readonly nulls: RoaringBitmap32,
    readonly nonNull: RoaringBitmap32,
    readonly bytes: number,
  ) {}

  static of(column: IntegerColumn | NumberColumn, rows: number): NumericIndex {
    const isNull = column.kind === 'integer' ? (v: number) => v === INTEGER_NULL : (v: number) => v !== v;
    const boundaries = binBoundaries(column.values, rows, isNull);
    const binOf = new Uint16Array(rows);
    const counts = new Uint32Array(boundaries.length + 2);
    const nullBin = boundaries.length + 1;
    const values = column.values;
    for (let i = 0; i < rows; i++) {
      const v = values[i]!;
      const b = isNull(v) ? nullBin : upperBound(boundaries, v);
      binOf[i] = b;
      counts[b]! += 1;
    }
    // Counting sort: each bin's rows, ascending, side by side in one array.
    const starts = new Uint32Array(counts.length + 1);
    for (let b = 0; b < counts.length; b++) starts[b + 1] = starts[b]! + counts[b]!;
    const cursor = starts.slice(0, counts.length);
    const sorted = new Uint32Array(rows);
    for (let i = 0; i < rows; i++) sorted[cursor[binOf[i]!]!++] = i;
    const bins: Bin[] = [];
    for (let b = 0; b < nullBin; b++) {
      const members = sorted.subarray(starts[b]!, starts[b + 1]!);
      if (members.length === 0) continue;
      let lo = Infinity;
      let hi = -Infinity;
      for (let k = 0; k < members.length; k++) {
        const v = values[members[k]!]!;
        if (v < lo) lo = v;
        if (v > hi) hi = v;
      }
      bins.push({ lo, hi, bitmap: compact(new RoaringBitmap32(members)) });
    }
    const nulls = compact(new RoaringBitmap32(sorted.subarray(starts[nullBin]!, starts[nullBin + 1]!)));
    const nonNull = compact(RoaringBitmap32.andNot(RoaringBitmap32.fromRange(0, rows), nulls));
    const bytes = values.byteLength + bins.reduce((sum, b) => sum + bitmapBytes(b.bitmap), 0) + bitmapBytes(nulls) + bitmapBytes(nonNull);
    return new NumericIndex(values, bins, nulls, nonNull, bytes);
  }

  /** Rows with `lo ≤ value ≤ hi` (NULL never). */
  range(lo: number, hi: number): RoaringBitmap32 {
    const whole: RoaringBitmap32[] = [];
    const checked: number[] = [];
    for (const bin of this.bins) {
      if (bin.hi < lo || bin.lo > hi) continue;
      if (lo <= bin.lo && bin.hi <= hi) {
        whole.push(bin.bitmap);
        continue;
      }
      const rows = bin.bitmap.toUint32Array();
      for (let k = 0; k < rows.length; k++) {
        const v = this.values[rows[k]!]!;
        if (v >= lo && v <= hi) checked.push(rows[k]!);
      }
    }
    const out = whole.length === 0 ? new RoaringBitmap32() : whole.length === 1 ? whole[0]!.clone() : RoaringBitmap32.orMany(whole);
    if (checked.length > 0) out.addMany(checked.sort((a, b) => a - b));
    return out;
  }

  /** The values of `candidates`, side by side, for a filter that then reads memory in order (`GatheredValues`). */
  gather(candidates: RoaringBitmap32): GatheredValues {
    const rows = candidates.toUint32Array();
    const values = this.values instanceof Int32Array ? new Int32Array(rows.length) : new Float64Array(rows.length);
    for (let k = 0; k < rows.length; k++) values[k] = this.values[rows[k]!]!;
    return new GatheredValues(rows, values);
  }

  /** How many rows a range can hold at most, from the bins alone (to apply the narrowest test first). */
  estimate(lo: number, hi: number): number {
    let n = 0;
    for (const bin of this.bins) if (bin.hi >= lo && bin.lo <= hi) n += bin.bitmap.size;
    return n;
  }

  /** Rows whose value is one of `values`. */
  anyOf(values: Iterable<number>): RoaringBitmap32 {
    const parts = [...values].map((v) => this.range(v, v));
    return parts.length === 0 ? new RoaringBitmap32() : RoaringBitmap32.orMany(parts);
  }
}

/** Some rows' values of a numeric column, in row order (`NumericIndex.gather`). */
export class GatheredValues {
  readonly bytes: number;

  constructor(
    private readonly rows: Uint32Array,
    private readonly values: Int32Array | Float64Array,
  ) {
    this.bytes = rows.byteLength + values.byteLength;
  }

  /** The rows `keep` accepts. */
  select(keep: (value: number, isNull: boolean) => boolean): RoaringBitmap32 {
    const out = new Uint32Array(this.rows.length);
    let n = 0;
    const integer = this.values instanceof Int32Array;
    for (let k = 0; k < this.rows.length; k++) {
      const v = this.values[k]!;
      if (keep(v, integer ? v === INTEGER_NULL : v !== v)) out[n++] = this.rows[k]!;
    }
    return new RoaringBitmap32(out.subarray(0, n));
  }

  selectRange(lo: number, hi: number): RoaringBitmap32 {
    const out = new Uint32Array(this.rows.length);
    let n = 0;
    const values = this.values;
    // NULL never passes: NaN fails both comparisons and the INTEGER sentinel is below any lo.
    const low = values instanceof Int32Array ? Math.max(lo, INTEGER_NULL + 1) : lo;
    for (let k = 0; k < this.rows.length; k++) {
      const v = values[k]!;
      if (v >= low && v <= hi) out[n++] = this.rows[k]!;
    }
    return new RoaringBitmap32(out.subarray(0, n));
  }
}

/**
 * A VARCHAR or BOOLEAN column as a bitmap per distinct value (and one of NULLs): `in` is a union,
 * `ne` the union of the others. The sum of all is one entry per row, ~2 bytes a customer.
 */
export class CategoryIndex {
  private constructor(
    readonly dictionary: readonly string[],
    readonly bitmaps: readonly RoaringBitmap32[],
    readonly nulls: RoaringBitmap32,
    readonly bytes: number,
  ) {}

  static of(column: CategoricalColumn, rows: number): CategoryIndex {
    const { codes, dictionary } = column;
    const counts = new Uint32Array(dictionary.length + 1);
    const nullSlot = dictionary.length;
    const slot = (code: number) => (code >= dictionary.length ? nullSlot : code);
    for (let i = 0; i < rows; i++) counts[slot(codes[i]!)]! += 1;
    const starts = new Uint32Array(counts.length + 1);
    for (let s = 0; s < counts.length; s++) starts[s + 1] = starts[s]! + counts[s]!;
    const cursor = starts.slice(0, counts.length);
    const sorted = new Uint32Array(rows);
    for (let i = 0; i < rows; i++) sorted[cursor[slot(codes[i]!)]!++] = i;
    const bitmaps = dictionary.map((_, s) => compact(new RoaringBitmap32(sorted.subarray(starts[s]!, starts[s + 1]!))));
    const nulls = compact(new RoaringBitmap32(sorted.subarray(starts[nullSlot]!, starts[nullSlot + 1]!)));
    const bytes = bitmaps.reduce((sum, b) => sum + bitmapBytes(b), 0) + bitmapBytes(nulls);
    return new CategoryIndex(dictionary, bitmaps, nulls, bytes);
  }

  /** Rows whose value matches (NULL rows never: `is_null` asks `nulls`). */
  where(matches: (value: string) => boolean): RoaringBitmap32 {
    const parts = this.bitmaps.filter((_, i) => matches(this.dictionary[i]!));
    return parts.length === 0 ? new RoaringBitmap32() : parts.length === 1 ? parts[0]!.clone() : RoaringBitmap32.orMany(parts);
  }
}

function compact(bitmap: RoaringBitmap32): RoaringBitmap32 {
  bitmap.runOptimize();
  bitmap.shrinkToFit();
  return bitmap;
}

/**
 * Boundaries between bins, ascending: the distinct values when a stride sample holds at most
 * MAX_BINS of them (a bin per value), else quantiles of the sample. Bin k holds values in
 * [boundaries[k−1], boundaries[k]); bins only need to be roughly even, never exact.
 */
function binBoundaries(values: Float64Array | Int32Array, rows: number, isNull: (v: number) => boolean): Float64Array {
  const stride = Math.max(1, Math.floor(rows / BOUNDARY_SAMPLE));
  const sample: number[] = [];
  for (let i = 0; i < rows; i += stride) if (!isNull(values[i]!)) sample.push(values[i]!);
  sample.sort((a, b) => a - b);
  const distinct: number[] = [];
  for (const v of sample) if (distinct.length === 0 || distinct[distinct.length - 1] !== v) distinct.push(v);
  if (distinct.length <= MAX_BINS) return Float64Array.from(distinct.slice(1));
  const out: number[] = [];
  for (let k = 1; k < MAX_BINS; k++) {
    const v = sample[Math.floor((k * sample.length) / MAX_BINS)]!;
    if (out.length === 0 || out[out.length - 1]! < v) out.push(v);
  }
  return Float64Array.from(out);
}

/** The number of boundaries ≤ v: the bin of v. */
function upperBound(boundaries: Float64Array, v: number): number {
  let lo = 0;
  let hi = boundaries.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (boundaries[mid]! <= v) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
