import { Button } from 'antd';
import { useI18n } from '../i18n';
import type { Paged } from './usePaged';

/** The foot of a cursor-paged table: one more page on each click, never the whole list. */
export function LoadMore({ paged }: { paged: Paged<unknown> }) {
  const { t } = useI18n();
  if (!paged.hasMore) return null;
  return (
    <div style={{ textAlign: 'center', marginTop: 12 }}>
      <Button onClick={paged.loadMore} loading={paged.loading}>
        {t('loadMore')}
      </Button>
    </div>
  );
}
