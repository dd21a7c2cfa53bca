/**
 * The injectable fetch side of collateral (TCB info, QE identity, CRLs,
 * vendor certificates): verifiers never fetch, they take bytes; whoever
 * calls them gets the bytes from a `CollateralSource`. Here: a memoizing
 * cache around any source; a directory-backed source is in
 * `@veritee/evidence/node` (file I/O keeps it out of the browser build).
 * A network source (Intel PCS, AMD KDS) would implement the same interface
 * elsewhere; nothing in this package touches the network.
 */

/**
 * Kinds of collateral. Intel: `tdx-tcb-info` and `tdx-qe-identity` (keyed
 * by FMSPC, resp. "td"), `tcb-signing-chain`, `pck-crl` (keyed by CA:
 * "platform" or "processor"), `root-crl`. AMD: `vcek` (keyed by product
 * and TCB), `cert-chain` (keyed by product), `crl` (keyed by product).
 */
export type CollateralKind = string;

/** Where collateral comes from: a key in, bytes (or undefined when there are none) out. */
export interface CollateralSource {
  /** Fetch one item; `undefined` when the source has no such item. */
  get(kind: CollateralKind, key: string): Promise<Uint8Array | undefined>;
}

const KIND = /^[a-z][a-z0-9-]{0,31}$/;
// 200: an AMD VCEK key (product, 128 hex digits of hwID, 16 of TCB) is 151 characters; file names allow 255.
const KEY = /^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$/;

/** Throw a TypeError for a kind or key that is not a safe single path component. */
export function checkCollateralName(kind: string, key: string): void {
  if (!KIND.test(kind)) throw new TypeError("collateral kind must match [a-z][a-z0-9-]{0,31}");
  // No separators, no leading dot: a key can never name a file outside its kind's folder.
  if (!KEY.test(key) || key.includes("..")) throw new TypeError("collateral key must be a plain file name");
}

/** Options of {@link cachedCollateral}. */
export interface CachedCollateralOptions {
  /** The most items kept; the least recently used goes first. */
  readonly maxEntries: number;
}

/**
 * Memoize a source: each (kind, key) is fetched once while cached, and
 * concurrent requests share one fetch. Misses and failures are not cached
 * (the next call asks again). Callers get a copy, so none can alter
 * another's bytes. Expiry is the verifier's business: collateral carries
 * its own nextUpdate and verification at a given time rejects stale items.
 *
 * @example
 * const source = cachedCollateral(directoryCollateral(dir), { maxEntries: 32 });
 */
export function cachedCollateral(
  source: CollateralSource,
  options: CachedCollateralOptions,
): CollateralSource & { readonly size: number } {
  const { maxEntries } = options;
  if (!Number.isInteger(maxEntries) || maxEntries < 1) throw new RangeError("maxEntries must be a positive integer");
  const entries = new Map<string, Promise<Uint8Array | undefined>>();
  return {
    get size() {
      return entries.size;
    },
    async get(kind: string, key: string): Promise<Uint8Array | undefined> {
      checkCollateralName(kind, key);
      const id = `${kind}/${key}`;
      let pending = entries.get(id);
      if (pending === undefined) {
        pending = source.get(kind, key);
        entries.set(id, pending);
        while (entries.size > maxEntries) entries.delete(entries.keys().next().value!);
        pending.then(
          (value) => {
            if (value === undefined && entries.get(id) === pending) entries.delete(id);
          },
          () => {
            if (entries.get(id) === pending) entries.delete(id);
          },
        );
      } else {
        // Refresh its place: a Map iterates in insertion order, so this is LRU.
        entries.delete(id);
        entries.set(id, pending);
      }
      const value = await pending;
      return value === undefined ? undefined : Uint8Array.from(value);
    },
  };
}
