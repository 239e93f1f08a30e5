import { useEffect, useState } from 'react';
import { Badge, Table } from 'antd';
import { api, type Gateway } from '../api';
import { Problem } from '../components/Problem';
import { useI18n } from '../i18n';

const BADGE = { connected: 'success', connecting: 'processing', down: 'error' } as const;

/** 网关状态: every gateway with this process's connection to it, refreshed every 5 s. */
export function Gateways() {
  const { t, date } = useI18n();
  const [gateways, setGateways] = useState<Gateway[] | null>(null);
  const [error, setError] = useState<unknown>(null);
  useEffect(() => {
    const load = () => api.gateways().then((g) => (setGateways(g.gateways), setError(null)), setError);
    void load();
    const timer = setInterval(load, 5000);
    return () => clearInterval(timer);
  }, []);
  return (
    <>
      <Problem error={error} />
      <Table<Gateway>
        size="small"
        rowKey="name"
        loading={gateways === null}
        pagination={false}
        dataSource={gateways ?? []}
        columns={[
          { title: t('name'), dataIndex: 'name', render: (n: string, g) => (g.simulator ? `${n} (${t('simulator')})` : n) },
          { title: t('protocol'), dataIndex: 'protocol' },
          { title: t('status'), dataIndex: 'status', render: (s: Gateway['status']) => <Badge status={BADGE[s]} text={t(`gw_${s}`)} /> },
          { title: t('lastError'), dataIndex: 'lastError', render: (e?: string) => e ?? '—' },
          { title: t('ratePerSecond'), dataIndex: 'ratePerSecond', align: 'right' },
          { title: t('updatedAt'), dataIndex: 'updatedAt', render: date },
        ]}
      />
    </>
  );
}
