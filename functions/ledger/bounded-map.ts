/** A Map that forgets its oldest entry beyond `capacity`, so a process's memory stays bounded. */
export class BoundedMap<V> extends Map<string, V> {
  readonly #capacity: number;

  constructor(capacity = 1000) {
    super();
    this.#capacity = capacity;
  }

  override set(key: string, value: V): this {
    this.delete(key);
    if (this.size >= this.#capacity) this.delete(this.keys().next().value ?? '');
    return super.set(key, value);
  }
}
