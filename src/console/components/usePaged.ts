import { useCallback, useEffect, useRef, useState } from 'react';

export interface Paged<T> {
  rows: T[];
  loading: boolean;
  error: unknown;
  hasMore: boolean;
  loadMore(): void;
  reload(): void;
}

/**
 * Rows fetched a page at a time by the API's `nextCursor`: the first page on mount (and whenever
 * `deps` change), further ones on request. Nothing asks for more than one page at once.
 */
export function usePaged<T>(fetchPage: (cursor?: string) => Promise<{ rows: T[]; nextCursor: string | null }>, deps: unknown[] = []): Paged<T> {
  const [rows, setRows] = useState<T[]>([]);
  const [cursor, setCursor] = useState<string | null>(null);
  const [loading, setLoading] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const generation = useRef(0);

  const load = useCallback(
    (from: string | undefined, append: boolean) => {
      const mine = ++generation.current;
      setLoading(true);
      fetchPage(from)
        .then((page) => {
          if (mine !== generation.current) return;
          setRows((old) => (append ? [...old, ...page.rows] : page.rows));
          setCursor(page.nextCursor);
          setError(null);
        })
        .catch((e: unknown) => mine === generation.current && setError(e))
        .finally(() => mine === generation.current && setLoading(false));
    },
    deps,
  );

  useEffect(() => load(undefined, false), [load]);

  return {
    rows,
    loading,
    error,
    hasMore: cursor !== null,
    loadMore: () => cursor && load(cursor, true),
    reload: () => load(undefined, false),
  };
}
