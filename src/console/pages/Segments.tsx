import { useState } from 'react';
import { App, Button, Card, Col, Descriptions, Drawer, Input, Popconfirm, Row, Select, Space, Table, Tag, Upload } from 'antd';
import { api, type Members, type Segment } from '../api';
import { LoadMore } from '../components/LoadMore';
import { Problem } from '../components/Problem';
import { useLocation } from '../components/router';
import { usePaged } from '../components/usePaged';
import { useI18n } from '../i18n';
import { openInBuilder } from './SegmentBuilder';

type SetOp = 'union' | 'intersect' | 'minus';

/** 客户群: saved segments a page at a time, their members, phone-file uploads and set operations. */
export function Segments() {
  const { t, date } = useI18n();
  const { message } = App.useApp();
  const { query } = useLocation();
  const highlight = query.get('highlight');
  const paged = usePaged<Segment>(async (cursor) => {
    const page = await api.segments(cursor, 20);
    return { rows: page.segments, nextCursor: page.nextCursor };
  });
  const [error, setError] = useState<unknown>(null);
  const [members, setMembers] = useState<{ segment: Segment; page: Members['members']; next: string | null } | null>(null);

  const openMembers = async (segment: Segment, cursor?: string) => {
    try {
      const page = await api.members(segment.id, cursor, 20);
      setMembers((old) => ({ segment, page: cursor && old ? [...old.page, ...page.members] : page.members, next: page.nextCursor }));
    } catch (e) {
      setError(e);
    }
  };

  const act = async (work: () => Promise<unknown>, done: string) => {
    setError(null);
    try {
      await work();
      message.success(done);
      paged.reload();
    } catch (e) {
      setError(e);
    }
  };

  return (
    <>
      <Problem error={error ?? paged.error} onClose={() => setError(null)} />
      <Row gutter={16}>
        <Col xs={24} xl={12}>
          <SetOperations segments={paged.rows} />
        </Col>
        <Col xs={24} xl={12}>
          <UploadSegment onDone={paged.reload} />
        </Col>
      </Row>
      <Card size="small" title={t('nav_segments')} style={{ marginTop: 16 }}>
        <Table<Segment>
          size="small"
          rowKey="id"
          loading={paged.loading}
          pagination={false}
          dataSource={paged.rows}
          rowClassName={(s) => (s.id === highlight ? 'ant-table-row-selected' : '')}
          scroll={{ x: true }}
          columns={[
            { title: t('name'), dataIndex: 'name' },
            { title: t('kind'), dataIndex: 'kind', render: (k: string) => t(k === 'upload' ? 'kindUpload' : 'kindCondition') },
            { title: t('status'), dataIndex: 'status', render: (s: string) => <Tag color={s === 'ready' ? 'success' : s === 'failed' ? 'error' : 'processing'}>{t(`segmentStatus_${s}` as never)}</Tag> },
            { title: t('count'), dataIndex: 'count', align: 'right', render: (c: number | null) => c?.toLocaleString() ?? '—' },
            { title: t('createdBy'), dataIndex: 'createdBy' },
            { title: t('createdAt'), dataIndex: 'createdAt', render: date },
            {
              title: t('actions'),
              key: 'actions',
              render: (_, s) => (
                <Space size="small" wrap>
                  <Button size="small" onClick={() => openMembers(s)}>
                    {t('members')}
                  </Button>
                  {s.kind === 'condition' && (
                    <Button size="small" onClick={() => openInBuilder(s.condition as never)}>
                      {t('openInBuilder')}
                    </Button>
                  )}
                  <Button size="small" onClick={() => act(() => api.refreshSegment(s.id), t('refreshed'))}>
                    {t('refresh')}
                  </Button>
                  <Popconfirm title={t('confirmDelete')} onConfirm={() => act(() => api.deleteSegment(s.id), t('deleted'))}>
                    <Button size="small" danger>
                      {t('delete')}
                    </Button>
                  </Popconfirm>
                </Space>
              ),
            },
          ]}
        />
        <LoadMore paged={paged} />
      </Card>
      <Drawer open={members !== null} onClose={() => setMembers(null)} title={members?.segment.name} size="large">
        {members && (
          <>
            <Table
              size="small"
              rowKey="customer_id"
              pagination={false}
              dataSource={members.page}
              columns={['customer_id', 'msisdn', 'name', 'city', 'county', 'grid_id', 'brand'].map((c) => ({ title: t(`col_${c}` as never), dataIndex: c }))}
            />
            {members.next && (
              <div style={{ textAlign: 'center', marginTop: 12 }}>
                <Button onClick={() => openMembers(members.segment, members.next!)}>{t('loadMore')}</Button>
              </div>
            )}
          </>
        )}
      </Drawer>
    </>
  );
}

function SetOperations({ segments }: { segments: Segment[] }) {
  const { t } = useI18n();
  const [op, setOp] = useState<SetOp>('union');
  const [a, setA] = useState<string | null>(null);
  const [b, setB] = useState<string | null>(null);
  const ready = segments.filter((s) => s.status === 'ready').map((s) => ({ value: s.id, label: `${s.name}（${s.count ?? '?'}）` }));
  const open = () => {
    if (!a || !b) return;
    const left = { segment: a };
    const right = { segment: b };
    openInBuilder(op === 'union' ? { any: [left, right] } : op === 'intersect' ? { all: [left, right] } : { all: [left, { not: right }] });
  };
  return (
    <Card size="small" title={t('setOperations')}>
      <Space wrap>
        <Select aria-label={t('segmentA')} placeholder={t('segmentA')} style={{ width: 200 }} value={a} onChange={setA} options={ready} />
        <Select
          aria-label={t('setOperation')}
          style={{ width: 130 }}
          value={op}
          onChange={setOp}
          options={(['union', 'intersect', 'minus'] as const).map((o) => ({ value: o, label: t(`set_${o}`) }))}
        />
        <Select aria-label={t('segmentB')} placeholder={t('segmentB')} style={{ width: 200 }} value={b} onChange={setB} options={ready} />
        <Button type="primary" disabled={!a || !b} onClick={open}>
          {t('previewInBuilder')}
        </Button>
      </Space>
    </Card>
  );
}

function UploadSegment({ onDone }: { onDone(): void }) {
  const { t } = useI18n();
  const [name, setName] = useState('');
  const [file, setFile] = useState<File | null>(null);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [result, setResult] = useState<Segment | null>(null);

  const submit = async () => {
    if (!file) return;
    setBusy(true);
    setError(null);
    try {
      setResult(await api.uploadSegment(name.trim(), file));
      onDone();
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  };
  const report = result?.uploadReport;
  return (
    <Card size="small" title={t('uploadSegment')}>
      <Problem error={error} />
      <Space wrap>
        <Input aria-label={t('segmentName')} placeholder={t('segmentName')} value={name} onChange={(e) => setName(e.target.value)} style={{ width: 200 }} />
        <Upload beforeUpload={(f) => (setFile(f), false)} maxCount={1} onRemove={() => setFile(null)} accept=".txt,.csv">
          <Button>{t('chooseFile')}</Button>
        </Upload>
        <Button type="primary" onClick={submit} loading={busy} disabled={!file || !name.trim()}>
          {t('upload')}
        </Button>
      </Space>
      {report && result && (
        <Descriptions size="small" column={2} style={{ marginTop: 12 }} bordered>
          <Descriptions.Item label={t('count')}>{result.count}</Descriptions.Item>
          <Descriptions.Item label={t('linesRead')}>{report.linesRead}</Descriptions.Item>
          <Descriptions.Item label={t('duplicates')}>{report.duplicates}</Descriptions.Item>
          <Descriptions.Item label={t('blankLines')}>{report.blankLines}</Descriptions.Item>
          <Descriptions.Item label={t('malformed')}>
            {report.malformed.count}
            {report.malformed.first.length > 0 && ` (${report.malformed.first.slice(0, 5).map((m) => `#${m.line} ${m.value}`).join('; ')})`}
          </Descriptions.Item>
          <Descriptions.Item label={t('notInWarehouse')}>
            {report.notInWarehouse.count}
            {report.notInWarehouse.first.length > 0 && ` (${report.notInWarehouse.first.slice(0, 5).join(', ')})`}
          </Descriptions.Item>
        </Descriptions>
      )}
    </Card>
  );
}
