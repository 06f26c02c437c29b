/**
 * How a cached value becomes bytes. The cache stores bytes in both layers so that its byte bounds are
 * exact and a caller mutating a returned value can never change what the cache holds.
 */
export interface ValueCodec<V> {
  encode(value: V): Buffer;
  decode(bytes: Buffer): V;
}

/** Any JSON-serialisable value (tool results). */
export function jsonCodec<V = unknown>(): ValueCodec<V> {
  return {
    encode: (value) => Buffer.from(JSON.stringify(value), 'utf8'),
    decode: (bytes) => JSON.parse(bytes.toString('utf8')) as V,
  };
}

/** Raw bytes; decode hands out a copy so the cached bytes stay immutable. */
export const bufferCodec: ValueCodec<Buffer> = {
  encode: (value) => value,
  decode: (bytes) => Buffer.from(bytes),
};

/**
 * Embedding vectors as little-endian float32: 4 bytes a dimension instead of ~20 as JSON text.
 * Embedding models compute in float32, so nothing real is lost; values come back float32-rounded.
 */
export const float32VectorCodec: ValueCodec<number[]> = {
  encode(value) {
    const bytes = Buffer.allocUnsafe(value.length * 4);
    for (let i = 0; i < value.length; i++) bytes.writeFloatLE(value[i]!, i * 4);
    return bytes;
  },
  decode(bytes) {
    const out = new Array<number>(bytes.length >>> 2);
    for (let i = 0; i < out.length; i++) out[i] = bytes.readFloatLE(i * 4);
    return out;
  },
};
