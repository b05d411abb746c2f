// The dashboard's figures (SPEC §12): the last 24 hours in 5-minute buckets, a ring of 288
// advanced by an injected clock, tokens and cost per bucket split by model, key, user and one
// chosen tag (SPEC §10), and request outcomes for the error rate. Pure: no I/O, no timers.
// Bounded whatever the traffic: each split admits at most `caps[split]` distinct names alive in
// the window; past that a name counts as "other" (as the metrics do for models). A name frees
// its slot when the last bucket holding it expires.

export const BUCKET_MS = 300_000; // 5 minutes
export const BUCKET_COUNT = 288; // 24 hours of 5-minute buckets
export const WINDOW_MS = BUCKET_MS * BUCKET_COUNT;

/** The fields of a usage record (the ledger's, SPEC §4, §9, §10) that the dashboard reads. */
export interface DashboardUsage {
  /** ISO 8601, when the response ended: decides the bucket. */
  readonly time: string;
  readonly model: string | null;
  readonly prompt_tokens: number;
  readonly completion_tokens: number;
  readonly total_tokens: number;
  readonly key_id: string | null;
  readonly cost: number | null;
  readonly tags: Readonly<Record<string, string>>;
  readonly user: string | null;
}

export type Split = 'model' | 'key' | 'user' | 'tag';
export const SPLITS: readonly Split[] = ['model', 'key', 'user', 'tag'];
export type SeriesCaps = Readonly<Record<Split, number>>;
export const DEFAULT_CAPS: SeriesCaps = { model: 50, key: 200, user: 200, tag: 200 };

// A model name this long is not one a person chose (users are ≤ 256 by SPEC §10, tag values ≤ 128):
// it folds into "other", so no single name can make the memory grow.
const MAX_NAME_LENGTH = 256;

// One row of figures; a bucket's total, each series' cell and each window total have this layout.
export const F_RESPONSES = 0;
export const F_PROMPT = 1;
export const F_COMPLETION = 2;
export const F_TOTAL = 3;
export const F_COST = 4; // USD, the sum of known costs
export const F_UNPRICED = 5; // responses without a cost
const FIELDS = 6;

// Series names are stored with a one-character prefix so that no real name (even "other" or
// the empty string) can collide with the null series or the fold.
const NULL_KEY = '-';
export const OTHER_KEY = '*';
function encodeName(name: string | null): string {
  return name === null ? NULL_KEY : '=' + name;
}
/** The name a stored series key stands for: a string, null (none given) or the "other" fold. */
export function decodeName(key: string): { readonly name: string | null; readonly other: boolean } {
  if (key === OTHER_KEY) return { name: null, other: true };
  return { name: key === NULL_KEY ? null : key.slice(1), other: false };
}

/** One bucket's cells of one split: rows of FIELDS numbers in one growing array (compact). */
class CellTable {
  readonly rows = new Map<string, number>(); // series key → offset into data
  data = new Float64Array(FIELDS * 2);

  /** The offset of key's row, or -1 - offset when the row was just created. */
  row(key: string): number {
    const found = this.rows.get(key);
    if (found !== undefined) return found;
    const offset = this.rows.size * FIELDS;
    if (offset + FIELDS > this.data.length) {
      const grown = new Float64Array(this.data.length * 2);
      grown.set(this.data);
      this.data = grown;
    }
    this.rows.set(key, offset);
    return -1 - offset;
  }
}

/** What a bucket shows outside this module: its counts and its total row (FIELDS numbers). */
export interface BucketView {
  readonly epoch: number; // floor(start / BUCKET_MS)
  readonly requests: number;
  readonly errors: number;
  readonly clientErrors: number;
  readonly total: Readonly<Float64Array>;
}

interface Bucket extends BucketView {
  requests: number;
  errors: number;
  clientErrors: number;
  readonly total: Float64Array;
  readonly cells: (CellTable | undefined)[]; // by split index
}

/** A series' running total over the window, and how many buckets hold a cell of it. */
interface WindowSeries {
  buckets: number;
  readonly values: Float64Array;
}

export interface UsageWindowOptions {
  /** Milliseconds since the epoch; Date.now by default. Injected by tests. */
  readonly now?: () => number;
  /** The tag name (SPEC §10) whose values form the `tag` split; null: no tag split. */
  readonly tagName?: string | null;
  readonly caps?: Partial<SeriesCaps>;
}

/**
 * Error rate (decided here, SPEC §12 leaves it open): a request whose status is 500 or more —
 * which includes the proxy's own 502/504 answers (`upstream_error`, `upstream_timeout`) — or that
 * ended without a valid status. 4xx answers are the client's doing and are counted apart.
 */
export function isError(status: number): boolean {
  return !(status >= 100 && status < 500);
}

export class UsageWindow {
  readonly tagName: string | null;
  readonly caps: SeriesCaps;
  /** When counting began (ms): request counts and the error rate cover only the time since. */
  readonly startedAt: number;
  readonly now: () => number;
  private readonly ring: (Bucket | undefined)[] = new Array<Bucket | undefined>(BUCKET_COUNT);
  private readonly series: Map<string, WindowSeries>[] = SPLITS.map(() => new Map());
  private readonly named: number[] = SPLITS.map(() => 0); // admitted names per split, "other" aside
  private latest = -Infinity; // the newest bucket epoch the window has reached
  private inFlightCount = 0;
  /** Changes whenever a token or cost figure changes, or the window moves: what the charts draw.
   *  Request outcomes leave it alone (no chart shows them), so charts are drawn again only then. */
  version = 0;

  constructor(options: UsageWindowOptions = {}) {
    this.now = options.now ?? Date.now;
    this.tagName = options.tagName ?? null;
    this.caps = { ...DEFAULT_CAPS, ...options.caps };
    this.startedAt = this.now();
  }

  /** Moves the window to the clock, expiring buckets older than 24 h; returns the current epoch. */
  advance(): number {
    const current = Math.max(Math.floor(this.now() / BUCKET_MS), this.latest);
    if (current === this.latest) return current;
    if (current - this.latest >= BUCKET_COUNT) {
      // A day or more has passed (or this is the first call): every bucket held is stale.
      this.ring.forEach((bucket, slot) => {
        if (bucket !== undefined) this.expire(slot, bucket);
      });
    } else {
      // Expire the buckets that the window's start moved past: fewer than a ring's worth.
      for (let epoch = this.latest - BUCKET_COUNT + 1; epoch <= current - BUCKET_COUNT; epoch++) {
        const slot = slotOf(epoch);
        const bucket = this.ring[slot];
        if (bucket !== undefined && bucket.epoch === epoch) this.expire(slot, bucket);
      }
    }
    this.latest = current;
    this.version++; // the window moved: every bar shifts left, even with no bucket expired
    return current;
  }

  private expire(slot: number, bucket: Bucket): void {
    this.ring[slot] = undefined;
    this.version++;
    bucket.cells.forEach((table, split) => {
      if (table === undefined) return;
      const map = this.series[split]!;
      for (const [key, offset] of table.rows) {
        const entry = map.get(key)!;
        for (let f = 0; f < FIELDS; f++) entry.values[f]! -= table.data[offset + f]!;
        if (--entry.buckets === 0) {
          map.delete(key);
          if (key !== OTHER_KEY) this.named[split]!--;
        }
      }
    });
  }

  private bucketAt(time: number): Bucket | undefined {
    const current = this.advance();
    // A time in the future (clock skew, a replica's ledger) counts now; an unreadable one too.
    const epoch = Number.isFinite(time) ? Math.min(Math.floor(time / BUCKET_MS), current) : current;
    if (epoch <= current - BUCKET_COUNT) return undefined;
    const slot = slotOf(epoch);
    let bucket = this.ring[slot];
    if (bucket === undefined || bucket.epoch !== epoch) {
      // advance() has expired every older epoch; expiring here too keeps the counts right if not.
      if (bucket !== undefined) this.expire(slot, bucket);
      bucket = { epoch, requests: 0, errors: 0, clientErrors: 0, total: new Float64Array(FIELDS), cells: [] };
      this.ring[slot] = bucket;
    }
    return bucket;
  }

  /** The key a name is counted under: its own while the split has room or already holds it. */
  private admit(split: number, name: string | null): string {
    if (name !== null && name.length > MAX_NAME_LENGTH) return OTHER_KEY;
    const key = encodeName(name);
    if (this.series[split]!.has(key) || this.named[split]! < this.caps[SPLITS[split]!]) return key;
    return OTHER_KEY;
  }

  /** Counts one response's usage in the bucket of its `time`; false when older than the window. */
  recordUsage(record: DashboardUsage): boolean {
    const bucket = this.bucketAt(Date.parse(record.time));
    if (bucket === undefined) return false;
    this.version++;
    // A cost that is not a finite amount of dollars (negative, NaN) is no price: unpriced.
    const priced = typeof record.cost === 'number' && Number.isFinite(record.cost) && record.cost >= 0;
    const delta = [
      1,
      count(record.prompt_tokens),
      count(record.completion_tokens),
      count(record.total_tokens),
      priced ? record.cost! : 0,
      priced ? 0 : 1,
    ];
    for (let f = 0; f < FIELDS; f++) bucket.total[f]! += delta[f]!;
    const tag = this.tagName === null ? undefined : tagValue(record.tags, this.tagName);
    const names = [record.model, record.key_id, record.user, tag];
    for (let split = 0; split < SPLITS.length; split++) {
      const name = names[split];
      if (name === undefined) continue; // no tag split configured
      const key = this.admit(split, name);
      const table = (bucket.cells[split] ??= new CellTable());
      let offset = table.row(key);
      const map = this.series[split]!;
      let entry = map.get(key);
      if (entry === undefined) {
        entry = { buckets: 0, values: new Float64Array(FIELDS) };
        map.set(key, entry);
        if (key !== OTHER_KEY) this.named[split]!++;
      }
      if (offset < 0) {
        offset = -1 - offset;
        entry.buckets++;
      }
      for (let f = 0; f < FIELDS; f++) {
        table.data[offset + f]! += delta[f]!;
        entry.values[f]! += delta[f]!;
      }
    }
    return true;
  }

  requestStarted(): void {
    this.inFlightCount++;
  }

  /** One request finished with this status (see isError); counted in the current bucket. */
  requestEnded(status: number): void {
    if (this.inFlightCount > 0) this.inFlightCount--;
    const bucket = this.bucketAt(this.now())!;
    bucket.requests++;
    if (isError(status)) bucket.errors++;
    else if (status >= 400) bucket.clientErrors++;
  }

  get inFlight(): number {
    return this.inFlightCount;
  }

  /** The current epoch: the window's buckets are epochs current-287 … current. */
  currentEpoch(): number {
    return this.advance();
  }

  /** The buckets of the window, oldest first (undefined where nothing happened). */
  buckets(): readonly (BucketView | undefined)[] {
    return this.windowBuckets();
  }

  private windowBuckets(): (Bucket | undefined)[] {
    const current = this.advance();
    const out: (Bucket | undefined)[] = [];
    for (let epoch = current - BUCKET_COUNT + 1; epoch <= current; epoch++) {
      const bucket = this.ring[slotOf(epoch)];
      out.push(bucket !== undefined && bucket.epoch === epoch ? bucket : undefined);
    }
    return out;
  }

  /** Each series of a split with its running total over the window (the fast path for tops). */
  seriesTotals(split: Split): ReadonlyMap<string, Readonly<Float64Array>> {
    this.advance();
    const out = new Map<string, Float64Array>();
    for (const [key, entry] of this.series[SPLITS.indexOf(split)]!) out.set(key, entry.values);
    return out;
  }

  /** The same totals summed from the buckets' cells: the slow path, kept to check the running
   *  totals (tests) and to measure what they save (scripts/bench/dashboard-heap.ts). */
  seriesFromBuckets(split: Split): ReadonlyMap<string, Readonly<Float64Array>> {
    const index = SPLITS.indexOf(split);
    const out = new Map<string, Float64Array>();
    for (const bucket of this.windowBuckets()) {
      const table = bucket?.cells[index];
      if (table === undefined) continue;
      for (const [key, offset] of table.rows) {
        let values = out.get(key);
        if (values === undefined) out.set(key, (values = new Float64Array(FIELDS)));
        for (let f = 0; f < FIELDS; f++) values[f]! += table.data[offset + f]!;
      }
    }
    return out;
  }

  /** Calls fn with each series cell of one split in one bucket: its key and its row, the
   *  FIELDS numbers at data[offset …] (a callback, so a chart of 288 buckets allocates nothing). */
  forEachCell(bucket: BucketView, split: Split, fn: (key: string, data: Float64Array, offset: number) => void): void {
    const table = (bucket as Bucket).cells[SPLITS.indexOf(split)];
    if (table === undefined) return;
    for (const [key, offset] of table.rows) fn(key, table.data, offset);
  }

  /** Whether this split is counted (the tag split only with a tag name). */
  hasSplit(split: Split): boolean {
    return split !== 'tag' || this.tagName !== null;
  }
}

/** The record's value of the tag, own properties only: a tag named `constructor` is a valid
 *  SPEC §10 name, and `{}.constructor` is not its value. */
function tagValue(tags: Readonly<Record<string, string>>, name: string): string | null {
  const value = Object.hasOwn(tags, name) ? tags[name] : undefined;
  return typeof value === 'string' ? value : null;
}

function slotOf(epoch: number): number {
  return ((epoch % BUCKET_COUNT) + BUCKET_COUNT) % BUCKET_COUNT;
}

/** A token count as the ledger gives it; anything else (negative, NaN, a string) counts 0. */
function count(value: number): number {
  return typeof value === 'number' && Number.isFinite(value) && value > 0 ? value : 0;
}
