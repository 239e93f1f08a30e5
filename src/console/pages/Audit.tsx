import { useState } from 'react';
import { Input, Space, Table } from 'antd';
import { api, type AuditEntry } from '../api';
import { LoadMore } from '../components/LoadMore';
import { Problem } from '../components/Problem';
import { usePaged } from '../components/usePaged';
import { useI18n } from '../i18n';

/** 审计日志: newest first, filtered by actor or action, a page at a time. */
export function Audit() {
  const { t, date } = useI18n();
  const [actor, setActor] = useState('');
  const [action, setAction] = useState('');
  const paged = usePaged<AuditEntry>(
    async (cursor) => {
      const page = await api.audit({ actor: actor || undefined, action: action || undefined, cursor, limit: 50 });
      return { rows: page.entries, nextCursor: page.nextCursor };
    },
    [actor, action],
  );
  return (
    <>
      <Problem error={paged.error} />
      <Space wrap style={{ marginBottom: 12 }}>
        <Input.Search aria-label={t('actor')} placeholder={t('actor')} allowClear onSearch={(v) => setActor(v.trim())} style={{ width: 220 }} />
        <Input.Search aria-label={t('action')} placeholder={`${t('action')} (list.entries.add)`} allowClear onSearch={(v) => setAction(v.trim())} style={{ width: 260 }} />
      </Space>
      <Table<AuditEntry>
        size="small"
        rowKey="id"
        loading={paged.loading}
        pagination={false}
        dataSource={paged.rows}
        scroll={{ x: true }}
        expandable={{ expandedRowRender: (e) => <pre style={{ margin: 0, fontSize: 12 }}>{JSON.stringify(e.details, null, 2)}</pre> }}
        columns={[
          { title: t('at'), dataIndex: 'at', render: date },
          { title: t('actor'), dataIndex: 'actor' },
          { title: t('role'), dataIndex: 'actorRole' },
          { title: t('action'), dataIndex: 'action', render: (a: string) => <code>{a}</code> },
          { title: t('target'), key: 'target', render: (_, e) => `${e.targetType}${e.targetId ? `/${e.targetId}` : ''}` },
          { title: 'IP', dataIndex: 'ip' },
        ]}
      />
      <LoadMore paged={paged} />
    </>
  );
}
