/**
 * A value made on first use, shared by every caller, and made again on the next use when
 * making it failed: a failed import or connection must not be cached for the life of the pod.
 * The API client and the Thoth client are made this way, so neither costs the cold start.
 */
export function onFirstUse<T>(make: () => Promise<T>): () => Promise<T> {
  let pending: Promise<T> | undefined;
  return () => {
    pending ??= make().catch((error: unknown) => {
      pending = undefined;
      throw error;
    });
    return pending;
  };
}
