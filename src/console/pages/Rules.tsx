import { useEffect, useState } from 'react';
import { App, Button, Input, Popconfirm, Space, Table, Tag } from 'antd';
import { api, may, type Rule, type Whoami } from '../api';
import { Problem } from '../components/Problem';
import { useI18n } from '../i18n';
import { openInBuilder } from './SegmentBuilder';

/** 规则库: the saved-rule library (a few hundred rules at most, so one answer), opened in the builder to reuse. */
export function Rules({ who }: { who: Whoami }) {
  const { t, date } = useI18n();
  const { message } = App.useApp();
  const [rules, setRules] = useState<Rule[] | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [filter, setFilter] = useState('');

  const load = () => api.rules().then((r) => setRules(r.rules), setError);
  useEffect(() => void load(), []);

  const remove = async (name: string) => {
    try {
      await api.deleteRule(name);
      message.success(t('deleted'));
      void load();
    } catch (e) {
      setError(e);
    }
  };

  const shown = (rules ?? []).filter((r) => !filter || r.name.includes(filter) || r.description.includes(filter));
  return (
    <>
      <Problem error={error} onClose={() => setError(null)} />
      <Input.Search aria-label={t('search')} placeholder={t('search')} allowClear onChange={(e) => setFilter(e.target.value)} style={{ width: 280, marginBottom: 12 }} />
      <Table<Rule>
        size="small"
        rowKey="name"
        loading={rules === null}
        dataSource={shown}
        pagination={{ pageSize: 20, hideOnSinglePage: true }}
        expandable={{ expandedRowRender: (r) => <pre style={{ margin: 0, fontSize: 12 }}>{JSON.stringify(r.condition, null, 2)}</pre> }}
        columns={[
          { title: t('name'), dataIndex: 'name', render: (n: string) => <code>{n}</code> },
          { title: t('description'), dataIndex: 'description' },
          { title: t('version'), dataIndex: 'version', align: 'right' },
          { title: t('source'), dataIndex: 'source', render: (s: string) => <Tag>{s}</Tag> },
          {
            title: t('uses'),
            key: 'refs',
            render: (_, r) => [...r.references.rules.map((x) => `rule:${x}`), ...r.references.lists.map((x) => `list:${x}`)].join(', ') || '—',
          },
          { title: t('updatedBy'), dataIndex: 'updatedBy' },
          { title: t('updatedAt'), dataIndex: 'updatedAt', render: date },
          {
            title: t('actions'),
            key: 'actions',
            render: (_, r) => (
              <Space size="small">
                <Button size="small" onClick={() => openInBuilder({ rule: r.name })}>
                  {t('useInBuilder')}
                </Button>
                {may(who.role, 'operator') && (
                  <Popconfirm title={t('confirmDelete')} onConfirm={() => remove(r.name)}>
                    <Button size="small" danger>
                      {t('delete')}
                    </Button>
                  </Popconfirm>
                )}
              </Space>
            ),
          },
        ]}
      />
    </>
  );
}
