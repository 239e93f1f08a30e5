import { useState } from 'react';
import { Button, Progress, Select, Space, Table } from 'antd';
import { api, may, type Campaign, type Whoami } from '../api';
import { LoadMore } from '../components/LoadMore';
import { Problem } from '../components/Problem';
import { navigate } from '../components/router';
import { usePaged } from '../components/usePaged';
import { StatusTag, CAMPAIGN_STATUSES, doneOf } from './CampaignPage';
import { useI18n } from '../i18n';

/** 营销案: campaigns newest first, a page at a time, filtered by status. */
export function Campaigns({ who }: { who: Whoami }) {
  const { t, date } = useI18n();
  const [status, setStatus] = useState<string | undefined>(undefined);
  const paged = usePaged<Campaign>(
    async (cursor) => {
      const page = await api.campaigns({ status, cursor, limit: 20 });
      return { rows: page.campaigns, nextCursor: page.nextCursor };
    },
    [status],
  );
  return (
    <>
      <Problem error={paged.error} />
      <Space style={{ marginBottom: 12 }}>
        <Select
          aria-label={t('status')}
          allowClear
          placeholder={t('allStatuses')}
          style={{ width: 180 }}
          value={status}
          onChange={setStatus}
          options={CAMPAIGN_STATUSES.map((s) => ({ value: s, label: t(`campaignStatus_${s}`) }))}
        />
        {may(who.role, 'operator') && (
          <Button type="primary" onClick={() => navigate('/campaigns/new')} data-testid="new-campaign">
            {t('newCampaign')}
          </Button>
        )}
      </Space>
      <Table<Campaign>
        size="small"
        rowKey="id"
        loading={paged.loading}
        pagination={false}
        dataSource={paged.rows}
        scroll={{ x: true }}
        columns={[
          { title: t('name'), dataIndex: 'name', render: (n: string, c) => <a href={`/campaigns/${c.id}`} onClick={(e) => (e.preventDefault(), navigate(`/campaigns/${c.id}`))}>{n}</a> },
          { title: t('status'), dataIndex: 'status', render: (s: Campaign['status']) => <StatusTag status={s} /> },
          { title: t('channel'), dataIndex: 'channel' },
          { title: t('gateway'), dataIndex: 'gateway' },
          {
            title: t('progress'),
            key: 'progress',
            render: (_, c) => (c.progress && c.progress.total > 0 ? <Progress aria-label={t('progress')} percent={Math.floor((doneOf(c.progress) / c.progress.total) * 100)} size="small" style={{ width: 140 }} /> : '—'),
          },
          { title: t('createdBy'), dataIndex: 'createdBy' },
          { title: t('createdAt'), dataIndex: 'createdAt', render: date },
        ]}
      />
      <LoadMore paged={paged} />
    </>
  );
}
